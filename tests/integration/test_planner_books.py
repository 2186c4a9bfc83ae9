"""The planner's books on moto: sheets opened in the transaction of the shard checkpoint that covers them, so a
run opens each key once whatever worker plans a shard, dies or races another; the message names its sheet."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from hydration.models import RunStatus, Shard, ShardMessage
from planner.enqueue import MAX_ACTIONS
from tests.integration.harness import (
    REGION,
    World,
    cold_start,
    invoke_planner,
    put_object,
    queue_messages,
    queue_objects,
    run_planner_workers,
)
from tests.moto_faults import Faults

OPEN = r"'s#"  # a books transaction that opens sheets (their sort keys)


def _book_keys(world: World, run_id: str) -> Counter[str]:
    return Counter(task.key for task in world.stores.books.tasks(run_id))


def _the_shard(world: World, run_id: str) -> Shard:
    (shard,) = world.stores.shards.of_run(run_id)
    return shard


def _lease_runs_out(world: World, shard: Shard) -> None:
    """The worker holding the shard is taken for dead: its lease is over (as if its time had passed)."""
    from hydration.aws.shards import shards_partition

    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=world.books_table,
        Key={"run_id": {"S": shards_partition(shard.run_id)}, "key": {"S": shard.shard_id}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"S": "2000-01-01T00:00:00+00:00"}},
    )


def _deliver_again(world: World, shard: Shard) -> None:
    """The shard's message, delivered again (it came back, or the coordinator sent it again)."""
    body = ShardMessage(run_id=shard.run_id, shard_id=shard.shard_id).to_body()
    world.sqs.send_message(QueueUrl=world.planner_queue_url, MessageBody=body)


def test_messages_name_their_sheet_and_each_object_its_slot(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, KEYS_PER_MESSAGE="3")
    for i in range(7):
        put_object(world, f"k{i}", b"x")
    run_id = invoke_planner({})["run_id"]
    sheets = {sheet.id: sheet for sheet in world.stores.books.sheets(run_id)}
    for body in queue_messages(world):
        assert body["v"] == 3
        tasks = sheets[body["sheet"]].tasks
        assert [(o["key"], o["slot"]) for o in body["objects"]] == [(t.key, t.slot) for t in tasks]
    assert sorted(len(s.tasks) for s in sheets.values()) == [1, 3, 3]


def test_a_planner_killed_between_two_transactions_resumes_after_what_it_opened(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first transaction (its sheets and the shard's checkpoint after them) commits, the worker dies before
    the second: the shard resumes after exactly what was opened. Nothing is opened twice, nothing is skipped."""
    cold_start(monkeypatch, LIST_PAGE_SIZE="4", KEYS_PER_MESSAGE="1", PLANNER_SHARDS="1")
    keys = [f"k{i:03}" for i in range(150)]  # 150 sheets of one key: two transactions (96 a transaction)
    for key in keys:
        put_object(world, key, b"x")
    faults.add("dynamodb.TransactWriteItems", OPEN, action="crash", skip=1, times=1)
    planned = invoke_planner({})  # the worker crashes; its message comes back while the dead worker's lease holds
    (run,) = world.stores.runs.list()
    assert (planned["status"], run.status) == ("PLANNING", RunStatus.PLANNING)
    shard = _the_shard(world, run.run_id)
    assert (run.keys_enqueued, shard.checkpoints) == (MAX_ACTIONS, 1)
    assert shard.position == keys[MAX_ACTIONS - 1]  # the checkpoint names the last key its transaction opened
    assert shard.keys_listed == MAX_ACTIONS

    _lease_runs_out(world, shard)
    _deliver_again(world, shard)
    run_planner_workers(world)

    run = world.stores.runs.get(run.run_id)
    assert run.status is RunStatus.DRAINING
    assert _book_keys(world, run.run_id) == Counter(keys)  # each exactly once
    assert run.keys_listed == 150
    assert Counter(o["key"] for o in queue_objects(world)) == Counter(keys)  # sent once each


def test_two_workers_planning_one_shard_open_each_key_once(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker taken for dead (its lease ran out) is still working when another takes its shard over: the one
    whose checkpoint commits first goes on; the other's transaction does not hold, and it stops before writing
    or sending anything."""
    cold_start(monkeypatch, LIST_PAGE_SIZE="5", KEYS_PER_MESSAGE="2", PLANNER_SHARDS="1")
    keys = [f"k{i:02}" for i in range(12)]
    for key in keys:
        put_object(world, key, b"x")
    run_id = invoke_planner({}, drain=False)["run_id"]
    shard = _the_shard(world, run_id)
    rival: list[object] = []

    def take_over() -> None:  # when the first worker is about to commit its first transaction
        _lease_runs_out(world, shard)
        _deliver_again(world, shard)
        rival.append(run_planner_workers(world))

    faults.add("dynamodb.TransactWriteItems", OPEN, action="call", times=1, before=take_over)

    late = run_planner_workers(world)

    assert len(rival) == 1  # the other worker planned the shard to its end
    assert late.responses == [{"batchItemFailures": []}]  # the late worker stopped (its shard lost), no retry
    assert _book_keys(world, run_id) == Counter(keys)
    assert Counter(o["key"] for o in queue_objects(world)) == Counter(keys)
    run = world.stores.runs.get(run_id)
    assert (run.status, run.keys_enqueued, run.keys_listed) == (RunStatus.DRAINING, 12, 12)


def test_a_cancelled_run_stops_its_planner_at_the_next_checkpoint(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="2", KEYS_PER_MESSAGE="1", PLANNER_SHARDS="1")
    for i in range(200):
        put_object(world, f"k{i:03}", b"x")
    runs = world.stores.runs

    def cancel() -> None:
        (run,) = runs.list()
        runs.cancel(run.run_id, "operator")

    faults.add("dynamodb.TransactWriteItems", OPEN, action="call", skip=1, times=1, before=cancel)
    result = invoke_planner({})
    assert result["status"] == "CANCELLED"
    run = runs.get(result["run_id"])
    assert run.keys_enqueued == MAX_ACTIONS  # the first transaction's; the second did not hold
    assert len(queue_objects(world)) == MAX_ACTIONS
