"""A deployment as the CLI sees it: the consumer stack's outputs, and the AWS adapters built on first use.

Nothing calls AWS until a command needs it. The session honours the standard settings: --profile/AWS_PROFILE,
--region/AWS_REGION/AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL (LocalStack). Each adapter is a cached property:
a test can set one on an instance to a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from hydration.aws.books import BooksStore
from hydration.aws.events import RunEvents
from hydration.aws.ledger import FailureLedger
from hydration.aws.manifest import Manifest
from hydration.aws.runs import RunStore
from hydration.aws.shards import ShardStore
from hydration.aws.uploads import UploadStore
from hydration.aws.wiring import StateStores
from hydration_cli.aws.cloudwatch import CloudWatch
from hydration_cli.aws.functions import FunctionInvoker, LambdaInvoker
from hydration_cli.aws.logs import LogGroups
from hydration_cli.aws.producer import ProducerObjects, assumed_s3, function_environment
from hydration_cli.aws.queues import Queues
from hydration_cli.aws.run_index import RunIndex
from hydration_cli.aws.stacks import StackInfo, Stacks
from hydration_cli.aws.tables import Tables
from hydration_cli.aws.uploads import ConsumerUploads
from hydration_cli.errors import StackOutputMissingError

DEFAULT_STACK = "s3-hydration-consumer"
SERVICES = ("planner", "planner-worker", "copier", "finalizer")

InvokerFactory = Callable[["Deployment"], FunctionInvoker]


def _config(service: str) -> Config:
    if service == "lambda":
        # The planner may run for minutes; a retried RequestResponse call would invoke it twice.
        return Config(read_timeout=910, connect_timeout=5, retries={"total_max_attempts": 1})
    return Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=5, read_timeout=60)


class Deployment:
    """Names from the stack outputs, adapters over one boto3 session: all resolved lazily."""

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
    def queues(self) -> Queues:
        return Queues(self.client("sqs"))

    @cached_property
    def cloudwatch(self) -> CloudWatch:
        return CloudWatch(self.client("cloudwatch"))

    @cached_property
    def log_groups(self) -> LogGroups:
        return LogGroups(self.client("logs"))

    @cached_property
    def tables(self) -> Tables:
        return Tables(self.client("dynamodb"))

    @cached_property
    def run_index(self) -> RunIndex:
        """The newest runs, a page at a time (the runs table's ByStart index)."""
        return RunIndex(self.client("dynamodb"), self.output("RunsTableName"))

    @cached_property
    def s3(self) -> Any:
        """The S3 client, for the shared package's S3 adapter (the sync marker)."""
        return self.client("s3")

    @cached_property
    def events(self) -> RunEvents:
        """Run end events on the default bus, as the functions publish them."""
        return RunEvents(self.client("events"))

    @cached_property
    def uploads(self) -> ConsumerUploads:
        """The consumer bucket's multipart uploads and the uploads table."""
        table = UploadStore(self.client("dynamodb"), self.output("UploadsTableName"))
        return ConsumerUploads(self.client("s3"), self.bucket, table)

    @cached_property
    def producer(self) -> ProducerObjects:
        """The producer bucket through the producer role: the stack's ProducerRoleArn and ExternalId, or, as
        the stack keeps the ExternalId NoEcho (described as ****), the copier's own settings."""
        role, external_id = self.parameter("ProducerRoleArn", ""), self.parameter("ExternalId", "")
        if not role or not external_id or set(external_id) == {"*"}:
            env = function_environment(self.client("lambda"), self.function_name("copier"))
            role, external_id = env.get("PRODUCER_ROLE_ARN", role), env.get("EXTERNAL_ID", "")
        if not role:
            raise StackOutputMissingError(self.stack, "ProducerRoleArn (parameter)")
        return ProducerObjects(assumed_s3(self.session, role, external_id, _config("s3")))

    @cached_property
    def functions(self) -> FunctionInvoker:
        if self._invoker_factory is not None:
            return self._invoker_factory(self)
        return LambdaInvoker(self.client("lambda"))

    @cached_property
    def _stack(self) -> StackInfo:
        return Stacks(self.client("cloudformation")).describe(self.stack)

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
    def shards(self) -> ShardStore:
        return self.stores.shards

    @property
    def ledger(self) -> FailureLedger:
        return self.stores.ledger

    @property
    def manifest(self) -> Manifest:
        return self.stores.manifest

    # ------------------------------------------------------------------ names (docs/architecture.md)

    @property
    def outputs(self) -> dict[str, str]:
        return self._stack.outputs

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise StackOutputMissingError(self.stack, name)
        return value

    def parameter(self, name: str, default: str) -> str:
        return self._stack.parameters.get(name) or default

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
        return self._stack.parameters.get("ResourcePrefix") or self.output("DashboardName")

    @property
    def planner_queue_url(self) -> str | None:
        """The planner workers' queue (a deployment from before sharded planning has none)."""
        return self.outputs.get("PlannerQueueUrl") or None

    @property
    def services(self) -> tuple[str, ...]:
        """The functions this deployment has (one from before sharded planning has no planner workers)."""
        return tuple(service for service in SERVICES if f"{_logical(service)}FunctionName" in self.outputs)

    def function_name(self, service: str) -> str:
        """`planner`, `planner-worker`, `copier`, `finalizer` -> the deployed function's name."""
        return self.output(f"{_logical(service)}FunctionName")

    def log_group(self, service: str) -> str:
        return self.outputs.get(f"{_logical(service)}LogGroupName") or (f"/aws/lambda/{self.function_name(service)}")


def _logical(service: str) -> str:
    """`planner-worker` -> `PlannerWorker`: how the stack's outputs name a function."""
    return "".join(part.capitalize() for part in service.split("-"))
