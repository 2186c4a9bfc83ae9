"""The copier's rules, each read back from the buckets, the queues and the tables (moto; faults injected
from the test side through botocore hooks, tests/moto_faults.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hydration import MARKER_KEY
from hydration.marker import parse
from hydration.models import ObjectRef, TransferMessage
from tests.integration.harness import (
    FakeContext,
    World,
    cold_start,
    consumer_object,
    hydrate,
    invoke_planner,
    put_object,
    queue_objects,
    run_copier,
    sqs_event,
)
from tests.moto_faults import Faults


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


def _message(world: World, run_id: str, *keys: str) -> str:
    """A transfer message for these producer keys, as listed now."""
    listed = {o["Key"]: o for o in world.s3.list_objects_v2(Bucket=world.producer_bucket)["Contents"]}
    objects = [
        ObjectRef(key=k, size=listed[k]["Size"], etag=listed[k]["ETag"], last_modified=listed[k]["LastModified"])
        for k in keys
    ]
    return TransferMessage(run_id=run_id, bucket=world.producer_bucket, objects=objects).to_body()


def test_batch_item_failures_name_exactly_the_one_key_messages_that_failed(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    """One key per message (KEYS_PER_MESSAGE=1): a failed copy and a malformed body are reported, nothing else."""
    cold_start(monkeypatch, KEYS_PER_MESSAGE="1")
    faults.add("s3.CopyObject", "^bad/one.txt$", code="AccessDenied", status=403)
    for key in ("good/1.txt", "good/2.txt", "bad/one.txt", "good/3.txt"):
        put_object(world, key, key.encode())
    invoke_planner({})
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody='{"key": "no bucket, no size"}')
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody="not json at all")
    messages = _receive_all(world)
    assert len(messages) == 6
    expected = sorted(
        m["MessageId"]
        for m in messages
        if "bad/one.txt" in m["Body"] or "no bucket" in m["Body"] or "not json" in m["Body"]
    )

    response = _copier(sqs_event(messages, _queue_arn(world)))

    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == expected
    for key in ("good/1.txt", "good/2.txt", "good/3.txt"):
        assert consumer_object(world, key)["body"] == key.encode()
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key="bad/one.txt")


def test_a_failed_key_of_a_multi_key_message_is_re_enqueued_alone_and_the_message_succeeds(
    world: World, faults: Faults
) -> None:
    faults.add("s3.CopyObject", "^b.txt$", code="SlowDown", status=503, times=1)
    for key in ("a.txt", "b.txt", "c.txt"):
        put_object(world, key, key.encode())
    planned = invoke_planner({})
    (message,) = _receive_all(world)
    assert json.loads(message["Body"])["objects"][1]["key"] == "b.txt"  # one message, three keys

    response = _copier(sqs_event([message], _queue_arn(world)))

    assert response == {"batchItemFailures": []}
    (again,) = queue_objects(world)
    assert (again["key"], again["attempts"], again["run_id"]) == ("b.txt", 1, planned["run_id"])
    run = world.stores.runs.get(planned["run_id"])
    assert (run.keys_enqueued, run.objects_transferred, run.status.value) == (3, 2, "DRAINING")

    polled = run_copier(world)  # the re-enqueued key lands; its copier closes the run

    assert polled.responses == [{"batchItemFailures": []}]
    assert consumer_object(world, "b.txt")["body"] == b"b.txt"
    run = world.stores.runs.get(planned["run_id"])
    assert (run.objects_transferred, run.status.value) == (3, "COMPLETED")


def test_a_malformed_event_is_rejected_with_a_clear_error(world: World) -> None:
    from hydration.errors import HydrationError

    with pytest.raises(HydrationError, match="SQS event with a Records list"):
        _copier({"Records": "nope"})


def test_a_key_that_keeps_failing_ends_alone_in_the_dlq_and_the_ledger_and_lands_after_redrive(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    rule = faults.add("s3.CopyObject", "^poison.txt$", code="KMS.DisabledException", status=400)
    for key in ("a.txt", "poison.txt", "b.txt"):
        put_object(world, key, key.encode())

    first = hydrate(world)

    dlq = queue_objects(world, world.dlq_url)
    assert [m["key"] for m in dlq] == ["poison.txt"]
    assert consumer_object(world, "a.txt")["body"] == b"a.txt"
    failure = world.stores.ledger.get("poison.txt")
    assert failure is not None
    assert failure.error_code == "KMS.DisabledException"
    assert failure.attempts == 1 + world.max_receive_count  # once in the three-key message, then alone
    assert (first["status"], first["failed_count"], first["objects_failed"]) == ("COMPLETED_WITH_FAILURES", 1, 1)
    marker = parse(world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode())
    poison_modified = world.s3.head_object(Bucket=world.producer_bucket, Key="poison.txt")["LastModified"]
    assert marker.synced_to <= poison_modified  # the marker did not move past the key that did not land

    # Fixed: the next run re-enqueues the ledger; the key lands and leaves the ledger.
    faults.clear()
    assert rule.hits == 1 + world.max_receive_count
    cold_start(monkeypatch, LOOKBACK_SECONDS="900")
    second = hydrate(world)
    assert second["planned"]["ledger_keys_enqueued"] == 1
    assert consumer_object(world, "poison.txt")["body"] == b"poison.txt"
    assert world.stores.ledger.get("poison.txt") is None
    assert second["status"] == "COMPLETED"


def test_vanished_source_settles_as_vanished_and_is_not_retried(world: World) -> None:
    put_object(world, "gone.txt", b"soon gone")
    put_object(world, "stays.txt", b"here")
    planned = invoke_planner({})
    world.s3.delete_object(Bucket=world.producer_bucket, Key="gone.txt")

    polled = run_copier(world)

    assert polled.responses == [{"batchItemFailures": []}]
    assert queue_objects(world, world.dlq_url) == []
    run = world.stores.runs.get(planned["run_id"])
    assert (run.objects_vanished, run.objects_transferred, run.status.value) == (1, 1, "COMPLETED")
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key="gone.txt")


@pytest.mark.parametrize("mode", ["server-side", "stream"])
def test_changed_source_is_copied_in_its_current_version(
    world: World, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    cold_start(monkeypatch, COPY_MODE=mode)
    put_object(world, "moving.txt", b"version one")
    invoke_planner({})
    (listed,) = queue_objects(world)
    current = put_object(world, "moving.txt", b"version two, longer")

    polled = run_copier(world)

    assert polled.responses == [{"batchItemFailures": []}]
    assert consumer_object(world, "moving.txt")["body"] == b"version two, longer"
    entry = world.stores.manifest.get_many(["moving.txt"])["moving.txt"]
    assert entry.etag == current["ETag"] != listed["etag"]
    assert entry.size == len(b"version two, longer")


def test_the_ledger_is_written_only_on_the_final_attempt_of_a_one_key_message(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    cold_start(monkeypatch, KEYS_PER_MESSAGE="1")
    faults.add("s3.CopyObject", "^f.txt$", code="InternalError", status=500)
    put_object(world, "f.txt", b"f")
    planned = invoke_planner({})
    arn = _queue_arn(world)
    for attempt in range(1, world.max_receive_count + 1):
        (message,) = _receive_all(world)
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        response = _copier(sqs_event([message], arn))
        assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
        final = attempt == world.max_receive_count
        assert (world.stores.ledger.get("f.txt") is not None) is final
        assert world.stores.runs.get(planned["run_id"]).objects_failed == int(final)
        world.sqs.change_message_visibility(
            QueueUrl=world.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert _receive_all(world) == []  # moved to the DLQ by the RedrivePolicy
    assert [m["key"] for m in queue_objects(world, world.dlq_url)] == ["f.txt"]


def test_stream_mode_writes_with_the_functions_own_role(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, COPY_MODE="stream")
    put_object(world, "s.txt", b"streamed bytes")
    hydrate(world)
    head = world.s3.head_object(Bucket=world.consumer_bucket, Key="s.txt", ChecksumMode="ENABLED")
    assert head["SSEKMSKeyId"] == world.kms_key_arn


@pytest.mark.parametrize(("base", "visible_again"), [("0", True), ("600", False)])
def test_a_failed_one_key_message_comes_back_after_its_backoff_not_the_visibility_timeout(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults, base: str, visible_again: bool
) -> None:
    cold_start(monkeypatch, RETRY_BASE_SECONDS=base, KEYS_PER_MESSAGE="1")
    faults.add("s3.CopyObject", "^f.txt$")
    put_object(world, "f.txt", b"f")
    invoke_planner({})
    (message,) = _receive_all(world)  # received with a 60 s visibility timeout
    _copier(sqs_event([message], _queue_arn(world)))
    again = _receive_all(world)
    assert bool(again) is visible_again
    if again:
        assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_multi_key_message_delivered_again_is_split_into_one_key_messages(world: World, faults: Faults) -> None:
    """The first attempt died mid-batch (a crash, a timeout): the next delivery goes on one key per message,
    so a key that brings the copier down ends up alone in the DLQ."""
    for key in ("a.txt", "b.txt", "c.txt"):
        put_object(world, key, key.encode())
    planned = invoke_planner({})
    faults.add("s3.CopyObject", "^b.txt$", action="crash", times=1)

    polled = run_copier(world)

    assert polled.crashes == 1
    assert polled.invocations == 1 + 1 + 1  # the crash, the split, the three one-key messages
    for key in ("a.txt", "b.txt", "c.txt"):
        assert consumer_object(world, key)["body"] == key.encode()
    run = world.stores.runs.get(planned["run_id"])
    assert (run.keys_enqueued, run.objects_transferred, run.status.value) == (3, 3, "COMPLETED")


def test_a_key_settled_twice_is_counted_once(world: World) -> None:
    """A duplicate delivery of a whole batch: copies are idempotent, and the books count each key once."""
    put_object(world, "dup.txt", b"once")
    planned = invoke_planner({})
    (message,) = _receive_all(world)
    event = sqs_event([message], _queue_arn(world))
    assert _copier(event) == {"batchItemFailures": []}
    assert _copier(event) == {"batchItemFailures": []}  # the same batch again
    run = world.stores.runs.get(planned["run_id"])
    assert (run.keys_enqueued, run.keys_settled, run.objects_transferred) == (1, 1, 1)
    assert run.status.value == "COMPLETED"
    assert consumer_object(world, "dup.txt")["body"] == b"once"


def test_a_success_clears_only_the_ledger_entry_it_read(world: World, faults: Faults) -> None:
    """A ledger entry written while a copy of the key is under way (a newer failure) survives that copy's
    success: the clear is conditional on the entry the batch read."""
    put_object(world, "k.txt", b"v1")
    first = _failure(world, "k.txt", "run-1", "first failure")
    world.stores.ledger.record(first)
    second = first.model_copy(update={"run_id": "run-2", "error_message": "a newer failure", "failed_at": _now()})
    faults.add("s3.CopyObject", "^k.txt$", action="call", before=lambda: world.stores.ledger.record(second))
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=_message(world, "run-3", "k.txt"))

    run_copier(world)

    assert consumer_object(world, "k.txt")["body"] == b"v1"
    kept = world.stores.ledger.get("k.txt")
    assert kept is not None
    assert (kept.run_id, kept.error_message) == ("run-2", "a newer failure")


def test_a_success_clears_the_ledger_entry_of_its_version(world: World) -> None:
    put_object(world, "k.txt", b"v1")
    world.stores.ledger.record(_failure(world, "k.txt", "run-1", "failed before"))
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=_message(world, "run-2", "k.txt"))

    run_copier(world)

    assert world.stores.ledger.get("k.txt") is None


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _failure(world: World, key: str, run_id: str, error: str) -> Any:
    from hydration.models import FailureRecord

    obj = json.loads(_message(world, run_id, key))["objects"][0]
    return FailureRecord(
        bucket=world.producer_bucket,
        run_id=run_id,
        error_code="AccessDenied",
        error_message=error,
        attempts=5,
        failed_at=_now(),
        **{k: obj[k] for k in ("key", "size", "etag", "last_modified")},
    )


def test_a_key_that_kills_the_copier_takes_no_neighbour_down_with_it(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    """After a crash the batch comes back; its messages are suspects, copied one at a time and deleted as
    soon as each is done: only the key that kills the copier uses up its receives and reaches the DLQ."""
    from tests.integration.harness import invoke_finalizer

    cold_start(monkeypatch, KEYS_PER_MESSAGE="1")
    keys = ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]
    for key in keys:
        put_object(world, key, key.encode())
    planned = invoke_planner({})
    faults.add("s3.CopyObject", "^c.txt$", action="crash")

    polled = run_copier(world)

    assert polled.crashes == world.max_receive_count
    assert [o["key"] for o in queue_objects(world, world.dlq_url)] == ["c.txt"]
    for key in set(keys) - {"c.txt"}:
        assert consumer_object(world, key)["body"] == key.encode()
    answer = invoke_finalizer({"run_id": planned["run_id"]})  # the queue is empty: the books are settled
    assert (answer["status"], answer["unsettled_swept"]) == ("COMPLETED_WITH_FAILURES", 1)
    failure = world.stores.ledger.get("c.txt")
    assert failure is not None
    assert failure.error_code == "Unsettled"


def test_a_large_object_is_fanned_out_as_parts_messages_and_settled_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the fan-out threshold the first copier creates the upload and hands its parts out, a few per
    message; any copier takes them; the one that records the last part completes, verifies and settles."""
    from tests.integration.harness import MIB

    cold_start(monkeypatch, FANOUT_THRESHOLD_BYTES=str(10 * MIB), PARTS_PER_MESSAGE="2")
    body = bytes(range(256)) * (23 * MIB // 256)  # 5 parts of 5 MiB
    put_object(world, "huge.bin", body, ContentType="application/x-huge", Metadata={"size": "huge"}, Tagging="t=1")
    planned = invoke_planner({})

    polled = run_copier(world, batch_size=1)  # one message per invocation: the parts go through many copiers

    assert polled.invocations == 1 + 3  # the object, then 3 parts messages (2 + 2 + 1 parts)
    got = consumer_object(world, "huge.bin")
    assert got["body"] == body
    assert (got["head"]["ContentType"], got["head"]["Metadata"], got["tags"]) == (
        "application/x-huge",
        {"size": "huge"},
        {"t": "1"},
    )
    assert got["head"]["SSEKMSKeyId"] == world.kms_key_arn
    run = world.stores.runs.get(planned["run_id"])
    assert (run.keys_enqueued, run.objects_transferred, run.bytes_transferred, run.status.value) == (
        1,
        1,
        len(body),
        "COMPLETED",
    )
    assert world.s3.list_multipart_uploads(Bucket=world.consumer_bucket).get("Uploads", []) == []


def test_a_key_started_too_late_is_handed_on_not_failed(world: World) -> None:
    """With less of the invocation left than the deadline margin, no copy starts: the keys are re-enqueued,
    nothing fails, and the next invocation copies them."""
    from copier.handler import lambda_handler

    for key in ("a.txt", "b.txt"):
        put_object(world, key, key.encode())
    planned = invoke_planner({})
    (message,) = _receive_all(world)
    late = FakeContext(function_name="s3-hydration-copier", remaining_ms=5_000)  # under the 15 s margin

    assert lambda_handler(sqs_event([message], _queue_arn(world)), late) == {"batchItemFailures": []}

    assert sorted(o["key"] for o in queue_objects(world)) == ["a.txt", "b.txt"]
    run_copier(world)
    run = world.stores.runs.get(planned["run_id"])
    assert (run.objects_transferred, run.status.value) == (2, "COMPLETED")


def test_a_large_copys_cost_counts_every_invocation_it_took(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fanned-out copy makes S3 requests in every invocation that copies some of its parts, not only in the
    one that completes it: the run's books count them all (what `runs report` prices)."""
    import threading

    from botocore import handlers

    from hydration import MARKER_KEY
    from tests.integration.harness import MIB

    cold_start(monkeypatch, FANOUT_THRESHOLD_BYTES=str(10 * MIB), PARTS_PER_MESSAGE="2")
    put_object(world, "huge.bin", b"h" * (23 * MIB))
    planned = invoke_planner({})
    made = []
    lock = threading.Lock()

    def count(params: dict[str, object], model: object, **_: object) -> None:
        if params.get("Key") != MARKER_KEY:  # the run's close writes the marker: not a copy's request
            with lock:
                made.append(getattr(model, "name", "?"))

    handlers.BUILTIN_HANDLERS.append(("before-parameter-build.s3", count))
    cold_start(monkeypatch, FANOUT_THRESHOLD_BYTES=str(10 * MIB), PARTS_PER_MESSAGE="2")  # clients with the hook
    try:
        polled = run_copier(world, batch_size=1)
    finally:
        handlers.BUILTIN_HANDLERS.remove(("before-parameter-build.s3", count))

    run = world.stores.runs.get(planned["run_id"])
    assert (polled.invocations, run.status.value, run.objects_transferred) == (4, "COMPLETED", 1)
    assert made.count("UploadPartCopy") == 5
    assert run.s3_requests == len(made), " ".join(made)
    assert run.copy_ms > 0


def test_the_queue_adapter_holds_received_messages_and_names_the_ones_sqs_refuses(world: World) -> None:
    """TransferQueue.hold (the visibility heartbeat's call): ChangeMessageVisibilityBatch, 10 entries a call; a
    message deleted meanwhile is refused, not an error."""
    from hydration.aws.queue import TransferQueue

    for i in range(12):
        world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=f"m{i}")
    received: list[dict[str, Any]] = []
    while got := _receive_all(world):
        received += got
    assert len(received) == 12
    queue = TransferQueue(world.sqs, world.queue_url)
    handles = [m["ReceiptHandle"] for m in received]
    queue.delete(handles[:1])
    assert queue.hold(handles, 0) == handles[:1]  # 0: visible again at once, so the hold can be read back
    again = []
    while got := _receive_all(world):
        again += got
    assert sorted(m["Body"] for m in again) == sorted(f"m{i}" for i in range(1, 12))
    assert queue.hold([m["ReceiptHandle"] for m in again], 600) == []
    assert _receive_all(world) == []  # held


def test_a_multipart_copy_whose_completion_never_fits_fails_visibly_instead_of_looping(world: World) -> None:
    """Each invocation has time for parts but never for the completion (CopierTimeout=60 with ~790+ parts on
    AWS, scaled down): the copy hands itself on without progress a bounded number of times, then fails like
    any failed copy: ledger, DLQ, its upload aborted, the run closed with the failure and the marker before
    the key."""
    from tests.integration.harness import MIB, REGION

    body = bytes(range(256)) * (23 * MIB // 256)  # 5 parts of 5 MiB: the completion needs 5.25 s
    put_object(world, "stuck.bin", body)
    planned = invoke_planner({})

    # 15 s deadline margin + 4 s: time for any part (1.5 s each before its pace is known), never for completing
    polled = run_copier(world, batch_size=1, remaining_ms=19_000, max_polls=40, drain=False)

    assert (
        world.sqs.get_queue_attributes(QueueUrl=world.queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "0"
    ), f"still looping after {polled.invocations} invocations"
    failure = world.stores.ledger.get("stuck.bin")
    assert failure is not None
    assert failure.error_code == "NoProgress"
    assert [m["key"] for m in queue_objects(world, world.dlq_url)] == ["stuck.bin"]
    assert world.s3.list_multipart_uploads(Bucket=world.consumer_bucket).get("Uploads", []) == []
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName=world.uploads_table)["Items"] == []
    assert world.s3.list_objects_v2(Bucket=world.consumer_bucket, Prefix="stuck.bin").get("KeyCount") == 0
    run = world.stores.runs.get(planned["run_id"])
    assert (run.status.value, run.objects_failed, run.objects_transferred) == ("COMPLETED_WITH_FAILURES", 1, 0)
