"""A moto deployment shaped like the consumer stack, found by the CLI through a CloudFormation stack's
outputs, and a function invoker that runs the real handlers in-process (moto's Lambda needs Docker)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from hydration.aws.ledger import FailureLedger
from hydration.models import FailureRecord
from hydration_cli.context import AppConfig
from hydration_cli.deployment import Deployment
from hydration_cli.main import cli
from tests import moto_patches
from tests.integration.harness import (
    REGION,
    FakeContext,
    World,
    create_world,
    replace_continuation,
    run_copier,
    run_event_source_mapping,
    run_planner_workers,
)

# moto as AWS behaves where the CLI relies on it (uploads' initiation times, ...), as the moto tier has it.
moto_patches.apply()

STACK = "s3-hydration-consumer"
PREFIX = "s3-hydration"
FUNCTIONS = {"planner": f"{PREFIX}-planner", "copier": f"{PREFIX}-copier", "finalizer": f"{PREFIX}-finalizer"}


@dataclass
class Deployed:
    """The moto world plus what the consumer stack adds, and what the CLI called."""

    world: World
    invocation_dlq_url: str
    queue_arn: str
    dlq_arn: str
    invoked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    drain_on_finalize: bool = True
    # messages the copier takes per finalizer call (None: it drains the queue), so a run progresses poll by poll
    copier_messages_per_nudge: int | None = None
    defer_async: bool = False  # asynchronous invokes wait in `pending` until run_pending() (Lambda's delay)
    pending: list[tuple[str, Any]] = field(default_factory=list)

    def run_pending(self) -> None:
        """Lambda gets round to the asynchronous invokes."""
        invoker = InProcessInvoker(self)
        while self.pending:
            invoker.invoke(*self.pending.pop(0))

    @property
    def outputs(self) -> dict[str, str]:
        w = self.world
        return {
            "ConsumerBucketName": w.consumer_bucket,
            "ConsumerKmsKeyArn": w.kms_key_arn,
            "TransferQueueUrl": w.queue_url,
            "TransferQueueArn": self.queue_arn,
            "TransferDlqUrl": w.dlq_url,
            "TransferDlqArn": self.dlq_arn,
            "InvocationDlqUrl": self.invocation_dlq_url,
            "PlannerFunctionName": FUNCTIONS["planner"],
            "CopierFunctionName": FUNCTIONS["copier"],
            "FinalizerFunctionName": FUNCTIONS["finalizer"],
            "RunsTableName": w.runs_table,
            "BooksTableName": w.books_table,
            "FailuresTableName": w.failures_table,
            "ManifestTableName": w.manifest_table,
            "AlarmTopicArn": f"arn:aws:sns:{REGION}:123456789012:{PREFIX}-alarms",
            "DashboardName": PREFIX,
            "PlannerLogGroupName": f"/aws/lambda/{FUNCTIONS['planner']}",
            "CopierLogGroupName": f"/aws/lambda/{FUNCTIONS['copier']}",
            "FinalizerLogGroupName": f"/aws/lambda/{FUNCTIONS['finalizer']}",
        }


class InProcessInvoker:
    """Lambda, in-process: the real planner and finalizer handlers. Before each finalizer call the copier
    drains the transfer queue (as the event source mapping would meanwhile). An asynchronous invoke runs
    the handler at once, as Lambda would soon after."""

    def __init__(self, deployed: Deployed) -> None:
        self._deployed = deployed

    def invoke_async(self, function_name: str, payload: Any) -> None:
        if self._deployed.defer_async:
            self._deployed.pending.append((function_name, payload))
        else:
            self.invoke(function_name, payload)

    def invoke(self, function_name: str, payload: Any) -> Any:
        from finalizer.handler import lambda_handler as finalizer_handler
        from planner.handler import lambda_handler as planner_handler

        self._deployed.invoked.append((function_name, payload))
        # JSON round trips, as Lambda does; the handlers' EMF/log output must not reach the CLI's stdout.
        payload = json.loads(json.dumps(payload))
        with contextlib.redirect_stdout(io.StringIO()):
            if function_name == FUNCTIONS["planner"]:
                answer = planner_handler(payload, FakeContext(function_name=function_name))
                run_planner_workers(self._deployed.world)  # the planner queue's event source, meanwhile
            elif function_name == FUNCTIONS["finalizer"]:
                if self._deployed.copier_messages_per_nudge is not None:
                    copy_some(self._deployed.world, self._deployed.copier_messages_per_nudge)
                elif self._deployed.drain_on_finalize:
                    run_copier(self._deployed.world)
                answer = finalizer_handler(payload, FakeContext(function_name=function_name))
            else:
                raise AssertionError(f"unexpected function {function_name}")
        return json.loads(json.dumps(answer))


def copy_some(world: World, messages: int) -> None:
    """The copier takes up to `messages` messages once (one poll of the event source mapping)."""
    from copier.handler import lambda_handler

    run_event_source_mapping(world, lambda_handler, batch_size=messages, max_polls=1, drain=False)


# The consumer stack's parameters the CLI reads, at the template's defaults.
PARAMETERS = {
    "ResourcePrefix": PREFIX,
    "DlqAlarmThreshold": "0",
    "BacklogAgeThresholdSeconds": "3600",
    "CopyMode": "server-side",
    "KeysPerMessage": "10",
    "BatchSize": "10",
    "MaximumConcurrency": "10",
    "CopyConcurrency": "32",
    "MultipartThresholdBytes": "67108864",
    "PartSizeBytes": "16777216",
    "CopierTimeout": "300",
    "PlannerMemorySize": "512",
    "PlannerConcurrency": "32",
    "PlannerWorkerMemorySize": "1769",
    "CopierMemorySize": "1024",
    "FinalizerMemorySize": "256",
    "StalePlanningSeconds": "1800",
}
# parameters without a default in the template: the producer role `failures restore` assumes
ACCESS = {"ProducerRoleArn": World.role_arn, "ExternalId": "test-external-id"}


def _stack_template(outputs: dict[str, str]) -> str:
    return json.dumps(
        {
            "Parameters": {
                name: {"Type": "String", "Default": value} for name, value in {**PARAMETERS, **ACCESS}.items()
            },
            "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{PREFIX}-alarms"}}},
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
    )


def set_stack_parameters(deployed: Deployed, **values: str) -> None:
    """A stack update with these parameter values (the others as they are)."""
    boto3.client("cloudformation", region_name=REGION).update_stack(
        StackName=STACK,
        TemplateBody=_stack_template(deployed.outputs),
        Parameters=[{"ParameterKey": k, "ParameterValue": values.get(k, v)} for k, v in PARAMETERS.items()],
    )


def _arn(url: str) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


class _NoContinuation:
    def continue_run(self, run_id: str) -> None:
        raise AssertionError(f"the planner checkpointed run {run_id}; the CLI tests expect one invocation")


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    with mock_aws():
        world = create_world(World())
        for name, value in world.env().items():
            monkeypatch.setenv(name, value)
        sqs = boto3.client("sqs", region_name=REGION)
        deployed = Deployed(
            world=world,
            invocation_dlq_url=sqs.create_queue(QueueName=f"{PREFIX}-dlq")["QueueUrl"],
            queue_arn=_arn(world.queue_url),
            dlq_arn=_arn(world.dlq_url),
        )
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=_stack_template(deployed.outputs)
        )
        replace_continuation(monkeypatch, _NoContinuation())
        yield deployed


@pytest.fixture
def run_cli(deployed: Deployed) -> Any:
    """`run_cli("status", "--output", "json")`: the CLI on the moto deployment; polls do not sleep (or
    call `sleep`, e.g. to add log lines between two polls)."""

    def run(*args: str, input: str | None = None, clock: Any = None, sleep: Any = None) -> Result:
        config = AppConfig(invoker_factory=lambda _d: InProcessInvoker(deployed), sleep=sleep or (lambda _s: None))
        if clock is not None:
            config.clock = clock
        return CliRunner().invoke(cli, list(args), obj=config, input=input)

    return run


def deployment() -> Deployment:
    return Deployment(STACK)


def now() -> datetime:
    return datetime.now(UTC)


def put_objects(world: World, *keys: str, body: bytes = b"data") -> None:
    for key in keys:
        world.s3.put_object(Bucket=world.producer_bucket, Key=key, Body=body)


LISTED = datetime(2024, 5, 1, tzinfo=UTC)


def record_failure(deployed: Deployed, key: str, *, failed_at: datetime = LISTED, message: str = "") -> None:
    """A failure ledger entry for `key`, as the copier writes it on a final failed attempt."""
    FailureLedger(boto3.client("dynamodb", region_name=REGION), deployed.world.failures_table).record(
        FailureRecord(
            key=key,
            bucket=deployed.world.producer_bucket,
            run_id="r-1",
            etag='"e"',
            size=4,
            last_modified=LISTED,
            error_code="AccessDenied",
            error_message=message or f"Access Denied on {key}",
            attempts=5,
            failed_at=failed_at,
        )
    )


def json_out(result: Result) -> Any:
    return json.loads(result.stdout)


def text_records(result: Result) -> list[list[str]]:
    """`--output text`: one tab-separated record per line."""
    return [line.split("\t") for line in result.stdout.splitlines()]
