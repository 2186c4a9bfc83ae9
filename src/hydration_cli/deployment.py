"""A deployment as the CLI sees it: the consumer stack's outputs, and boto3 clients built on first use.

Nothing calls AWS until a command needs it. The session honours the standard settings: --profile/AWS_PROFILE,
--region/AWS_REGION/AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL (LocalStack).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hydration.aws.books import BooksStore
from hydration.aws.ledger import FailureLedger
from hydration.aws.manifest import Manifest
from hydration.aws.runs import RunStore
from hydration.aws.wiring import StateStores
from hydration_cli.errors import FunctionInvocationError, StackNotFoundError, StackOutputMissingError

DEFAULT_STACK = "s3-hydration-consumer"
SERVICES = ("planner", "copier", "finalizer")


class FunctionInvoker(Protocol):
    """Runs a function synchronously and returns its JSON answer (tests replace it with the handlers)."""

    def invoke(self, function_name: str, payload: dict[str, Any]) -> Any: ...


InvokerFactory = Callable[["Deployment"], FunctionInvoker]


class LambdaInvoker:
    """`lambda invoke --invocation-type RequestResponse`; a function error becomes FunctionInvocationError."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def invoke(self, function_name: str, payload: dict[str, Any]) -> Any:
        response = self._client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode("utf-8"),
        )
        raw = response["Payload"].read()
        try:
            data = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            data = None
        if response.get("FunctionError"):
            detail = data if isinstance(data, dict) else {}
            raise FunctionInvocationError(
                function_name,
                str(detail.get("errorType", response["FunctionError"])),
                str(detail.get("errorMessage", raw[:300].decode("utf-8", "replace"))),
            )
        return data


def _config(service: str) -> Config:
    if service == "lambda":
        # The planner may run for minutes; a retried RequestResponse call would invoke it twice.
        return Config(read_timeout=910, connect_timeout=5, retries={"total_max_attempts": 1})
    return Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=5, read_timeout=60)


class Deployment:
    """Names from the stack outputs, clients from one boto3 session: all resolved lazily."""

    def __init__(
        self,
        stack: str = DEFAULT_STACK,
        region: str | None = None,
        profile: str | None = None,
        invoker_factory: InvokerFactory | None = None,
    ) -> None:
        self.stack = stack
        self.region = region
        self.profile = profile
        self._invoker_factory = invoker_factory
        self._clients: dict[str, Any] = {}

    # ------------------------------------------------------------------ AWS access

    @cached_property
    def session(self) -> boto3.Session:
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, config=_config(service))  # type: ignore[call-overload]
        return self._clients[service]

    @cached_property
    def _stack(self) -> dict[str, Any]:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack)["Stacks"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationError":  # the code for "no such stack"
                raise StackNotFoundError(self.stack) from exc
            raise
        if not stacks:
            raise StackNotFoundError(self.stack)
        return stacks[0]

    @cached_property
    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self._stack.get("Outputs", [])}

    @cached_property
    def parameters(self) -> dict[str, str]:
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in self._stack.get("Parameters", [])}

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise StackOutputMissingError(self.stack, name)
        return value

    def parameter(self, name: str, default: str) -> str:
        return self.parameters.get(name) or default

    # ------------------------------------------------------------------ names (docs/architecture.md)

    @property
    def bucket(self) -> str:
        return self.output("ConsumerBucketName")

    @property
    def transfer_queue_url(self) -> str:
        return self.output("TransferQueueUrl")

    @property
    def transfer_queue_arn(self) -> str:
        return self.output("TransferQueueArn")

    @property
    def dlq_url(self) -> str:
        return self.output("TransferDlqUrl")

    @property
    def dlq_arn(self) -> str:
        return self.output("TransferDlqArn")

    @property
    def invocation_dlq_url(self) -> str | None:
        return self.outputs.get("InvocationDlqUrl") or None

    @property
    def resource_prefix(self) -> str:
        """The stacks' ResourcePrefix (alarm names start with it); the dashboard carries the same name."""
        return self.parameters.get("ResourcePrefix") or self.output("DashboardName")

    def function_name(self, service: str) -> str:
        return self.output(f"{service.capitalize()}FunctionName")

    def log_group(self, service: str) -> str:
        return self.outputs.get(f"{service.capitalize()}LogGroupName") or (f"/aws/lambda/{self.function_name(service)}")

    # ------------------------------------------------------------------ the shared package's stores

    @cached_property
    def stores(self) -> StateStores:
        return StateStores.of(
            self.client("dynamodb"),
            runs=self.output("RunsTableName"),
            books=self.output("BooksTableName"),
            failures=self.output("FailuresTableName"),
            manifest=self.output("ManifestTableName"),
        )

    @property
    def runs(self) -> RunStore:
        return self.stores.runs

    @property
    def books(self) -> BooksStore:
        return self.stores.books

    @property
    def ledger(self) -> FailureLedger:
        return self.stores.ledger

    @property
    def manifest(self) -> Manifest:
        return self.stores.manifest

    @cached_property
    def functions(self) -> FunctionInvoker:
        if self._invoker_factory is not None:
            return self._invoker_factory(self)
        return LambdaInvoker(self.client("lambda"))
