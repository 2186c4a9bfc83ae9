"""The fault matrix: each fault, injected from the test side (LocalStack's plugin, our Lambda executor), through
the deployed pipeline; each case ends with the same books:

    every producer object is in the consumer bucket with equal bytes, content type and metadata, under the
    consumer key, or it is in the failure ledger and the marker is not past it: lost 0, corrupted 0.

The transfer queue's visibility timeout is shortened for this module (a batch whose copier died before its
visibility heartbeat started comes back after it; once started, within a heartbeat step), with the event source
mapping stopped while it changes. Cases use their own key prefix and leave nothing failing behind them; a case
whose outcome depends on where a fault lands asserts the books whichever way it lands, within a bound derived
from the deployment's settings (tests/e2e/bounds.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from hydration import MARKER_KEY
from hydration.models import RunStatus
from tests.e2e.bounds import SLACK_SECONDS
from tests.e2e.conftest import poll
from tests.e2e.support import Matrix, leave_quiet
from tests.faults import Faults

VISIBILITY_SECONDS = 8


@pytest.fixture(scope="module")
def matrix(deployment: Any, producer_s3: Any, outputs: dict[str, Any]) -> Iterator[Matrix]:
    the_matrix = Matrix(deployment, producer_s3, outputs)
    leave_quiet(deployment, "the fault matrix starts", purge_at_once=True)  # whatever an earlier module left
    the_matrix.forget("fm/")  # what an interrupted session left
    with the_matrix.queue_visibility(VISIBILITY_SECONDS):
        the_matrix.run()  # a marker to start from
        yield the_matrix
        leave_quiet(deployment, "the fault matrix ends", purge_at_once=False)


@pytest.fixture
def prefix(matrix: Matrix) -> Iterator[str]:
    """The case's own keys; whatever a failed case left behind (DLQ messages, ledger entries) is removed, so
    that it does not spill into the next case."""
    name = f"fm/{uuid.uuid4().hex[:8]}/"
    yield name
    matrix.forget(name)


def _copier(matrix: Matrix) -> str:
    return str(matrix.deployment.function_name("copier"))


# ------------------------------------------------------------------------------------------ the cases


def test_copier_killed_mid_batch(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """The kill lands 300 ms into the first invocation that has keys of the case: before its heartbeat started
    (the batch comes back after the queue's visibility timeout), mid-copy (within a heartbeat step), mid-state,
    while it closes the run holding the claim (taken over once stale), or after it answered (no effect)."""
    for i in range(30):
        matrix.put(f"{prefix}{i:02}.bin")
    faults.lambda_fault(function=_copier(matrix), match=prefix, action="kill", after_ms=300, times=1)
    run = matrix.run(timeout=matrix.bounds.run_end(crashes=1))
    assert run.status is RunStatus.COMPLETED
    # Each key settles once, as transferred wherever the kill landed: before the copy (copied again), between
    # the manifest write and the books (held by this run's own copy), after the books (a duplicate).
    assert (run.keys_enqueued, run.keys_settled, run.objects_transferred) == (30, 30, 30)
    matrix.assert_all_landed(prefix)


def test_a_killed_copiers_batch_comes_back_within_a_heartbeat_step(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """With the queue's own visibility timeout (the template's: 6x the copier timeout + 300 s), a copier killed
    while it copies: its batch is back within a visibility heartbeat step, not the queue's timeout, and every
    key lands. The wait bound is derived from the deployment's settings and leaves the queue's timeout out."""
    copier = _copier(matrix)
    deployed = int(matrix.deployment.client("lambda").get_function_configuration(FunctionName=copier)["Timeout"])
    with matrix.queue_visibility(6 * deployed + 300):  # as the template's CopierTimeouts mapping deploys it
        bounds = matrix.bounds
        bound = bounds.run_end(crashes=1, before_heartbeat=False)
        assert bound < bounds.queue_visibility, bounds  # else the case would not tell the heartbeat from the queue
        for i in range(30):
            matrix.put(f"{prefix}{i:02}.bin")
        stuck = f"{prefix}00.bin"  # its copy takes a while: the invocation is inside it, its heartbeat beating
        rule = faults.add(
            service="s3", operation="CopyObject", match=f"^{stuck}$", action="delay", delay_ms=30_000, times=1
        )
        run_id = matrix.start()
        poll(lambda: faults.rule(rule)["matched"] >= 1, timeout=bounds.delivery, what="the copy to start")
        assert faults.kill_running(function=copier, match=stuck) == 1
        run = matrix.wait(run_id, timeout=bound)
    assert (run.status, run.keys_enqueued, run.keys_settled, run.objects_transferred) == (
        RunStatus.COMPLETED,
        30,
        30,
        30,
    )
    matrix.assert_all_landed(prefix)


def test_copier_timeout_on_the_final_attempt(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """The key fails on every attempt and its last receive times out before the ledger is written: the message
    reaches the DLQ with no ledger entry. The books do not balance, so the finalizer sweeps the key into the
    ledger; the marker stays before it. Fixed, the next run copies it."""
    key = f"{prefix}doomed.bin"
    matrix.put(key)
    matrix.put(f"{prefix}fine.bin")
    faults.add(service="s3", operation="CopyObject", match=f"^{key}$", action="error", code="InternalError")
    faults.lambda_fault(
        function=_copier(matrix), match=r"ApproximateReceiveCount\W+3\W.*" + key, action="timeout", after_ms=0
    )
    run = matrix.run(timeout=matrix.bounds.run_end(crashes=1, failing_keys=True))
    assert run.status is RunStatus.COMPLETED_WITH_FAILURES
    assert matrix.deployment.ledger.get(key) is not None
    assert key in matrix.dlq_keys()
    books = matrix.assert_nothing_lost(prefix)
    assert books.failed_visibly == [key]
    faults.clear()
    matrix.purge_dlq(prefix)
    assert matrix.run().status is RunStatus.COMPLETED
    matrix.assert_all_landed(prefix)


def test_throttling_on_copy_object(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """503 SlowDown beyond botocore's own retries: the key is re-enqueued alone and lands."""
    for i in range(5):
        matrix.put(f"{prefix}{i}.bin")
    rule = faults.add(
        service="s3",
        operation="CopyObject",
        match=f"^{prefix}2.bin$",
        action="error",
        status=503,
        code="SlowDown",
        times=8,
    )
    run = matrix.run()
    assert run.status is RunStatus.COMPLETED
    assert faults.hits(rule) == 8
    matrix.assert_all_landed(prefix)


def test_access_denied_on_one_key_then_recovery_and_redrive(matrix: Matrix, faults: Faults, prefix: str) -> None:
    key = f"{prefix}denied.bin"
    for name in ("a.bin", "denied.bin", "b.bin"):
        matrix.put(prefix + name)
    faults.add(service="s3", operation="CopyObject", match=f"^{key}$", action="error", status=403, code="AccessDenied")
    run = matrix.run()
    assert (run.status, run.objects_failed) == (RunStatus.COMPLETED_WITH_FAILURES, 1)
    books = matrix.assert_nothing_lost(prefix)
    assert books.failed_visibly == [key]
    # Settled as failed on its final receive, the message goes to the DLQ on the receive after (the run may have
    # closed before): alone there.
    bound = matrix.bounds.delivery + SLACK_SECONDS
    poll(lambda: key in matrix.dlq_keys(), timeout=bound, what="the key in the DLQ")
    assert matrix.dlq_keys().count(key) == 1
    faults.clear()
    from hydration_cli.ops import dlq

    dlq.redrive(matrix.deployment, keys=[key], now=datetime.now().astimezone())
    bound = matrix.bounds.delivery + SLACK_SECONDS
    poll(lambda: matrix.deployment.ledger.get(key) is None, timeout=bound, what="the redriven key to land")
    matrix.assert_all_landed(prefix)


def test_source_changed_mid_copy(matrix: Matrix, faults: Faults, prefix: str) -> None:
    key = f"{prefix}moving.bin"
    matrix.put(key, b"version one")
    rule = faults.add(service="s3", operation="CopyObject", match=f"^{key}$", action="delay", delay_ms=4000, times=1)
    run_id = matrix.start()
    poll(lambda: faults.rule(rule)["matched"] >= 1, timeout=matrix.bounds.delivery, what="the copy to start")
    matrix.put(key, b"version two, while the first copy was in flight")
    run = matrix.wait(run_id)
    assert run.status is RunStatus.COMPLETED
    got = matrix.consumer.get_object(Bucket=matrix.deployment.bucket, Key=key)["Body"].read()
    assert got == b"version two, while the first copy was in flight"
    matrix.assert_all_landed(prefix)


def test_source_deleted_after_listing(matrix: Matrix, faults: Faults, prefix: str) -> None:
    key = f"{prefix}gone.bin"
    matrix.put(key)
    matrix.put(f"{prefix}stays.bin")
    rule = faults.add(service="s3", operation="CopyObject", match=f"^{key}$", action="delay", delay_ms=4000, times=1)
    run_id = matrix.start()
    poll(lambda: faults.rule(rule)["matched"] >= 1, timeout=matrix.bounds.delivery, what="the copy to start")
    matrix.producer.delete_object(Bucket=matrix.bucket, Key=key)
    run = matrix.wait(run_id)
    assert (run.status, run.objects_vanished) == (RunStatus.COMPLETED, 1)
    assert matrix.deployment.ledger.get(key) is None
    matrix.assert_all_landed(prefix)


def test_a_poison_message_goes_to_the_dlq_and_stalls_nothing(matrix: Matrix, prefix: str) -> None:
    sqs = matrix.deployment.client("sqs")
    sqs.send_message(QueueUrl=matrix.deployment.transfer_queue_url, MessageBody="not a transfer message " + prefix)
    for i in range(5):
        matrix.put(f"{prefix}{i}.bin")
    run = matrix.run()
    assert run.status is RunStatus.COMPLETED
    matrix.assert_all_landed(prefix)
    bounds = matrix.bounds  # each receive fails it; it comes back within a heartbeat step
    bound = bounds.max_receive_count * (bounds.comeback(before_heartbeat=False) + bounds.delivery) + SLACK_SECONDS
    poll(lambda: "<malformed>" in matrix.dlq_keys(), timeout=bound, what="the malformed message in the DLQ")
    matrix.purge_dlq(prefix)


def test_duplicate_delivery_of_a_whole_batch(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """The event source mapping cannot delete a processed batch: it is delivered again. Copies are
    idempotent and the books count each key once."""
    for i in range(12):
        matrix.put(f"{prefix}{i:02}.bin")
    rule = faults.add(
        service="sqs", operation="DeleteMessageBatch", match=prefix, action="partial_batch_failure", times=2
    )
    run = matrix.run()
    assert (run.status, run.keys_enqueued, run.objects_transferred) == (RunStatus.COMPLETED, 12, 12)
    # The copier closed the run before it returned; the mapping deletes (and fails to) after it returned. The
    # batch comes back (within a heartbeat step) and is consumed again: the books do not move.
    bounds = matrix.bounds
    poll(lambda: faults.hits(rule) >= 1, timeout=bounds.delivery + SLACK_SECONDS, what="the mapping's delete to fail")
    poll(matrix.queue_empty, timeout=bounds.quiet, what="the batch delivered again and consumed")
    again = matrix.deployment.runs.get(run.run_id)
    assert (again.keys_enqueued, again.keys_settled, again.objects_transferred) == (12, 12, 12)
    matrix.assert_all_landed(prefix)


@pytest.fixture
def one_shard(matrix: Matrix) -> Iterator[str]:
    """The planner cases: a prefix run of one shard (PLANNER_SHARDS=1) listed 10 keys a page, handed on every
    2 pages (its second message is its first hand-on), checkpointed every half second, its lease 10 s. A
    shard whose worker died or whose message was lost is sent again by the coordinator once its lease expired
    and the run went unplanned for StalePlanningSeconds (30 s locally; the finalizer, nudged as `runs watch`
    does, has it pick the run up): the planner queue's visibility timeout is not in the way, so it is left as
    deployed. Whatever happens, the run ends within `Bounds.run_end` with those hand-ons and lost shards."""
    env = {
        "PLANNER_SHARDS": "1",
        "LIST_PAGE_SIZE": "10",
        "MAX_PAGES_PER_INVOCATION": "2",
        "HEARTBEAT_SECONDS": "0.5",
        "SHARD_LEASE_SECONDS": "10",
    }
    undo = [matrix.function_env(service, **env) for service in ("planner", "planner-worker")]
    try:
        yield str(matrix.deployment.function_name("planner-worker"))
    finally:
        for step in undo:
            step()


def _planned_once(matrix: Matrix, run: Any, prefix: str, keys: int) -> None:
    """Every key of the case landed, each counted once in the run's books."""
    assert run.status is RunStatus.COMPLETED, run
    assert (run.keys_listed, run.keys_enqueued, run.keys_settled, run.objects_transferred) == (keys,) * 4
    matrix.assert_all_landed(prefix)


def test_a_planner_worker_killed_mid_shard(matrix: Matrix, faults: Faults, prefix: str, one_shard: str) -> None:
    """A worker is killed while it lists (a slow page keeps it busy): its shard stays leased until the lease
    expires, then its message comes back (or the finalizer has the coordinator send it again) and the next
    worker resumes from the last checkpoint. Wherever the kill lands, nothing is enqueued twice."""
    for i in range(60):
        matrix.put(f"{prefix}{i:02}.bin")
    faults.add(service="s3", operation="ListObjectsV2", action="delay", delay_ms=3000, skip=2, times=1)
    kill = faults.lambda_fault(function=one_shard, action="kill", after_ms=1500, times=1)
    run = matrix.run({"prefix": prefix}, timeout=matrix.bounds.run_end(hand_ons=3, lost_shards=1))
    assert faults.hits(kill) == 1
    _planned_once(matrix, run, prefix, 60)


def test_a_shard_hand_on_lost(matrix: Matrix, faults: Faults, prefix: str, one_shard: str) -> None:
    """The shard's first hand-on message is lost (answered as sent, never delivered): the planner queue is
    empty while the run still has an open shard; the finalizer has the coordinator send it again."""
    for i in range(60):
        matrix.put(f"{prefix}{i:02}.bin")
    lost = faults.add(service="sqs", action="drop", match='"shard_id":"s0000"', skip=1, times=1)
    run = matrix.run({"prefix": prefix}, timeout=matrix.bounds.run_end(hand_ons=2, lost_shards=1))
    assert faults.hits(lost) == 1
    _planned_once(matrix, run, prefix, 60)


def test_a_503_storm_on_listing(matrix: Matrix, faults: Faults, prefix: str, one_shard: str) -> None:
    """S3 answers 503 SlowDown to 8 listings in a row: botocore's adaptive retries back off (and slow the
    planner's client down) and the run goes on."""
    for i in range(30):
        matrix.put(f"{prefix}{i:02}.bin")
    storm = faults.add(service="s3", operation="ListObjectsV2", action="error", status=503, code="SlowDown", times=8)
    # each refused call retried by botocore after a backoff of at most 20 s (its documented cap)
    run = matrix.run({"prefix": prefix}, timeout=matrix.bounds.run_end(hand_ons=2) + 8 * 20)
    assert faults.hits(storm) == 8
    faults.clear()
    _planned_once(matrix, run, prefix, 30)


def test_two_finalizers_at_once(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """A key whose copy kills the copier on every attempt (it hangs, the process is killed): it never settles.
    Two finalizers sweep and close the run at the same moment; it closes once."""
    key = f"{prefix}crasher.bin"
    matrix.put(key)
    faults.add(service="s3", operation="CopyObject", match=f"^{key}$", action="delay", delay_ms=30_000)
    faults.lambda_fault(function=_copier(matrix), match=key, action="kill", after_ms=2000)
    run_id = matrix.start()
    bounds = matrix.bounds  # each attempt killed, before or after its heartbeat started
    to_dlq = bounds.max_receive_count * (bounds.comeback(before_heartbeat=True) + bounds.delivery) + SLACK_SECONDS
    poll(lambda: key in matrix.dlq_keys(), timeout=to_dlq, what="the key in the DLQ")
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def finalize() -> None:
        barrier.wait()
        answers.append(matrix.finalize(run_id))

    def two_finalizers_until_it_ends() -> bool:
        threads = [threading.Thread(target=finalize) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return not matrix.deployment.runs.get(run_id).status.active

    # The sweep needs the queue seen empty twice, DRAIN_CONFIRM_SECONDS apart: pairs of finalizers until then.
    poll(two_finalizers_until_it_ends, timeout=bounds.close + SLACK_SECONDS, interval=1, what="the run to close")
    run = matrix.deployment.runs.get(run_id)
    assert (run.status, run.unsettled_swept) == (RunStatus.COMPLETED_WITH_FAILURES, 1)
    assert sum(1 for a in answers if a["action"] == "completed") == 1
    matrix.assert_nothing_lost(prefix)
    # Failed visibly: in the ledger, the marker before it. (The CopyObject a killed copier had sent goes on in
    # S3 and may land the object 30 s later all the same: whether it has yet is a race, so it is not asserted.)
    listed = matrix.producer.head_object(Bucket=matrix.bucket, Key=key)["LastModified"]
    assert matrix.deployment.ledger.get(key) is not None
    assert matrix.marker() <= listed
    faults.clear()
    matrix.purge_dlq(prefix)
    matrix.run()
    matrix.assert_all_landed(prefix)


def test_partial_send_message_batch_failure(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """SQS refuses some entries for a while: the planner retries them; one it can never send fails alone."""
    for i in range(6):
        matrix.put(f"{prefix}{i}.bin")
    faults.add(
        service="sqs", operation="SendMessageBatch", match=f"{prefix}1.bin", action="partial_batch_failure", times=2
    )
    faults.add(service="sqs", operation="SendMessageBatch", match=f"{prefix}4.bin", action="partial_batch_failure")
    undo = [matrix.function_env(s, KEYS_PER_MESSAGE="1", ENQUEUE_ATTEMPTS="3") for s in ("planner", "planner-worker")]
    try:
        run = matrix.run()
    finally:
        for step in undo:
            step()
    assert (run.status, run.objects_failed) == (RunStatus.COMPLETED_WITH_FAILURES, 1)
    failure = matrix.deployment.ledger.get(f"{prefix}4.bin")
    assert failure is not None
    assert failure.error_code == "EnqueueFailed"
    books = matrix.assert_nothing_lost(prefix)
    assert books.failed_visibly == [f"{prefix}4.bin"]
    faults.clear()
    matrix.run()
    matrix.assert_all_landed(prefix)


def test_failure_to_write_the_marker(matrix: Matrix, faults: Faults, prefix: str) -> None:
    matrix.put(f"{prefix}a.bin")
    before = matrix.marker()
    rule = faults.add(
        service="s3",
        operation="PutObject",
        match=f"^{MARKER_KEY}$",
        action="error",
        status=503,
        code="ServiceUnavailable",
        times=6,
    )
    run_id = matrix.start()
    poll(lambda: faults.rule(rule)["hits"] >= 1, timeout=matrix.bounds.run_end(), what="the marker write to fail")
    assert matrix.marker() == before  # the copier's close failed: the marker did not move
    run = matrix.wait(run_id)  # the finalizer closes it
    assert run.status is RunStatus.COMPLETED
    assert run.marker_written is not None
    assert matrix.marker() == run.marker_written == run.watermark > before
    matrix.assert_all_landed(prefix)


def test_a_key_sqs_cannot_carry(matrix: Matrix, prefix: str) -> None:
    key = f"{prefix}odd-\uffff-\ufffe-key.bin"
    matrix.put(key)
    run = matrix.run()
    assert run.status is RunStatus.COMPLETED
    matrix.assert_all_landed(prefix)


def test_a_multipart_upload_spanning_a_run_boundary(matrix: Matrix, prefix: str) -> None:
    """An upload started before a run and completed after it, by more than the lookback: S3 stamps it with
    its start, so the run's marker must not pass that start."""
    key = f"{prefix}slow-upload.bin"
    s3 = matrix.producer
    upload = s3.create_multipart_upload(
        Bucket=matrix.bucket, Key=key, ContentType="application/x-matrix", Metadata={"case": prefix.split("/")[1]}
    )
    body = b"p" * (5 * 1024 * 1024)
    etag = s3.upload_part(Bucket=matrix.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body)["ETag"]
    initiated = next(u["Initiated"] for u in s3.list_multipart_uploads(Bucket=matrix.bucket, Prefix=key)["Uploads"])
    # The lookback cannot be lowered below its 900 s floor (clock skew): the marker's place is what this case
    # checks end to end; an upload older than the lookback is the moto tier's (tests/integration/test_run_start.py).
    time.sleep(1.5)
    first = matrix.run()
    assert first.inflight_uploads >= 1
    assert first.held_back_by is not None
    assert matrix.marker() <= initiated
    s3.complete_multipart_upload(
        Bucket=matrix.bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    matrix.run()
    matrix.assert_all_landed(prefix)


def test_a_header_only_change(matrix: Matrix, prefix: str) -> None:
    key = f"{prefix}headers.bin"
    body = matrix.put(key, b"same bytes", ContentType="text/plain", Metadata={"version": "1"})
    matrix.run()
    # S3 keeps LastModified to the second: rewrite in a later second than the version copied, as a real edit is.
    first = matrix.producer.head_object(Bucket=matrix.bucket, Key=key)["LastModified"]
    time.sleep(max(0.0, 1.05 - (datetime.now(first.tzinfo) - first.replace(microsecond=0)).total_seconds()))
    matrix.producer.copy_object(
        Bucket=matrix.bucket,
        Key=key,
        CopySource={"Bucket": matrix.bucket, "Key": key},
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"version": "2"},
    )
    run = matrix.run()
    assert run.objects_transferred >= 1
    copy = matrix.consumer.get_object(Bucket=matrix.deployment.bucket, Key=key)
    assert (copy["ContentType"], copy["Metadata"], copy["Body"].read()) == ("application/json", {"version": "2"}, body)
    matrix.assert_all_landed(prefix)


def test_messages_lost_from_the_queue_are_swept_into_the_ledger(matrix: Matrix, faults: Faults, prefix: str) -> None:
    """Messages that never reach a copier (expired, or lost): the run's books stay open, the finalizer puts the
    keys in the ledger and the marker stays before them; the next run copies them."""
    for i in range(3):
        matrix.put(f"{prefix}{i}.bin")
    esm = matrix.deployment.client("lambda").list_event_source_mappings(FunctionName=_copier(matrix))[
        "EventSourceMappings"
    ][0]["UUID"]
    lam = matrix.deployment.client("lambda")
    lam.update_event_source_mapping(UUID=esm, Enabled=False)
    try:  # "Disabled" at once; the replaced worker's poll loops end their current receive on their own
        bound = matrix.bounds.delivery + SLACK_SECONDS
        poll(lambda: faults.esm_loops().get(esm, 0) == 0, timeout=bound, what="the mapping's poll loops to stop")
        run_id = matrix.start()
        # the planner workers enqueue: once the run's planning is complete, every message is on the queue
        poll(lambda: matrix.deployment.runs.get(run_id).planning_complete, timeout=120, what="planning complete")
        matrix.deployment.client("sqs").purge_queue(QueueUrl=matrix.deployment.transfer_queue_url)
    finally:
        lam.update_event_source_mapping(UUID=esm, Enabled=True)
    run = matrix.wait(run_id)
    assert (run.status, run.unsettled_swept) == (RunStatus.COMPLETED_WITH_FAILURES, 3)
    books = matrix.assert_nothing_lost(prefix)
    assert len(books.failed_visibly) == 3
    matrix.run()
    matrix.assert_all_landed(prefix)


def test_a_run_closes_when_its_last_key_settles_without_a_finalizer(matrix: Matrix, prefix: str) -> None:
    for i in range(10):
        matrix.put(f"{prefix}{i}.bin")
    # The schedules are off here and nothing nudges the finalizer: the copier that settles the last key closes it.
    run = matrix.wait(matrix.start(), nudge=False)
    assert run.status is RunStatus.COMPLETED
    matrix.assert_all_landed(prefix)
