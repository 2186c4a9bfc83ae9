"""The finalizer's rules over in-memory fakes: when a run closes, when its unsettled keys are swept into the
ledger, when it ends INCOMPLETE, what the DLQ sweep adds, when a stopped planner is continued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from finalizer.service import FinalizerDeps, finalize
from hydration.closing import Closing
from hydration.models import (
    FinalizerRequest,
    ManifestEntry,
    ObjectRef,
    QueueDepth,
    RunKind,
    RunRecord,
    RunStatus,
    Sheet,
    Task,
    TransferMessage,
)
from hydration.settings import FinalizerSettings
from tests.fakes import FakeEvents, FakeLedger, FakeManifest, FakeMarker, FakeRuns, RecordingContinuation

START = datetime(2026, 11, 1, 6, tzinfo=UTC)
EMPTY = QueueDepth(visible=0, in_flight=0, delayed=0)
SHEET = "00000001.00"


class World:
    def __init__(self, keys: list[str], *, planned: bool = True, confirm: int = 0) -> None:
        self.now = START + timedelta(minutes=10)
        self.runs = FakeRuns()
        self.ledger = FakeLedger()
        self.manifest = FakeManifest(ledger=self.ledger)
        self.marker = FakeMarker()
        self.depth = EMPTY
        self.dlq: list[str] = []
        self.planner = RecordingContinuation()
        self.runs.create(
            RunRecord(
                run_id="r",
                status=RunStatus.PLANNING,
                kind=RunKind.INCREMENTAL,
                watermark=START,
                started_at=START,
                shards_cut=True,  # its shards are all done: finish_planning may move it on
            )
        )
        tasks = [Task(run_id="r", bucket="producer", key=k, size=1, etag='"e"', last_modified=START) for k in keys]
        self.slots = {key: slot for slot, key in enumerate(keys)}
        if tasks:
            self.runs.books.open("r", [Sheet.of("r", SHEET, "producer", tasks, START)])
        if planned:
            self.runs.finish_planning(self.runs.get("r"))
        self.deps = FinalizerDeps(
            settings=FinalizerSettings(
                consumer_bucket="consumer",
                runs_table="r",
                books_table="b",
                failures_table="f",
                manifest_table="m",
                transfer_queue_url="q",
                drain_confirm_seconds=confirm,
                stale_planning_seconds=60,
            ),
            runs=self.runs,
            books=self.runs.books,
            lookup=self.manifest.lookup,
            closing=Closing(
                runs=self.runs, ledger=self.ledger, marker=self.marker, events=FakeEvents(), clock=lambda: self.now
            ),
            queue_depth=lambda: self.depth,
            dlq_bodies=lambda limit: self.dlq[:limit],
            planner=self.planner,
            clock=lambda: self.now,
        )

    def finalize(self) -> Any:
        return finalize(FinalizerRequest(), self.deps, claimant="me")


def test_a_balanced_run_is_closed() -> None:
    world = World([])
    answer = world.finalize()
    assert (answer.action, answer.status) == ("completed", "COMPLETED")
    assert world.marker.writes[0].synced_to == START


def test_a_run_waits_while_its_queue_holds_messages() -> None:
    world = World(["a"])
    world.depth = QueueDepth(visible=1, in_flight=0, delayed=0)
    assert world.finalize().action == "waiting"
    assert world.ledger.get("a") is None


def test_unsettled_keys_are_swept_only_after_two_empty_readings_an_interval_apart() -> None:
    world = World(["a", "b"], confirm=60)
    world.runs.books.settle("r", [_settled("a", world.slots["a"])])
    assert world.finalize().action == "confirming"
    world.now += timedelta(seconds=30)
    assert world.finalize().action == "confirming"
    world.now += timedelta(seconds=31)
    answer = world.finalize()
    assert (answer.action, answer.status, answer.unsettled_swept) == ("completed", "COMPLETED_WITH_FAILURES", 1)
    failure = world.ledger.get("b")
    assert failure is not None
    assert failure.error_code == "Unsettled"
    assert world.marker.writes[-1].synced_to == START  # held at the swept key's LastModified


def test_a_sweep_that_cannot_complete_ends_the_run_incomplete_and_the_marker_stays() -> None:
    world = World(["a"])

    def broken(failure: Any) -> None:
        raise RuntimeError("DynamoDB is down")

    world.ledger.record = broken  # type: ignore[method-assign]
    answer = world.finalize()
    assert (answer.action, answer.status) == ("completed", "INCOMPLETE")
    assert world.marker.writes == []


def test_the_dlq_sweep_adds_keys_without_a_ledger_entry_unless_they_landed_since() -> None:
    world = World([])
    obj = ObjectRef(key="dead", size=1, etag='"e"', last_modified=START)
    landed = ObjectRef(key="landed", size=1, etag='"e"', last_modified=START)
    world.manifest.entries["landed"] = ManifestEntry(
        key="landed", etag='"e"', last_modified=START, size=1, copied_at=START
    )
    world.dlq = [
        TransferMessage(run_id="old", bucket="producer", objects=[obj, landed]).to_body(),
        "not a transfer message",
    ]
    assert world.finalize().dlq_keys_added == 1
    assert world.ledger.get("dead") is not None
    assert world.ledger.get("landed") is None


def test_a_planning_run_without_a_heartbeat_is_continued() -> None:
    world = World(["a"], planned=False)
    world.now = START + timedelta(seconds=30)  # the run's heartbeat is its start
    assert world.finalize().action == "planning"
    world.now = START + timedelta(hours=1)
    assert world.finalize().action == "resumed-planning"
    assert world.planner.run_ids == ["r"]


def test_the_marker_write_failing_leaves_the_run_for_the_next_pass() -> None:
    world = World([])
    world.marker.fail_writes = 1
    with pytest.raises(ClientError, match="injected"):  # the invocation fails; its claim is released
        world.finalize()
    assert world.runs.get("r").status is RunStatus.DRAINING
    assert world.finalize().status == "COMPLETED"


def _settled(key: str, slot: int) -> Any:
    from hydration.models import Outcome, Settlement

    return Settlement(key, Outcome.TRANSFERRED, 1, sheet=SHEET, slot=slot)
