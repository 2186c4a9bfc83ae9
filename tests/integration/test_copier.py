"""The copier's rules, each read back from the buckets, the queues and the tables."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hydration import MARKER_KEY
from hydration.aws.state import FailureLedger, Manifest, RunStore
from hydration.marker import parse
from tests.integration.harness import (
    FakeContext,
    World,
    cold_start,
    consumer_object,
    hydrate,
    invoke_planner,
    put_object,
    queue_messages,
    run_copier,
    sqs_event,
)


def _receive_all(world: World) -> list[dict[str, Any]]:
    got = world.sqs.receive_message(
        QueueUrl=world.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=60
    )
    return got.get("Messages", [])


def _queue_arn(world: World) -> str:
    attrs = world.sqs.get_queue_attributes(QueueUrl=world.queue_url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


def _copier(event: dict[str, Any]) -> dict[str, Any]:
    from copier.handler import lambda_handler

    return lambda_handler(event, FakeContext(function_name="s3-hydration-copier"))


def _ledger() -> FailureLedger:
    return FailureLedger(boto3.client("dynamodb"), "s3h-failures")


def test_batch_item_failures_name_exactly_the_failed_records(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, FAULT_KEYS="bad/one.txt")
    for key in ("good/1.txt", "good/2.txt", "bad/one.txt", "good/3.txt"):
        put_object(world, key, key.encode())
    invoke_planner({})
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody='{"key": "no bucket, no size"}')
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody="not json at all")
    messages = _receive_all(world)
    assert len(messages) == 6
    expected_failures = sorted(
        m["MessageId"]
        for m in messages
        if "bad/one.txt" in m["Body"] or "no bucket" in m["Body"] or "not json" in m["Body"]
    )

    response = _copier(sqs_event(messages, _queue_arn(world)))

    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == expected_failures
    for key in ("good/1.txt", "good/2.txt", "good/3.txt"):
        assert consumer_object(world, key)["body"] == key.encode()
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key="bad/one.txt")


def test_a_batch_where_every_record_fails_is_reported_record_by_record(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_start(monkeypatch, FAULT_KEYS="x,y")
    put_object(world, "x", b"x")
    put_object(world, "y", b"y")
    invoke_planner({})
    messages = _receive_all(world)
    response = _copier(sqs_event(messages, _queue_arn(world)))
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        m["MessageId"] for m in messages
    )


def test_a_malformed_event_is_rejected_with_a_clear_error(world: World) -> None:
    from hydration.errors import HydrationError

    with pytest.raises(HydrationError, match="SQS event with a Records list"):
        _copier({"Records": "nope"})


def test_poison_key_goes_to_the_ledger_and_dlq_alone_and_lands_after_the_fault_is_fixed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_start(monkeypatch, FAULT_KEYS="poison.txt")
    for key in ("a.txt", "poison.txt", "b.txt"):
        put_object(world, key, key.encode())
    first = hydrate(world)

    # Retried maxReceiveCount times, then alone in the DLQ; the other keys landed.
    dlq = queue_messages(world, world.dlq_url)
    assert [m["key"] for m in dlq] == ["poison.txt"]
    assert consumer_object(world, "a.txt")["body"] == b"a.txt"
    assert consumer_object(world, "b.txt")["body"] == b"b.txt"
    failure = _ledger().get("poison.txt")
    assert failure is not None
    assert failure.error_code == "InjectedFault"
    assert failure.attempts == world.max_receive_count
    assert first["status"] == "COMPLETED_WITH_FAILURES"
    assert first["failed_count"] == 1
    run = RunStore(boto3.client("dynamodb"), world.runs_table).get(first["run_id"])
    assert run.objects_failed == 1
    # The marker does not move past the key that did not land.
    body = world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode()
    poison_modified = world.s3.head_object(Bucket=world.producer_bucket, Key="poison.txt")["LastModified"]
    assert parse(body).synced_to <= poison_modified

    # Fault removed: the next run re-enqueues the ledger, the key lands, the ledger is cleared.
    cold_start(monkeypatch, FAULT_KEYS="", LOOKBACK_SECONDS="0")
    second = hydrate(world)
    assert second["planned"]["ledger_keys_enqueued"] == 1
    assert consumer_object(world, "poison.txt")["body"] == b"poison.txt"
    assert _ledger().count() == 0
    assert second["status"] == "COMPLETED"


def test_vanished_source_is_counted_not_retried(world: World) -> None:
    put_object(world, "gone.txt", b"soon gone")
    put_object(world, "stays.txt", b"here")
    planned = invoke_planner({})
    world.s3.delete_object(Bucket=world.producer_bucket, Key="gone.txt")

    polled = run_copier(world)

    assert polled.responses == [{"batchItemFailures": []}]
    assert queue_messages(world, world.dlq_url) == []
    run = RunStore(boto3.client("dynamodb"), world.runs_table).get(planned["run_id"])
    assert run.objects_vanished == 1
    assert run.objects_transferred == 1
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key="gone.txt")


@pytest.mark.parametrize("mode", ["server-side", "stream"])
def test_changed_source_is_copied_in_its_current_version(
    world: World, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    cold_start(monkeypatch, COPY_MODE=mode)
    put_object(world, "moving.txt", b"version one")
    invoke_planner({})
    (listed,) = queue_messages(world)
    current = put_object(world, "moving.txt", b"version two, longer")

    polled = run_copier(world)

    assert polled.responses == [{"batchItemFailures": []}]
    assert consumer_object(world, "moving.txt")["body"] == b"version two, longer"
    entry = Manifest(boto3.client("dynamodb"), world.manifest_table).get_many(["moving.txt"])["moving.txt"]
    assert entry.etag == current["ETag"] != listed["etag"]
    assert entry.size == len(b"version two, longer")


def test_ledger_is_written_only_on_the_final_attempt(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, FAULT_KEYS="f.txt")
    put_object(world, "f.txt", b"f")
    invoke_planner({})
    arn = _queue_arn(world)
    for attempt in range(1, world.max_receive_count + 1):
        (message,) = _receive_all(world)
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        response = _copier(sqs_event([message], arn))
        assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
        assert (_ledger().get("f.txt") is not None) is (attempt == world.max_receive_count)
        world.sqs.change_message_visibility(
            QueueUrl=world.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert _receive_all(world) == []  # moved to the DLQ by the RedrivePolicy
    assert [json.loads(json.dumps(m))["key"] for m in queue_messages(world, world.dlq_url)] == ["f.txt"]


def test_stream_mode_writes_with_the_functions_own_role(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """In stream mode the consumer's own client writes; the copy still carries the consumer key and a
    CRC32C checksum that S3 verified on the way in."""
    cold_start(monkeypatch, COPY_MODE="stream")
    put_object(world, "s.txt", b"streamed bytes")
    hydrate(world)
    head = world.s3.head_object(Bucket=world.consumer_bucket, Key="s.txt", ChecksumMode="ENABLED")
    assert head["SSEKMSKeyId"] == world.kms_key_arn
    assert head.get("ChecksumCRC32C")


@pytest.mark.parametrize(("base", "visible_again"), [("0", True), ("600", False)])
def test_a_failed_record_comes_back_after_its_backoff_not_the_visibility_timeout(
    world: World, monkeypatch: pytest.MonkeyPatch, base: str, visible_again: bool
) -> None:
    cold_start(monkeypatch, FAULT_KEYS="f.txt", RETRY_BASE_SECONDS=base)
    put_object(world, "f.txt", b"f")
    invoke_planner({})
    (message,) = _receive_all(world)  # received with a 60 s visibility timeout
    _copier(sqs_event([message], _queue_arn(world)))
    again = _receive_all(world)
    assert bool(again) is visible_again
    if again:
        assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
