"""The CLI's own errors, and the one place that turns any error into one line and an exit code
(hydration_cli.outcome has the whole exit-code scheme)."""

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
from hydration_cli.outcome import ExitCode


class CliError(HydrationError):
    """An error the CLI reports as one line; `exit_code` says how it ends."""

    exit_code: ExitCode = ExitCode.FAILURE


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


class RunNotActiveError(CliError):
    """Only a PLANNING or DRAINING run can be cancelled."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"run {run_id} is {status}: only a PLANNING or DRAINING run can be cancelled")
        self.run_id = run_id


class NoActiveRunError(CliError):
    """`runs watch` without a run id, and no run became active in time."""


class WaitTimeoutError(CliError):
    """A bounded wait ran out before the run (or move task) ended."""


class NoMatchError(CliError):
    """Messages named by the operator (a key, a message id) are not in the DLQ."""


class RestoreFileError(CliError):
    """The file given to `restore` is not a backup written by `backup`."""

    exit_code = ExitCode.USAGE


def describe(exc: BaseException) -> tuple[str, ExitCode] | None:
    """One line and an exit code for an error we know; None for anything else (a bug)."""
    match exc:
        case InvalidRequestError():
            return str(exc), ExitCode.USAGE
        case CliError():
            return str(exc), exc.exit_code
        case HydrationError():
            return str(exc), ExitCode.FAILURE
        case ProfileNotFound():
            return f"AWS profile {exc.kwargs.get('profile')!r} not found (see ~/.aws/config)", ExitCode.USAGE
        case NoCredentialsError() | PartialCredentialsError():
            return (
                "no AWS credentials found: use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                'AWS_SECRET_ACCESS_KEY (for LocalStack: eval "$(tools/localstack/env.sh)")',
                ExitCode.FAILURE,
            )
        case NoRegionError():
            return "no AWS region: use --region or set AWS_REGION / AWS_DEFAULT_REGION", ExitCode.FAILURE
        case ClientError():
            error = exc.response.get("Error", {})
            operation = getattr(exc, "operation_name", "AWS call")
            return f"{operation}: {error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(
                ": "
            ), ExitCode.FAILURE
        case EndpointConnectionError():
            return f"cannot reach {exc.kwargs.get('endpoint_url')} (is the endpoint right and up?)", ExitCode.FAILURE
        case BotoCoreError():
            return f"{type(exc).__name__}: {exc}", ExitCode.FAILURE
        case ValidationError():
            return f"unexpected data from AWS: {describe_validation_error(exc)}", ExitCode.FAILURE
    return None
