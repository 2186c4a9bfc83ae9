"""The CLI's own errors, and the one place that turns any error into one line and an exit code.

Exit codes: 0 success; 1 failure (AWS error, missing resource, unhealthy, run ended with failures, empty DLQ,
dry run with changes pending); 2 usage error (bad option value, unknown profile, invalid payload).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from pydantic import ValidationError

from hydration.errors import HydrationError, InvalidRequestError
from hydration.models import describe_validation_error

FAILURE = 1
USAGE = 2


class CliError(HydrationError):
    """An error the CLI reports as one line; `exit_code` says how it ends."""

    exit_code = FAILURE


class StackNotFoundError(CliError):
    def __init__(self, stack: str) -> None:
        super().__init__(f"stack {stack!r} not found in this account/region (use --stack, --region or --profile)")
        self.stack = stack


class StackOutputMissingError(CliError):
    def __init__(self, stack: str, output: str) -> None:
        super().__init__(f"stack {stack!r} has no output {output!r}: is it the s3-hydration consumer stack?")
        self.stack = stack
        self.output = output


class FunctionInvocationError(CliError):
    """The function ran and raised: its error type and message."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function} failed: {error_type}: {message}")
        self.function = function
        self.error_type = error_type


class RunNotStartedError(CliError):
    """The planner answered but started nothing (another run holds the lock)."""


class WaitTimeoutError(CliError):
    """A bounded wait ran out before the run (or move task) ended."""


class EmptyQueueError(CliError):
    """The DLQ has nothing to peek or redrive."""


class NoMatchError(CliError):
    """No message matched the selection."""


def describe(exc: BaseException) -> tuple[str, int] | None:
    """One line and an exit code for an error we know; None for anything else (a bug)."""
    match exc:
        case InvalidRequestError():
            return str(exc), USAGE
        case CliError():
            return str(exc), exc.exit_code
        case HydrationError():
            return str(exc), FAILURE
        case ProfileNotFound():
            return f"AWS profile {exc.kwargs.get('profile')!r} not found (see ~/.aws/config)", USAGE
        case NoCredentialsError() | PartialCredentialsError():
            return (
                "no AWS credentials found: use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                'AWS_SECRET_ACCESS_KEY (for LocalStack: eval "$(tools/localstack/env.sh)")',
                FAILURE,
            )
        case NoRegionError():
            return "no AWS region: use --region or set AWS_REGION / AWS_DEFAULT_REGION", FAILURE
        case ClientError():
            error = exc.response.get("Error", {})
            operation = getattr(exc, "operation_name", "AWS call")
            return f"{operation}: {error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": "), FAILURE
        case EndpointConnectionError():
            return f"cannot reach {exc.kwargs.get('endpoint_url')} (is the endpoint right and up?)", FAILURE
        case BotoCoreError():
            return f"{type(exc).__name__}: {exc}", FAILURE
        case ValidationError():
            return f"unexpected data from AWS: {describe_validation_error(exc)}", FAILURE
    return None
