"""The planner's books on moto: sheets opened in the transaction of the checkpoint that covers them, so a run
opens each key once whatever invocation plans it, dies or races another; the message names its sheet."""

from __future__ import annotations

from collections import Counter

import pytest

from hydration.models import RunStatus
from tests.integration.harness import (
    World,
    cold_start,
    invoke_planner,
    put_object,
    queue_messages,
    queue_objects,
)
from tests.moto_faults import Faults, InjectedCrash

OPEN = r"'s#"  # a books transaction that opens sheets (their sort keys)


def _book_keys(world: World, run_id: str) -> Counter[str]:
    return Counter(task.key for task in world.stores.books.tasks(run_id))


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
    """The first transaction (its sheets and the checkpoint after them) commits, the invocation dies before the
    second: the run resumes after exactly what was opened. Nothing is opened twice, nothing is skipped."""
    cold_start(monkeypatch, LIST_PAGE_SIZE="4", KEYS_PER_MESSAGE="1", STALE_PLANNING_SECONDS="60")
    keys = [f"k{i:03}" for i in range(150)]  # 150 sheets of one key: two transactions (97 a transaction)
    for key in keys:
        put_object(world, key, b"x")
    faults.add("dynamodb.TransactWriteItems", OPEN, action="crash", skip=1, times=1)
    with pytest.raises(InjectedCrash):
        invoke_planner({})
    (run,) = world.stores.runs.list()
    assert run.status is RunStatus.PLANNING
    assert (run.keys_enqueued, run.checkpoints) == (97, 1)
    assert run.cursor is not None
    assert run.cursor.start_after == keys[96]  # the checkpoint names the last key its transaction opened
    assert run.keys_listed == 97

    resumed = invoke_planner({"continue_run": run.run_id})

    assert resumed["status"] == "DRAINING"
    assert _book_keys(world, run.run_id) == Counter(keys)  # each exactly once
    assert world.stores.runs.get(run.run_id).keys_listed == 150
    assert Counter(o["key"] for o in queue_objects(world)) == Counter(keys[:97] + keys[97:])  # sent once each


def test_two_invocations_planning_one_run_open_each_key_once(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A continuation arrives while the invocation it was meant to replace still runs (a planner thought
    stale): the one whose checkpoint commits first goes on; the other's transaction does not hold, and it
    stops before writing or sending anything."""
    cold_start(monkeypatch, LIST_PAGE_SIZE="5", MAX_PAGES_PER_INVOCATION="1", KEYS_PER_MESSAGE="2")
    keys = [f"k{i:02}" for i in range(12)]
    for key in keys:
        put_object(world, key, b"x")
    first = invoke_planner({})
    assert first["continued"]
    cold_start(monkeypatch, MAX_PAGES_PER_INVOCATION="0")
    run_id = first["run_id"]
    rival: list[dict] = []
    # When the second invocation is about to commit its first transaction, a third one plans the whole run
    faults.add(
        "dynamodb.TransactWriteItems",
        OPEN,
        action="call",
        times=1,
        before=lambda: rival.append(invoke_planner({"continue_run": run_id})),
    )

    late = invoke_planner({"continue_run": run_id})

    assert rival[0]["status"] == "DRAINING"
    assert "checkpoint moved" in late["message"]
    assert _book_keys(world, run_id) == Counter(keys)
    assert Counter(o["key"] for o in queue_objects(world)) == Counter(keys)
    run = world.stores.runs.get(run_id)
    assert (run.status, run.keys_enqueued, run.keys_listed) == (RunStatus.DRAINING, 12, 12)


def test_a_cancelled_run_stops_its_planner_at_the_next_checkpoint(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="2", KEYS_PER_MESSAGE="1")
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
    assert run.keys_enqueued == 97  # the first transaction's; the second did not hold
    assert len(queue_objects(world)) == 97
