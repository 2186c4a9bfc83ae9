"""Checkpointed listing, reconcile, and the finalizer's drain rule, on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from hydration import MARKER_KEY
from hydration.aws.runs import RunStore
from hydration.marker import parse
from hydration.models import RunStatus, ShardStatus, iso
from tests.integration.harness import (
    World,
    cold_start,
    consumer_object,
    hydrate,
    invoke_finalizer,
    invoke_planner,
    put_object,
    queue_objects,
    run_copier,
    run_planner_workers,
)


def _runs(world: World) -> RunStore:
    return world.stores.runs


def _marker(world: World) -> datetime | None:
    try:
        body = world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode()
    except world.s3.exceptions.NoSuchKey:
        return None
    return parse(body).synced_to


def _drop_messages(world: World) -> None:
    """The transfer queue loses its messages (they expired; or were dead-lettered without a ledger entry)."""
    world.sqs.purge_queue(QueueUrl=world.queue_url)


def test_a_shard_is_handed_on_across_invocations(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="3", MAX_PAGES_PER_INVOCATION="2", PLANNER_SHARDS="1")
    keys = [f"p/{i:03}" for i in range(20)]
    for key in keys:
        put_object(world, key, b"x")

    planned = invoke_planner({}, drain=False)
    assert (planned["status"], planned["shards"]) == ("PLANNING", 1)
    invocations = 0
    while run_planner_workers(world, max_polls=1, drain=False).invocations:
        invocations += 1
        run = _runs(world).get(planned["run_id"])
        (shard,) = world.stores.shards.of_run(planned["run_id"])
        if run.status is RunStatus.PLANNING:
            assert shard.status is ShardStatus.OPEN
            assert shard.position == keys[6 * invocations - 1]  # 2 pages of 3 keys an invocation
            assert shard.owner is None  # handed on: the lease given up
            assert invoke_planner({}, drain=False)["started"] is False  # meanwhile a new trigger starts nothing

    assert invocations == 4  # 20 keys, 3 a page, 2 pages an invocation
    assert sorted(m["key"] for m in queue_objects(world)) == keys  # each exactly once
    run = _runs(world).get(planned["run_id"])
    assert (run.status, run.keys_enqueued, run.keys_listed, run.shards_total) == (RunStatus.DRAINING, 20, 20, 1)
    assert run.list_calls == 7  # ceil(20 / 3) pages: nothing listed twice across the hand-ons


def test_the_time_budget_hands_a_shard_on_too(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="2", PLANNER_SHARDS="1")
    for i in range(5):
        put_object(world, f"k{i}", b"x")
    planned = invoke_planner({}, drain=False)
    calls = iter([60_000])  # a minute when the worker starts; after its first page, 10 s: below the margin (15 s)
    run_planner_workers(world, max_polls=1, drain=False, remaining_ms=lambda: next(calls, 10_000))
    (shard,) = world.stores.shards.of_run(planned["run_id"])
    assert (shard.status, shard.keys_listed, shard.position, shard.hand_ons) == (ShardStatus.OPEN, 2, "k1", 1)
    assert sorted(m["key"] for m in queue_objects(world)) == ["k0", "k1"]


def test_reconcile_finds_missing_and_different_keys(world: World) -> None:
    for key in ("a", "b", "c", "d"):
        put_object(world, key, f"body {key}".encode())
    hydrate(world)
    s3 = world.s3
    s3.delete_object(Bucket=world.consumer_bucket, Key="b")  # lost in the consumer
    s3.put_object(Bucket=world.consumer_bucket, Key="c", Body=b"tampered, longer")  # different
    s3.put_object(Bucket=world.consumer_bucket, Key="zz-extra", Body=b"only here")  # extra: reported, kept

    result = hydrate(world, {"reconcile": True})

    drift = result["planned"]["drift"]
    assert (drift["missing"], drift["different"], drift["extra"]) == (1, 1, 1)
    assert drift["first_missing"] == ["b"]
    assert drift["first_different"] == ["c"]
    assert drift["first_extra"] == ["zz-extra"]
    for key in ("a", "b", "c", "d"):
        assert consumer_object(world, key)["body"] == f"body {key}".encode()
        assert consumer_object(world, key)["head"]["SSEKMSKeyId"] == world.kms_key_arn


def test_reconcile_of_an_equal_pair_enqueues_nothing(world: World) -> None:
    put_object(world, "a", b"a")
    hydrate(world)
    result = invoke_planner({"reconcile": True})
    assert result["keys_enqueued"] == 0
    assert result["drift"]["missing"] == result["drift"]["different"] == 0


def test_a_run_closes_when_its_last_key_settles_without_the_finalizer(world: World) -> None:
    put_object(world, "a", b"a")
    planned = invoke_planner({})
    assert _runs(world).get(planned["run_id"]).status is RunStatus.DRAINING
    run_copier(world)
    run = _runs(world).get(planned["run_id"])
    assert (run.status, run.keys_enqueued, run.keys_settled) == (RunStatus.COMPLETED, 1, 1)
    assert _marker(world) == run.watermark
    assert _runs(world).active() is None
    assert invoke_finalizer()["action"] == "idle"


def test_a_run_with_nothing_to_copy_closes_at_the_end_of_planning(world: World) -> None:
    planned = invoke_planner({})
    assert planned["status"] == "COMPLETED"
    assert _marker(world) == datetime.fromisoformat(planned["watermark"])


def test_the_finalizer_waits_while_messages_remain(world: World) -> None:
    put_object(world, "a", b"a")
    planned = invoke_planner({})

    answer = invoke_finalizer()

    assert answer["action"] == "waiting"
    assert answer["queue"]["visible"] == 1
    assert _marker(world) is None
    assert _runs(world).get(planned["run_id"]).status is RunStatus.DRAINING


def test_keys_whose_messages_were_lost_are_swept_into_the_ledger_and_hold_the_marker(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's books do not balance and the queue is empty, twice, an interval apart: the keys that never
    settled go to the ledger, the run closes WITH_FAILURES, the marker stays before them, the next run copies
    them."""
    cold_start(monkeypatch, DRAIN_CONFIRM_SECONDS="3600")
    put_object(world, "lost", b"lost")
    planned = invoke_planner({})
    _drop_messages(world)
    assert invoke_finalizer()["action"] == "confirming"
    assert invoke_finalizer()["action"] == "confirming"  # empty again, but not an interval later
    assert _runs(world).get(planned["run_id"]).status is RunStatus.DRAINING

    cold_start(monkeypatch, DRAIN_CONFIRM_SECONDS="0")
    answer = invoke_finalizer()

    assert (answer["action"], answer["status"], answer["unsettled_swept"]) == (
        "completed",
        "COMPLETED_WITH_FAILURES",
        1,
    )
    failure = world.stores.ledger.get("lost")
    assert failure is not None
    assert failure.error_code == "Unsettled"
    run = _runs(world).get(planned["run_id"])
    assert (run.keys_enqueued, run.objects_failed, run.unsettled_swept) == (1, 1, 1)
    modified = world.s3.head_object(Bucket=world.producer_bucket, Key="lost")["LastModified"]
    marker = _marker(world)
    assert marker is not None
    assert marker <= modified
    cold_start(monkeypatch, LOOKBACK_SECONDS="900")
    again = hydrate(world)
    assert again["status"] == "COMPLETED"
    assert consumer_object(world, "lost")["body"] == b"lost"
    assert world.stores.ledger.get("lost") is None


def test_the_finalizer_puts_every_key_of_the_dlq_in_the_ledger(world: World) -> None:
    """A message that reached the DLQ without a ledger entry (its final attempt timed out): the finalizer's
    sweep adds it, and leaves the message for the operator."""
    from hydration.models import ObjectRef, TransferMessage

    obj = ObjectRef(key="dead", size=1, etag='"e"', last_modified=datetime.now(UTC))
    body = TransferMessage(run_id="old-run", bucket=world.producer_bucket, objects=[obj]).to_body()
    world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody=body)

    answer = invoke_finalizer()

    assert answer["dlq_keys_added"] == 1
    failure = world.stores.ledger.get("dead")
    assert failure is not None
    assert (failure.error_code, failure.run_id) == ("DeadLettered", "old-run")
    assert (
        world.sqs.get_queue_attributes(QueueUrl=world.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "1"
    )
    assert invoke_finalizer()["dlq_keys_added"] == 0  # already there


def test_a_dlq_key_that_landed_since_is_not_put_back_in_the_ledger(world: World) -> None:
    """Its message stays in the DLQ, but the key landed another way (a redrive, a later run)."""
    from hydration.models import ObjectRef, TransferMessage

    put_object(world, "landed", b"landed")
    hydrate(world)
    listed = world.s3.head_object(Bucket=world.producer_bucket, Key="landed")
    obj = ObjectRef(key="landed", size=6, etag=listed["ETag"], last_modified=listed["LastModified"])
    body = TransferMessage(run_id="old-run", bucket=world.producer_bucket, objects=[obj]).to_body()
    world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody=body)

    assert invoke_finalizer()["dlq_keys_added"] == 0
    assert world.stores.ledger.get("landed") is None


def test_the_finalizer_never_closes_a_run_still_planning(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="1", MAX_PAGES_PER_INVOCATION="1", DRAIN_CONFIRM_SECONDS="0")
    put_object(world, "a", b"a")
    put_object(world, "b", b"b")
    invoke_planner({}, drain=False)
    run_planner_workers(world, max_polls=1, drain=False)  # one page, then the shard is handed on
    run_copier(world)  # the queue is empty, the books balance so far, but the listing is not finished
    assert invoke_finalizer()["action"] == "planning"
    assert _marker(world) is None


def test_two_closers_at_once_close_the_run_once(world: World) -> None:
    put_object(world, "a", b"a")
    planned = invoke_planner({})
    runs = _runs(world)
    assert runs.claim(planned["run_id"], "finalizer-1", timedelta(minutes=5)) is True
    run_copier(world)  # the copier that settles the last key finds the run claimed: it leaves it
    assert runs.get(planned["run_id"]).status is RunStatus.DRAINING
    assert runs.claim(planned["run_id"], "finalizer-2", timedelta(minutes=5)) is False
    # A claim left by a closer that died expires.
    assert runs.claim(planned["run_id"], "finalizer-3", timedelta(seconds=-1)) is True
    runs.release_claim(planned["run_id"], "finalizer-3")
    assert invoke_finalizer()["action"] == "completed"
    assert invoke_finalizer()["action"] == "idle"
    assert runs.get(planned["run_id"]).status is RunStatus.COMPLETED


def test_a_late_planner_cannot_fail_a_run_past_planning(world: World) -> None:
    put_object(world, "a", b"a")
    planned = invoke_planner({})
    runs = _runs(world)
    assert runs.fail(planned["run_id"], "a late duplicate planner failed") is False
    assert runs.get(planned["run_id"]).status is RunStatus.DRAINING
    run_copier(world)
    assert runs.fail(planned["run_id"], "later still") is False
    assert runs.get(planned["run_id"]).status is RunStatus.COMPLETED


def _age_heartbeat(world: World, run_id: str) -> None:
    """An hour passes without a heartbeat: the planner that held the run died."""
    boto3.client("dynamodb").update_item(
        TableName=world.runs_table,
        Key={"run_id": {"S": run_id}},
        UpdateExpression="SET heartbeat_at = :h",
        ExpressionAttributeValues={":h": {"S": iso(datetime.now(UTC) - timedelta(hours=1))}},
    )


def _lose_shard_messages(world: World, run_id: str) -> None:
    """The planner queue loses its messages; the shards were last sent an hour ago."""
    world.sqs.purge_queue(QueueUrl=world.planner_queue_url)
    for shard in world.stores.shards.of_run(run_id):
        boto3.client("dynamodb").update_item(
            TableName=world.books_table,
            Key={"run_id": {"S": f"{run_id}#shards"}, "key": {"S": shard.shard_id}},
            UpdateExpression="SET dispatched_at = :h",
            ExpressionAttributeValues={":h": {"S": iso(datetime.now(UTC) - timedelta(hours=1))}},
        )


def test_a_stale_planning_run_is_resumed_by_the_next_trigger(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="1", MAX_PAGES_PER_INVOCATION="1", STALE_PLANNING_SECONDS="60")
    put_object(world, "a", b"a")
    put_object(world, "b", b"b")
    planned = invoke_planner({}, drain=False)
    run_planner_workers(world, max_polls=1, drain=False)  # "a" enqueued, the shard handed on
    _lose_shard_messages(world, planned["run_id"])  # the hand-on never arrives
    _age_heartbeat(world, planned["run_id"])
    cold_start(monkeypatch, MAX_PAGES_PER_INVOCATION="0")

    resumed = invoke_planner({})

    assert resumed["run_id"] == planned["run_id"]
    assert sorted(m["key"] for m in queue_objects(world)) == ["a", "b"]
    assert _runs(world).get(planned["run_id"]).status is RunStatus.DRAINING


def test_a_run_whose_shard_messages_were_lost_is_picked_up_by_the_finalizer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner queue is empty (nothing queued, nothing in flight) while the run still has open shards:
    their messages were lost. The finalizer has the coordinator pick the run up."""
    cold_start(monkeypatch, LIST_PAGE_SIZE="1", MAX_PAGES_PER_INVOCATION="1", PLANNER_FUNCTION_NAME="planner")
    put_object(world, "a", b"a")
    put_object(world, "b", b"b")
    planned = invoke_planner({}, drain=False)
    invoked: list[str] = []
    from finalizer import dependencies as finalizer_handler

    finalizer_handler.deps().planner = type("Recorder", (), {"continue_run": staticmethod(invoked.append)})()
    assert invoke_finalizer()["action"] == "planning"  # its shard's message is waiting: nothing to do
    _lose_shard_messages(world, planned["run_id"])

    assert invoke_finalizer()["action"] == "resumed-planning"
    assert invoked == [planned["run_id"]]
    resumed = invoke_planner({"continue_run": planned["run_id"]})
    assert resumed["status"] == "DRAINING"
    assert sorted(m["key"] for m in queue_objects(world)) == ["a", "b"]


def test_a_retried_planner_invocation_resumes_its_own_run(world: World) -> None:
    """Lambda retries an async invocation with the same request id: the retry finds the run it created."""
    from planner.handler import lambda_handler
    from tests.integration.harness import FakeContext

    put_object(world, "a", b"a")
    context = FakeContext(function_name="s3-hydration-planner")
    first = lambda_handler({}, context)
    assert lambda_handler({}, context)["run_id"] == first["run_id"]
