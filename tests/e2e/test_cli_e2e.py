"""The `s3-hydration` CLI against the deployed stacks on LocalStack: `trigger --wait` (an asynchronous invoke,
then `runs watch`), `runs cancel`, `dlq peek`, `dlq redrive --key` and `reset-sync`, with the real Lambda
invokes and the real SQS event source mapping.

Everything is found through the consumer stack's outputs (`--stack`); the environment is the consumer
account's (tests/e2e/conftest.py). The tests work under their own key prefix, leave the DLQ as they found
it and put the sync marker back, so the pipeline tests that run after them see the state they expect.
Skipped when LocalStack is not running.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hydration import MARKER_KEY
from hydration.aws import s3 as s3_adapter
from hydration.marker import Marker
from hydration.models import ObjectRef, TransferMessage
from hydration_cli.context import AppConfig
from hydration_cli.main import cli
from tests.e2e.conftest import poll

pytestmark = pytest.mark.e2e
RUN_TIMEOUT = "5m"  # the finalizer wants two empty readings DRAIN_CONFIRM_SECONDS apart


def s3h(outputs: dict[str, Any], *args: str, input: str | None = None) -> Result:
    """The CLI as an operator runs it: real Lambda invokes, the stack named on the command line."""
    stack = outputs.get("ConsumerStackName", "s3-hydration-consumer")
    return CliRunner().invoke(cli, [*args, "--stack", stack], obj=AppConfig(), input=input)


@pytest.fixture
def prefix() -> str:
    return f"cli-e2e/{uuid.uuid4().hex[:8]}/"


@pytest.fixture
def idle(deployment: Any) -> None:
    """No run holds the lock (a trigger would start nothing)."""
    poll(lambda: deployment.runs.active_run_id() is None, timeout=300, interval=2, what="no active run")


def consumer_key(deployment: Any, key: str) -> str:
    return deployment.parameter("DestinationPrefix", "") + key


def head(deployment: Any, key: str) -> dict[str, Any] | None:
    try:
        return deployment.client("s3").head_object(Bucket=deployment.bucket, Key=consumer_key(deployment, key))  # type: ignore[no-any-return]
    except deployment.client("s3").exceptions.ClientError:
        return None


def dlq_keys(outputs: dict[str, Any]) -> list[str]:
    result = s3h(outputs, "dlq", "peek", "--max-items", "1000", "--output", "json")
    assert result.exit_code == 0, result.output  # a read: 0 whatever it found
    return [o["key"] for m in json.loads(result.stdout)["messages"] for o in m["objects"]]


@pytest.fixture
def dlq_cleanup(deployment: Any, prefix: str) -> Iterator[None]:
    """Whatever this test left in the transfer DLQ under its prefix is deleted afterwards."""
    yield
    sqs = deployment.client("sqs")
    for _ in range(20):
        got = sqs.receive_message(QueueUrl=deployment.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=5).get(
            "Messages", []
        )
        if not got:
            return
        for message in got:
            if prefix in message["Body"]:
                sqs.delete_message(QueueUrl=deployment.dlq_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=deployment.dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )


def test_trigger_wait_copies_a_prefix_and_exits_0(
    deployment: Any, producer_s3: Any, outputs: dict[str, Any], prefix: str, idle: None
) -> None:
    # Given three new objects under a fresh prefix
    keys = [f"{prefix}{name}.txt" for name in ("a", "b", "c")]
    for key in keys:
        producer_s3.put_object(Bucket=outputs["ProducerBucketName"], Key=key, Body=key.encode())
    # When a prefix run is triggered and followed to its end
    result = s3h(
        outputs,
        "trigger",
        "--yes",
        "--prefix",
        prefix,
        "--wait",
        "--timeout",
        RUN_TIMEOUT,
        "--interval",
        "2s",
        "--output",
        "json",
    )
    # Then it completed, and every object is in the consumer bucket under the consumer's key
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["payload"] == {"prefix": prefix, "new_run_id": out["run_id"]}
    assert out["run"]["status"] == "COMPLETED"
    assert out["run"]["keys_enqueued"] == 3
    assert out["progress"]["keys_settled"] == 3
    for key in keys:
        copied = head(deployment, key)
        assert copied is not None, key
        assert copied["SSEKMSKeyId"] == outputs["ConsumerKmsKeyArn"]
    # and the run is readable with `runs show`
    shown = s3h(outputs, "runs", "show", out["run"]["run_id"])
    assert shown.exit_code == 0
    assert "COMPLETED" in shown.stdout


def test_dlq_peek_and_redrive_one_key(
    deployment: Any, producer_s3: Any, outputs: dict[str, Any], prefix: str, dlq_cleanup: None
) -> None:
    # Given two transfer messages in the DLQ: one for an object that exists, one that stays
    bucket = outputs["ProducerBucketName"]
    messages = {}
    for name in ("redrive.txt", "stay.txt"):
        key = prefix + name
        put = producer_s3.put_object(Bucket=bucket, Key=key, Body=b"dead letter")
        obj = ObjectRef(key=key, size=len(b"dead letter"), etag=put["ETag"], last_modified=datetime.now(UTC))
        messages[key] = TransferMessage(run_id=f"cli-e2e-{prefix.split('/')[1]}", bucket=bucket, objects=[obj])
        deployment.client("sqs").send_message(QueueUrl=deployment.dlq_url, MessageBody=messages[key].to_body())
    redriven, stays = prefix + "redrive.txt", prefix + "stay.txt"

    # peek shows both and consumes neither
    assert {redriven, stays} <= set(dlq_keys(outputs))
    assert {redriven, stays} <= set(dlq_keys(outputs))

    # redrive --key sends that one back to the transfer queue and leaves the other in the DLQ
    result = s3h(outputs, "dlq", "redrive", "--yes", "--key", redriven)
    assert result.exit_code == 0, result.output
    assert "sent back 1 message(s)" in result.stdout
    remaining = dlq_keys(outputs)
    assert stays in remaining
    assert redriven not in remaining
    # the copier (the real event source mapping) copies the redriven key
    poll(lambda: head(deployment, redriven), timeout=180, interval=2, what=f"{redriven} in the consumer bucket")
    assert head(deployment, stays) is None


def test_reset_sync_deletes_the_marker(deployment: Any, outputs: dict[str, Any]) -> None:
    s3 = deployment.client("s3")
    original = s3_adapter.get_text(s3, deployment.bucket, MARKER_KEY)
    if original is None:  # give it something to delete
        s3_adapter.put_text(
            s3, deployment.bucket, MARKER_KEY, Marker(datetime.now(UTC)).render(), outputs["ConsumerKmsKeyArn"]
        )
    try:
        shown = s3h(outputs, "last-sync", "--output", "json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["exists"] is True

        refused = s3h(outputs, "reset-sync", input="n\n")
        assert refused.exit_code == 1
        assert s3_adapter.get_text(s3, deployment.bucket, MARKER_KEY) is not None

        result = s3h(outputs, "reset-sync", "--yes")
        assert result.exit_code == 0, result.output
        assert s3_adapter.get_text(s3, deployment.bucket, MARKER_KEY) is None
        assert "no sync marker" in s3h(outputs, "last-sync").stdout
    finally:  # the marker as it was
        if original is not None:
            s3_adapter.put_text(s3, deployment.bucket, MARKER_KEY, original, outputs["ConsumerKmsKeyArn"])
