"""`runs watch`: follow a run from planning to its end (the finalizer nudged each poll), waiting for a run not
there yet; the live view; exit 0 for COMPLETED, 1 for any other end."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from hydration.models import RunKind, RunStatus
from hydration_cli import render, views
from hydration_cli.ops.runs import progress
from tests.cli.conftest import FUNCTIONS, Deployed, InProcessInvoker, json_out, put_objects, text_records
from tests.moto_faults import Faults

SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2024-05-01T06:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/s3-hydration-schedule"],
    "detail": {},
}


@pytest.fixture
def one_key_per_message(monkeypatch: pytest.MonkeyPatch, deployed: Deployed) -> None:
    """Each key its own message, and the copier takes one message per poll: the run progresses poll by poll."""
    monkeypatch.setenv("KEYS_PER_MESSAGE", "1")
    deployed.copier_messages_per_nudge = 1


def progress_fields(line: str) -> list[str]:
    """A plain progress line, without its rates (they depend on the time taken)."""
    fields = line.split("  ")
    return [fields[0], fields[1], fields[-1]]


def test_watch_follows_the_active_run_poll_by_poll(deployed: Deployed, run_cli, one_key_per_message: None) -> None:
    # Given a run of three keys, started and not followed
    put_objects(deployed.world, "data/a.txt", "data/b.txt", "data/c.txt")
    assert run_cli("trigger", "--yes").exit_code == 0
    # When it is watched (no run named: the active one)
    result = run_cli("runs", "watch", "--interval", "0")
    # Then each poll shows one more key settled, and the run's end; exit 0 (COMPLETED)
    assert result.exit_code == 0, result.output
    assert [progress_fields(line) for line in result.stderr.splitlines()] == [
        ["[########----------------] 1/3 keys, 3 listed", "4 B/12 B", "DRAINING"],
        ["[################--------] 2/3 keys, 3 listed", "8 B/12 B", "DRAINING"],
        ["[########################] 3/3 keys, 3 listed", "12 B/12 B", "COMPLETED"],
    ]
    [line] = result.stdout.splitlines()
    assert re.fullmatch(
        r"run \S+ COMPLETED in \d+s: 3 transferred, 0 skipped, 0 vanished, 0 failed of 3 keys enqueued; 12 B copied",
        line,
    )


def test_watch_waits_for_a_run_just_triggered(deployed: Deployed, run_cli) -> None:
    # Given a run asked for under its id (as trigger does), whose planner Lambda has not run yet
    deployed.defer_async = True
    put_objects(deployed.world, "data/a.txt")
    run_id = "20261206T060000Z-c0ffee"
    InProcessInvoker(deployed).invoke_async(FUNCTIONS["planner"], {"new_run_id": run_id})
    # When it is watched, and Lambda runs the planner after the first poll
    result = run_cli("runs", "watch", run_id, "--interval", "0", sleep=lambda _s: deployed.run_pending())
    # Then the watch waited for the run, then followed it to its end
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"waiting for run {run_id} to start ..."
    assert result.stdout.startswith(f"run {run_id} COMPLETED in ")


def test_watch_follows_a_run_the_schedule_started(deployed: Deployed, run_cli) -> None:
    # Given the schedule's asynchronous invoke (a Scheduled Event), not yet run by Lambda
    deployed.defer_async = True
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    InProcessInvoker(deployed).invoke_async(FUNCTIONS["planner"], SCHEDULED_EVENT)
    # When the active run is watched
    result = run_cli("runs", "watch", "--interval", "0", "--output", "json", sleep=lambda _s: deployed.run_pending())
    # Then it is found once it starts, and followed to its end
    assert result.exit_code == 0, result.output
    out = json_out(result)
    assert (out["run"]["kind"], out["run"]["status"], out["run"]["objects_transferred"]) == (
        "incremental",
        "COMPLETED",
        2,
    )
    assert out["progress"]["keys_settled"] == 2


def test_watch_finds_a_run_that_started_and_ended_between_two_polls(deployed: Deployed, run_cli) -> None:
    """A short run (its workers list side by side) can start and end between two polls: the watch still
    finds it, as the run started since the watch began."""
    import contextlib
    import io

    from tests.integration.harness import run_copier

    deployed.defer_async = True
    put_objects(deployed.world, "data/a.txt")
    InProcessInvoker(deployed).invoke_async(FUNCTIONS["planner"], SCHEDULED_EVENT)

    def whole_run(_seconds: float) -> None:
        deployed.run_pending()
        with contextlib.redirect_stdout(io.StringIO()):  # the copier's log lines are not the CLI's output
            run_copier(deployed.world)  # the copier that settles the last key closes the run

    result = run_cli("runs", "watch", "--interval", "0", "--output", "json", sleep=whole_run)
    assert result.exit_code == 0, result.output
    assert (json_out(result)["run"]["status"], json_out(result)["run"]["objects_transferred"]) == ("COMPLETED", 1)


def test_watch_exits_1_for_a_run_that_ends_with_failures(deployed: Deployed, run_cli, faults: Faults) -> None:
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    put_objects(deployed.world, "data/good.txt", "data/bad.txt")
    run_id = run_cli("trigger", "--yes").stdout.split()[1]
    result = run_cli("runs", "watch", run_id, "--interval", "0", "--output", "text")
    assert result.exit_code == 1, result.output
    [run, progress_record] = text_records(result)
    assert run[:3] == ["RUN", run_id, "COMPLETED_WITH_FAILURES"]
    assert run[7:11] == ["1", "0", "0", "1"]  # transferred, skipped, vanished, failed
    assert progress_record[:5] == ["PROGRESS", "2", "2", "4", "8"]


def test_watch_exits_1_for_a_run_cancelled_meanwhile(deployed: Deployed, run_cli, one_key_per_message: None) -> None:
    # Given a run of two keys, and an operator who cancels it while it is watched
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    run_id = run_cli("trigger", "--yes").stdout.split()[1]

    def cancel_once(_seconds: float) -> None:
        deployed.world.stores.runs.cancel(run_id, "stopped for the test")

    result = run_cli("runs", "watch", run_id, "--interval", "0", sleep=cancel_once)
    # Then the watch ends with the run, exit 1
    assert result.exit_code == 1, result.output
    first, error = result.stdout.splitlines()
    assert first.startswith(f"run {run_id} CANCELLED in ")
    assert error == "error: stopped for the test"
    assert deployed.world.stores.runs.get(run_id).status is RunStatus.CANCELLED


def test_watch_of_a_run_that_never_appears_exits_1(deployed: Deployed, run_cli) -> None:
    result = run_cli("runs", "watch", "20990101T000000Z-abcdef", "--start-timeout", "0s")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: run 20990101T000000Z-abcdef did not appear within 0:00:00: the planner may have started nothing "
        "(s3-hydration logs --function planner --errors; s3-hydration dlq peek --invocation)\n"
    )


def test_watch_without_an_active_run_exits_1(deployed: Deployed, run_cli) -> None:
    result = run_cli("runs", "watch", "--start-timeout", "0s", "--output", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: no run became active within 0:00:00 (s3-hydration runs list shows the last ones)\n"


def test_watch_of_an_ended_run_reports_it_at_once(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    run_id = json_out(run_cli("trigger", "--yes", "--wait", "--interval", "0", "--output", "json"))["run_id"]
    result = run_cli("runs", "watch", run_id)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"run {run_id} COMPLETED in ")


def test_the_live_view_shows_keys_bytes_rate_eta_and_failures(deployed: Deployed) -> None:
    # Given a run half way: 6 listed, 4 enqueued, 2 settled (one failed) in 10 s
    from hydration.models import RunRecord

    started = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    run = RunRecord(
        run_id="20240501T060000Z-abc123",
        status=RunStatus.DRAINING,
        kind=RunKind.FULL,
        watermark=started,
        started_at=started,
        planning_complete=True,
        keys_listed=6,
        keys_enqueued=4,
        bytes_enqueued=4096,
        objects_transferred=1,
        objects_failed=1,
        bytes_transferred=1024,
    )
    view = render.as_str(views.watch_view(progress(run, datetime(2024, 5, 1, 6, 0, 10, tzinfo=UTC))))
    first, bar, *lines = view.splitlines()
    assert first == "run       20240501T060000Z-abc123  full  DRAINING  10s"
    assert bar == "settled   " + "━" * 24  # half of the bar (the rest is blank without colour)
    assert lines == [
        "keys      2 settled of 4 enqueued, 6 listed (done)",
        "outcomes  1 transferred, 0 skipped, 0 vanished, 0 archived, 1 failed",
        "bytes     1.0 KiB of 4.0 KiB",
        "rate      102 B/s  0.2 keys/s",
        "ETA       10s",
    ]


def test_a_planning_run_shows_its_shards_and_listing_rate() -> None:
    """While a run plans, its shards' live counts: done of all (cut and split), in flight (a worker holds the
    lease), and the keys its workers listed a second."""
    from datetime import timedelta

    from hydration.models import RunRecord, Shard, ShardStatus

    started = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    now = started + timedelta(seconds=10)
    run = RunRecord(run_id="r", status=RunStatus.PLANNING, kind=RunKind.FULL, watermark=started, started_at=started)
    shards = [
        Shard(run_id="r", shard_id="s0000", status=ShardStatus.DONE, keys_listed=30_000),
        Shard(run_id="r", shard_id="s0001", keys_listed=15_000, owner="w", lease_until=now + timedelta(seconds=60)),
        Shard(run_id="r", shard_id="s0001-1", keys_listed=5_000, owner="dead", lease_until=now - timedelta(seconds=1)),
    ]
    p = progress(run, now, shards)
    assert (p.shards_total, p.shards_done, p.shards_in_flight, p.keys_listed) == (3, 1, 1, 50_000)
    assert views.planning_text(p) == "shards 1/3 done, 1 in flight, 5,000 keys/s listed"
    assert "50,000 listed (planning: shards 1/3 done, 1 in flight, 5,000 keys/s listed)" in views.progress_text(p)
