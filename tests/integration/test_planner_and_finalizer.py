"""Checkpointed listing, reconcile, and the finalizer's drain rule, on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from finalizer.service import FinalizerDeps, finalize
from hydration import MARKER_KEY
from hydration.aws.state import FailureLedger, RunStore
from hydration.models import FinalizerRequest, RunRecord, RunStatus
from hydration.settings import FinalizerSettings
from tests.integration.harness import (
    World,
    cold_start,
    consumer_object,
    hydrate,
    invoke_finalizer,
    invoke_planner,
    put_object,
    queue_messages,
    run_copier,
)


def _runs(world: World) -> RunStore:
    return RunStore(boto3.client("dynamodb"), world.runs_table)


def test_listing_is_checkpointed_and_continued_across_invocations(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="3", MAX_PAGES_PER_INVOCATION="2")
    keys = [f"p/{i:03}" for i in range(20)]
    for key in keys:
        put_object(world, key, b"x")

    result = invoke_planner({})
    invocations = 1
    while result["continued"]:
        assert world.continued[-1] == result["run_id"]  # the planner asked for its own continuation
        stored = _runs(world).get(result["run_id"])
        assert stored.status is RunStatus.PLANNING
        assert stored.cursor is not None
        assert stored.cursor.continuation_token
        # Meanwhile a new trigger starts nothing.
        assert invoke_planner({})["started"] is False
        result = invoke_planner({"continue_run": result["run_id"]})
        invocations += 1

    assert invocations == 4  # 20 keys, 3 a page, 2 pages an invocation
    assert sorted(m["key"] for m in queue_messages(world)) == keys  # each exactly once
    assert _runs(world).get(result["run_id"]).keys_enqueued == 20


def test_the_time_budget_checkpoints_too(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="2")
    for i in range(5):
        put_object(world, f"k{i}", b"x")
    result = invoke_planner({}, remaining_ms=30_000)  # less than the 60 s margin: checkpoint after a page
    assert result["continued"] is True
    assert result["keys_enqueued"] == 2


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


def test_finalizer_waits_while_messages_remain(world: World) -> None:
    put_object(world, "a", b"a")
    planned = invoke_planner({})

    answer = invoke_finalizer()

    assert answer["action"] == "waiting"
    assert answer["queue"]["visible"] == 1
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)
    assert _runs(world).get(planned["run_id"]).status is RunStatus.DRAINING
    run_copier(world)
    assert invoke_finalizer()["action"] == "completed"


def test_finalizer_needs_two_empty_readings_apart(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, DRAIN_CONFIRM_SECONDS="3600")
    put_object(world, "a", b"a")
    planned = invoke_planner({})
    run_copier(world)
    assert invoke_finalizer()["action"] == "confirming"
    assert invoke_finalizer()["action"] == "confirming"  # empty again, but not an interval later
    assert _runs(world).get(planned["run_id"]).drain_seen_empty_at is not None
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)


def test_finalizer_never_advances_for_a_run_still_planning(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="1", MAX_PAGES_PER_INVOCATION="1")
    put_object(world, "a", b"a")
    put_object(world, "b", b"b")
    planned = invoke_planner({})
    assert planned["continued"]
    run_copier(world)  # the queue is empty, but the listing is not finished
    assert invoke_finalizer()["action"] == "planning"
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)


class _StaleReads:
    """A RunStore whose reads return what the run looked like earlier: a finalizer that read the run just
    before another one completed it."""

    def __init__(self, runs: RunStore, snapshot: RunRecord) -> None:
        self._runs = runs
        self._snapshot = snapshot

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runs, name)

    def get(self, run_id: str) -> RunRecord:
        return self._snapshot.model_copy(deep=True)

    def active(self) -> RunRecord:
        return self._snapshot.model_copy(deep=True)


def test_two_finalizers_at_once_complete_the_run_once(world: World) -> None:
    put_object(world, "a", b"a")
    planned = invoke_planner({})
    run_copier(world)
    settings = FinalizerSettings(
        consumer_bucket=world.consumer_bucket,
        runs_table=world.runs_table,
        failures_table=world.failures_table,
        transfer_queue_url=world.queue_url,
        drain_confirm_seconds=0,
    )
    db = boto3.client("dynamodb")
    runs = _runs(world)

    def deps(store: Any) -> FinalizerDeps:
        return FinalizerDeps(
            consumer_s3=world.s3, sqs=world.sqs, runs=store, ledger=FailureLedger(db, world.failures_table)
        )

    # Both finalizers read the drained run; the first completes it, then the second acts on what it read.
    seen_by_second = runs.get(planned["run_id"])
    first = finalize(FinalizerRequest(), settings, deps(runs), claimant="first")
    marker_after_first = world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read()
    second = finalize(FinalizerRequest(), settings, deps(_StaleReads(runs, seen_by_second)), claimant="second")

    assert (first.action, second.action) == ("completed", "claimed-elsewhere")
    assert world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read() == marker_after_first
    stored = runs.get(planned["run_id"])
    assert stored.status is RunStatus.COMPLETED
    assert runs.active() is None


def test_claims_are_exclusive(world: World) -> None:
    put_object(world, "a", b"a")
    planned = invoke_planner({})
    runs = _runs(world)
    assert runs.claim_finalization(planned["run_id"], "one", timedelta(minutes=5)) is True
    assert runs.claim_finalization(planned["run_id"], "two", timedelta(minutes=5)) is False
    # A claim left by a crashed finalizer expires.
    assert runs.claim_finalization(planned["run_id"], "three", timedelta(seconds=-1)) is True


def test_stale_planning_run_is_resumed_by_the_next_trigger(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, LIST_PAGE_SIZE="1", MAX_PAGES_PER_INVOCATION="1", STALE_PLANNING_SECONDS="60")
    put_object(world, "a", b"a")
    put_object(world, "b", b"b")
    planned = invoke_planner({})
    assert planned["continued"]
    # The continuation never arrived (say the async invoke was lost); an hour later the schedule fires.
    later = datetime.now(UTC) + timedelta(hours=1)
    import planner.service as service

    monkeypatch.setattr(
        service, "datetime", type("FrozenDatetime", (datetime,), {"now": staticmethod(lambda tz=None: later)})
    )
    cold_start(monkeypatch, MAX_PAGES_PER_INVOCATION="0")
    resumed = invoke_planner({})
    assert resumed["run_id"] == planned["run_id"]
    assert resumed["status"] == "DRAINING"
    assert sorted(m["key"] for m in queue_messages(world)) == ["a", "b"]
