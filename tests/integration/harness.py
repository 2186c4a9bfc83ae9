"""A moto world shaped like the deployed stacks, and a faithful stand-in for Lambda's SQS poller."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from hydration.models import TransferMessage

ACCOUNT = "123456789012"
REGION = "us-east-1"
MIB = 1024 * 1024


@dataclass
class FakeContext:
    """The parts of the Lambda context object that Powertools and our handlers read."""

    function_name: str = "s3-hydration-planner"
    memory_limit_in_mb: int = 1024
    remaining_ms: int | Callable[[], int] = 900_000  # a callable: the time left as it passes
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/test"
    log_stream_name: str = "test"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms() if callable(self.remaining_ms) else self.remaining_ms


@dataclass
class World:
    """Names of the resources the stacks would create, created in moto."""

    producer_bucket: str = "producer-data"
    consumer_bucket: str = "consumer-data"
    queue_url: str = ""
    dlq_url: str = ""
    planner_queue_url: str = ""
    kms_key_arn: str = ""
    runs_table: str = "s3h-runs"
    books_table: str = "s3h-books"
    uploads_table: str = "s3h-uploads"
    failures_table: str = "s3h-failures"
    manifest_table: str = "s3h-manifest"
    role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/s3-hydration-producer-access"
    max_receive_count: int = 3
    continued: list[str] = field(default_factory=list)

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION)

    def env(self) -> dict[str, str]:
        return {
            "CONSUMER_BUCKET": self.consumer_bucket,
            "CONSUMER_KMS_KEY_ID": self.kms_key_arn,
            "PRODUCER_BUCKET": self.producer_bucket,
            "PRODUCER_ROLE_ARN": self.role_arn,
            "EXTERNAL_ID": "test-external-id",
            "TRANSFER_QUEUE_URL": self.queue_url,
            "TRANSFER_DLQ_URL": self.dlq_url,
            "PLANNER_QUEUE_URL": self.planner_queue_url,
            "PLANNER_MAX_RECEIVE_COUNT": str(self.max_receive_count),
            "RUNS_TABLE": self.runs_table,
            "BOOKS_TABLE": self.books_table,
            "UPLOADS_TABLE": self.uploads_table,
            "FAILURES_TABLE": self.failures_table,
            "MANIFEST_TABLE": self.manifest_table,
            "MAX_RECEIVE_COUNT": str(self.max_receive_count),
            "MULTIPART_THRESHOLD_BYTES": str(5 * MIB),
            "PART_SIZE_BYTES": str(5 * MIB),
            "SINGLE_COPY_MAX_BYTES": str(5 * MIB),  # large objects go through multipart copies here
            "DRAIN_CONFIRM_SECONDS": "0",
            "LOOKBACK_SECONDS": "3600",
            "RETRY_BASE_SECONDS": "0",
        }

    @property
    def stores(self) -> Any:
        from hydration.aws.wiring import StateStores

        return StateStores.of(
            boto3.client("dynamodb", region_name=REGION),
            runs=self.runs_table,
            books=self.books_table,
            failures=self.failures_table,
            manifest=self.manifest_table,
        )


def create_world(world: World) -> World:
    s3 = world.s3
    s3.create_bucket(Bucket=world.producer_bucket)
    s3.create_bucket(Bucket=world.consumer_bucket)
    kms = boto3.client("kms", region_name=REGION)
    world.kms_key_arn = kms.create_key(Description="consumer key")["KeyMetadata"]["Arn"]
    sqs = world.sqs
    world.dlq_url = sqs.create_queue(QueueName="s3h-transfer-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=world.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    world.queue_url = sqs.create_queue(
        QueueName="s3h-transfer",
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": world.max_receive_count}),
        },
    )["QueueUrl"]
    world.planner_queue_url = sqs.create_queue(QueueName="s3h-planner", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    db = boto3.client("dynamodb", region_name=REGION)
    for table, keys in (
        (world.runs_table, ["run_id"]),
        (world.books_table, ["run_id", "key"]),
        (world.uploads_table, ["key"]),
        (world.failures_table, ["key"]),
        (world.manifest_table, ["key"]),
    ):
        db.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": k, "KeyType": kind} for k, kind in zip(keys, ["HASH", "RANGE"], strict=False)],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    # the tables' indexes (infra/consumer.yaml): runs by start (the CLI lists runs with it), the failure
    # ledger by key (planner workers read their ranges through it)
    _add_index(db, world.runs_table, "ByStart", ("kind", "started_at"), "KEYS_ONLY")
    _add_index(db, world.failures_table, "ByKey", ("origin", "key"), "ALL")
    return world


def _add_index(db: Any, table: str, name: str, keys: tuple[str, str], projection: str) -> None:
    """A global secondary index (hash key, range key; string attributes) on a table of the world."""
    db.update_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": name,
                    "KeySchema": [
                        {"AttributeName": keys[0], "KeyType": "HASH"},
                        {"AttributeName": keys[1], "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": projection},
                }
            }
        ],
    )


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"],
                    "SentTimestamp": m["Attributes"]["SentTimestamp"],
                    "SenderId": m["Attributes"].get("SenderId", "AIDAEXAMPLE"),
                    "ApproximateFirstReceiveTimestamp": m["Attributes"]["ApproximateFirstReceiveTimestamp"],
                },
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@dataclass
class PollResult:
    invocations: int = 0
    crashes: int = 0
    responses: list[dict[str, Any]] = field(default_factory=list)


def run_event_source_mapping(
    world: World,
    handler: Any,
    batch_size: int = 10,
    max_polls: int = 500,
    *,
    drain: bool = True,
    url: str | None = None,
    function_name: str = "s3-hydration-copier",
    remaining_ms: int | Callable[[], int] = 900_000,
) -> PollResult:
    """Poll the transfer queue like Lambda's ESM: call the copier, delete what succeeded, and make the
    reported failures visible again at once (the visibility timeout, shortened). An invocation that dies
    (`InjectedCrash`: a killed process, a timeout) deletes nothing: its whole batch comes back. The queue's
    RedrivePolicy moves a message to the DLQ when it is received more than maxReceiveCount times.
    `drain=False`: `max_polls` polls and no more, whatever is left on the queue. `remaining_ms`: the time each
    invocation has (it does not pass while it runs)."""
    from tests.moto_faults import InjectedCrash

    sqs = world.sqs
    url = url or world.queue_url
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    result = PollResult()
    for _ in range(max_polls):
        received = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=batch_size,
            AttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not received:
            return result
        result.invocations += 1
        try:
            context = FakeContext(function_name=function_name, remaining_ms=remaining_ms)
            response = handler(sqs_event(received, queue_arn), context)
        except InjectedCrash:
            result.crashes += 1
            failed = {m["MessageId"] for m in received}
        else:
            result.responses.append(response)
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for message in received:
            # The copier may have deleted some itself (done early, before a crash): SQS ignores those.
            with contextlib.suppress(sqs.exceptions.ReceiptHandleIsInvalid, sqs.exceptions.MessageNotInflight):
                if message["MessageId"] in failed:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    if not drain:
        return result
    raise AssertionError("the queue did not drain")


def queue_objects(world: World, url: str | None = None) -> list[dict[str, Any]]:
    """Every object named by the messages on a queue, with its message's run_id and bucket (the messages are
    received and made visible again)."""
    return [
        {"run_id": body["run_id"], "bucket": body["bucket"], **obj}
        for body in queue_messages(world, url)
        for obj in TransferMessage.model_validate(body).model_dump(mode="json")["objects"]
    ]


def queue_messages(world: World, url: str | None = None) -> list[dict[str, Any]]:
    """Every message body on a queue (received and made visible again)."""
    sqs = world.sqs
    url = url or world.queue_url
    bodies: list[dict[str, Any]] = []
    handles = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not got:
            break
        bodies += [json.loads(m["Body"]) for m in got]
        handles += [m["ReceiptHandle"] for m in got]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return bodies


def purge(world: World) -> None:
    world.sqs.purge_queue(QueueUrl=world.queue_url)


# --------------------------------------------------------------------------- the three functions


def invoke_planner(payload: Any, *, drain: bool = True, **context: Any) -> dict[str, Any]:
    """The coordinator's answer; with `drain`, the planner workers then work every shard message (as the
    planner queue's event source would) and the answer's planning figures are the run's once they are done."""
    from planner.handler import lambda_handler

    answer = lambda_handler(payload, FakeContext(function_name="s3-hydration-planner", **context))
    if not drain or not answer.get("run_id"):
        return answer
    run_planner_workers(world_of_env())
    run = World().stores.runs.get(answer["run_id"]).model_dump(mode="json")
    figures = ("status", "keys_listed", "keys_unchanged", "ledger_keys_enqueued", "drift", "sample_keys")
    answer |= {name: run[name] for name in figures}
    answer |= {"shards": run["shards_total"], "enqueue_failed": run["objects_failed"]}
    answer["keys_enqueued"] = run["keys_selected"] if run["dry_run"] else run["keys_enqueued"]
    answer["bytes_enqueued"] = run["bytes_selected"] if run["dry_run"] else run["bytes_enqueued"]
    return answer


def world_of_env() -> World:
    """The moto world the functions' environment names (the queues' URLs)."""
    import os

    return World(
        queue_url=os.environ["TRANSFER_QUEUE_URL"],
        dlq_url=os.environ.get("TRANSFER_DLQ_URL", ""),
        planner_queue_url=os.environ["PLANNER_QUEUE_URL"],
    )


def run_planner_workers(
    world: World, max_polls: int = 2000, *, drain: bool = True, remaining_ms: int | Callable[[], int] = 900_000
) -> PollResult:
    """The planner queue's event source: one shard message per worker invocation, until the queue is empty
    (`drain=False`: `max_polls` polls and no more)."""
    from planner.worker_handler import lambda_handler

    return run_event_source_mapping(
        world,
        lambda_handler,
        batch_size=1,
        max_polls=max_polls,
        drain=drain,
        url=world.planner_queue_url,
        function_name="s3-hydration-planner-worker",
        remaining_ms=remaining_ms,
    )


def invoke_finalizer(payload: Any | None = None) -> dict[str, Any]:
    from finalizer.handler import lambda_handler

    return lambda_handler(payload if payload is not None else {}, FakeContext(function_name="s3-hydration-finalizer"))


def run_copier(world: World, batch_size: int = 10, **polling: Any) -> PollResult:
    """The copier as the ESM calls it (`polling`: run_event_source_mapping's options)."""
    from copier.handler import lambda_handler

    return run_event_source_mapping(world, lambda_handler, batch_size=batch_size, **polling)


def hydrate(world: World, payload: Any | None = None) -> dict[str, Any]:
    """One whole run: plan, drain the queue through the copier (the copier that settles the last key closes
    the run), and let the finalizer close what the books alone cannot. Returns the run at its end, as a dict,
    with the planner's answer under "planned"."""
    planned = invoke_planner(payload if payload is not None else {})
    assert planned["started"], planned
    run_copier(world)
    for _ in range(3):
        run = world.stores.runs.get(planned["run_id"])
        if not run.status.active:
            break
        invoke_finalizer({"run_id": planned["run_id"]})
    ended = world.stores.runs.get(planned["run_id"]).model_dump(mode="json")
    assert ended["status"] not in ("PLANNING", "DRAINING"), ended
    ended["planned"] = planned
    return ended


def replace_continuation(monkeypatch: Any, continuation: Any) -> None:
    """The planner's continuations go to `continuation` (the test drives them) instead of Lambda."""
    from planner import dependencies as planner_handler

    real_deps = planner_handler.deps

    def deps(function_arn: str) -> Any:
        built = real_deps(function_arn)
        built.continuation = continuation
        return built

    deps.cache_clear = real_deps.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(planner_handler, "deps", deps)


def cold_start(monkeypatch: Any, **env: str) -> None:
    """Change function settings the way a deployment does: new environment, new containers."""
    from tests.conftest import reset_caches

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_caches()


def put_object(world: World, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
    return world.s3.put_object(Bucket=world.producer_bucket, Key=key, Body=body, **extra)


def consumer_object(world: World, key: str) -> dict[str, Any]:
    """The consumer's copy: body bytes, head fields and tags."""
    s3 = world.s3
    got = s3.get_object(Bucket=world.consumer_bucket, Key=key)
    body = got["Body"].read()
    tags = s3.get_object_tagging(Bucket=world.consumer_bucket, Key=key)["TagSet"]
    return {"body": body, "head": got, "tags": {t["Key"]: t["Value"] for t in tags}}
