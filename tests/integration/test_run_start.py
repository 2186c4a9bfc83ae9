"""How a run starts, on moto: the hold-back is in the record that starts the run (a retried planner keeps it),
every multipart upload in flight holds the marker however old, and a run that cannot start says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hydration import MARKER_KEY
from hydration.marker import parse
from hydration.models import RunStatus
from tests.integration.harness import (
    FakeContext,
    World,
    consumer_object,
    hydrate,
    invoke_finalizer,
    invoke_planner,
    put_object,
    run_copier,
    run_planner_workers,
)
from tests.integration.producer_times import complete_upload, start_upload
from tests.moto_faults import Faults, InjectedCrash


def _marker(world: World) -> datetime:
    body = world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode()
    return parse(body).synced_to


def test_a_planner_retried_before_its_first_page_keeps_the_hold_back(world: World, faults: Faults) -> None:
    """Issue 15: a planner invocation dies after it wrote the run, before its first page (here: cutting the
    run into shards) and Lambda retries it (same request id). The retry resumes the run it created; the
    hold-back for the upload in flight must be in that run."""
    from planner.handler import lambda_handler

    # Given a marker from an earlier run and a multipart upload started 2 hours ago, still in flight
    put_object(world, "earlier.txt", b"earlier")
    hydrate(world)
    upload_id = start_upload(world, "big.bin", age=timedelta(hours=2))
    # When the planner dies on its first page and Lambda retries the same invocation
    faults.add("dynamodb.TransactWriteItems", match="shards_cut", action="crash", times=1)
    context = FakeContext(function_name="s3-hydration-planner")
    with pytest.raises(InjectedCrash):
        lambda_handler({}, context)
    retried = lambda_handler({}, context)
    run_planner_workers(world)  # the planner queue's event source: the run's shards
    run_copier(world)
    invoke_finalizer({"run_id": retried["run_id"]})
    # Then the run completed with the marker before the upload's start
    run = world.stores.runs.get(retried["run_id"])
    assert run.status is RunStatus.COMPLETED
    upload_started = complete_upload(world, "big.bin", upload_id, b"the big object")
    assert run.marker_written is not None
    assert run.marker_written <= upload_started
    assert (run.held_back_by, run.inflight_uploads) == ("big.bin", 1)
    # And the upload, completed since (S3 stamps it with its start, 2 hours ago), lands with the next run
    after = hydrate(world)
    assert after["status"] == "COMPLETED"
    assert consumer_object(world, "big.bin")["body"] == b"the big object"


def test_an_upload_in_flight_for_longer_than_a_week_still_holds_the_marker(world: World) -> None:
    """Issue 15: an upload in flight longer than INFLIGHT_UPLOAD_MAX_AGE_SECONDS (7 days) was ignored by the
    watermark; when it completed, no incremental run selected it."""
    put_object(world, "earlier.txt", b"earlier")
    hydrate(world)
    upload_id = start_upload(world, "slow/upload.bin", age=timedelta(days=9))
    put_object(world, "meanwhile.txt", b"meanwhile")

    held = hydrate(world)

    assert held["status"] == "COMPLETED"
    started = complete_upload(world, "slow/upload.bin", upload_id, b"nine days in the making")
    assert _marker(world) <= started
    landed = hydrate(world)
    assert landed["status"] == "COMPLETED"
    assert consumer_object(world, "slow/upload.bin")["body"] == b"nine days in the making"
    assert consumer_object(world, "meanwhile.txt")["body"] == b"meanwhile"
    # The run that held the marker named the upload; once nothing is in flight, the marker moves on.
    assert (held["held_back_by"], landed["held_back_by"]) == ("slow/upload.bin", None)
    assert _marker(world) >= datetime.fromisoformat(landed["started_at"]) - timedelta(seconds=1)


def test_the_upload_pinning_the_marker_is_named_in_a_warning_past_the_alarm_time(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    start_upload(world, "stuck/forever.bin", age=timedelta(days=2))  # the alarm time defaults to a day
    with caplog.at_level("WARNING"):
        hydrate(world)
    named = [(r.getMessage(), getattr(r, "key", None)) for r in caplog.records if r.levelname == "WARNING"]
    assert ("InflightUploadPinsMarker", "stuck/forever.bin") in named


def test_the_watermark_is_in_the_record_that_starts_the_run(world: World, faults: Faults) -> None:
    """Whatever happens after the run record is written, the hold-back is already in it."""
    from planner.handler import lambda_handler

    start_upload(world, "big.bin", age=timedelta(minutes=30))
    faults.add("s3.ListObjectsV2", action="crash")
    with pytest.raises(InjectedCrash):
        lambda_handler({}, FakeContext(function_name="s3-hydration-planner"))
    stored = world.stores.runs.active()
    assert stored is not None
    assert stored.status is RunStatus.PLANNING
    assert stored.watermark < datetime.now(UTC) - timedelta(minutes=29)
    assert stored.held_back_by == "big.bin"


def test_a_run_asked_for_while_another_is_active_is_recorded_as_refused(world: World) -> None:
    """Two triggers at the same moment: the loser's planner refused on the lock and only logged it, so the run
    id its caller printed never appeared. The planner now records it as REFUSED under that id."""
    put_object(world, "a.txt", b"a")
    winner = invoke_planner({"new_run_id": "20261206T060000Z-aaaaaa"})

    loser = invoke_planner({"full": True, "new_run_id": "20261206T060000Z-bbbbbb"})

    assert (loser["started"], loser["run_id"], loser["refused_run_id"]) == (
        False,
        winner["run_id"],
        "20261206T060000Z-bbbbbb",
    )
    refused = world.stores.runs.get("20261206T060000Z-bbbbbb")
    assert refused.status is RunStatus.REFUSED
    assert refused.error is not None
    assert f"run {winner['run_id']} is DRAINING" in refused.error
    assert world.stores.runs.active_run_id() == winner["run_id"]  # the refusal took no lock
    run_copier(world)
    assert world.stores.runs.get(winner["run_id"]).status is RunStatus.COMPLETED
    assert consumer_object(world, "a.txt")["body"] == b"a"


def test_a_scheduled_run_refused_on_the_lock_is_not_recorded(world: World) -> None:
    """A run nobody follows by id (the schedule's) is refused with a log line and a metric, no record."""
    put_object(world, "a.txt", b"a")
    invoke_planner({})
    before = {run.run_id for run in world.stores.runs.list()}
    refused = invoke_planner({"reconcile": True})
    assert refused["started"] is False
    assert {run.run_id for run in world.stores.runs.list()} == before
