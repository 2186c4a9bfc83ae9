"""`trigger`: an asynchronous start under a run id printed at once, the run kinds (`--full`, `--prefix`,
`--since`, `--key`, `--reconcile`, `--force`), `--dry-run`, `--wait` to the end, exit codes."""

from __future__ import annotations

import contextlib
import io
import re
from datetime import UTC, datetime, timedelta

from hydration import MARKER_KEY
from hydration.models import RunKind, RunRecord, RunStatus
from tests.cli.conftest import Deployed, json_out, put_objects, text_records
from tests.integration.harness import consumer_object, queue_objects
from tests.moto_faults import Faults

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def started_run(deployed: Deployed, stdout: str) -> RunRecord:
    """The run the table output names (`run R started (...)` / `follow it: s3-hydration runs watch R`)."""
    [run_id] = set(RUN_ID.findall(stdout))
    return deployed.world.stores.runs.get(run_id)


def test_trigger_prints_the_new_run_id_once_the_run_exists(deployed: Deployed, run_cli) -> None:
    # Given Lambda runs the planner a poll after the asynchronous invoke
    deployed.defer_async = True
    put_objects(deployed.world, "data/a.txt")
    polls: list[int] = []

    def lambda_gets_round_to_it(_seconds: float) -> None:
        polls.append(len(deployed.world.stores.runs.list()))
        deployed.run_pending()

    result = run_cli("trigger", "--yes", sleep=lambda_gets_round_to_it)
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert re.fullmatch(rf"run ({RUN_ID.pattern}) started \(incremental\)", first)
    run_id = first.split()[1]
    assert second == f"follow it: s3-hydration runs watch {run_id}"
    assert polls == [0]  # it waited for the planner: nothing had run when it first looked
    # The run it names exists, under that id
    run = deployed.world.stores.runs.get(run_id)
    assert (run.kind, run.status, run.keys_enqueued) == (RunKind.INCREMENTAL, RunStatus.DRAINING, 1)


def test_two_triggers_at_the_same_moment_the_loser_is_told_its_run_did_not_start(deployed: Deployed, run_cli) -> None:
    """Issue 15: both triggers saw no active run and printed a run id; the loser's planner refused on the lock
    and only logged it, so its run never appeared. Now the loser exits 1 naming the run that won."""
    from tests.integration.harness import invoke_planner

    deployed.defer_async = True
    put_objects(deployed.world, "data/a.txt")
    winner: list[str] = []

    def the_other_trigger_wins_then_lambda_runs_ours(_seconds: float) -> None:
        if not winner:  # the other trigger's planner takes the lock first
            with contextlib.redirect_stdout(io.StringIO()):
                winner.append(invoke_planner({"full": True})["run_id"])
        deployed.run_pending()

    result = run_cli("trigger", "--yes", sleep=the_other_trigger_wins_then_lambda_runs_ours)

    assert result.exit_code == 1, result.output
    [requested] = [payload["new_run_id"] for _, payload in deployed.invoked]
    assert result.stderr.strip() == (
        f"Error: run {requested} not started: run {winner[0]} is DRAINING (follow it: s3-hydration runs watch "
        f"{winner[0]}); a new run starts once it has finished"
    )
    assert deployed.world.stores.runs.get(requested).status is RunStatus.REFUSED
    assert deployed.world.stores.runs.active_run_id() == winner[0]


def test_trigger_wait_copies_everything_and_exits_0(deployed: Deployed, run_cli) -> None:
    # Given two objects in the producer bucket
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    # When a run is triggered and followed
    result = run_cli("trigger", "--yes", "--wait", "--interval", "0")
    # Then it completes, the objects are in the consumer bucket under the consumer key, the marker is written
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert re.fullmatch(
        rf"run {RUN_ID.pattern} COMPLETED in \d+s: 2 transferred, 0 skipped, 0 vanished, 0 failed of 2 keys "
        r"enqueued; 8 B copied",
        line,
    )
    assert consumer_object(deployed.world, "data/a.txt")["head"]["SSEKMSKeyId"] == deployed.world.kms_key_arn
    deployed.world.s3.head_object(Bucket=deployed.world.consumer_bucket, Key=MARKER_KEY)
    # the start and the progress went to stderr, one line per change (not a terminal)
    run_id = line.split()[1]
    lines = result.stderr.splitlines()
    assert lines[0] == f"run {run_id} started (incremental)"
    fields = lines[-1].split("  ")
    assert fields[0] == "[########################] 2/2 keys, 2 listed"
    assert fields[1] == "8 B/8 B"
    assert fields[-1] == "COMPLETED"


def test_trigger_wait_json_reports_the_finished_run(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--yes", "--full", "--wait", "--output", "json", "--interval", "0")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress with --output json
    out = json_out(result)
    assert out["payload"] == {"full": True, "new_run_id": out["run_id"]}
    assert out["kind"] == "full"
    assert out["run"]["run_id"] == out["run_id"]
    assert out["run"]["status"] == "COMPLETED"
    assert out["run"]["objects_transferred"] == 1
    assert out["progress"]["keys_settled"] == out["progress"]["keys_enqueued"] == 1


def test_trigger_wait_exits_1_when_the_run_ends_with_failures(deployed: Deployed, run_cli, faults: Faults) -> None:
    # Given a key the copier fails on every attempt
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    put_objects(deployed.world, "data/good.txt", "data/bad.txt")
    result = run_cli("trigger", "--yes", "--wait", "--interval", "0")
    # Then the run ends COMPLETED_WITH_FAILURES, the exit code says so, the key is in the DLQ
    assert result.exit_code == 1, result.output
    first, last = result.stdout.splitlines()
    assert " COMPLETED_WITH_FAILURES in " in first
    assert "1 transferred, 0 skipped, 0 vanished, 1 failed of 2 keys enqueued" in first
    assert last == "1 key(s) in the failure ledger: s3-hydration failures list"
    assert [m["key"] for m in queue_objects(deployed.world, deployed.world.dlq_url)] == ["data/bad.txt"]


def test_trigger_waits_for_its_run_to_appear(deployed: Deployed, run_cli) -> None:
    # Given Lambda runs the planner only a poll later
    deployed.defer_async = True
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--yes", "--wait", "--interval", "0", sleep=lambda _s: deployed.run_pending())
    assert result.exit_code == 0, result.output
    run_id = result.stdout.split()[1]
    assert result.stderr.splitlines()[0] == f"run {run_id} started (incremental)"
    assert deployed.world.stores.runs.get(run_id).status is RunStatus.COMPLETED


def test_trigger_prefix_copies_only_that_prefix(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt", "other/b.txt")
    result = run_cli("trigger", "--yes", "--prefix", "data/")
    assert result.exit_code == 0, result.output
    run = started_run(deployed, result.stdout)
    assert (run.kind, run.prefixes) == (RunKind.PREFIX, ["data/"])
    assert [m["key"] for m in queue_objects(deployed.world)] == ["data/a.txt"]


def test_trigger_since_selects_from_that_time(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--yes", "--since", "2024-05-01T06:00:00Z", "--output", "json")
    assert result.exit_code == 0, result.output
    run = deployed.world.stores.runs.get(json_out(result)["run_id"])
    assert (run.kind, run.since) == (RunKind.SINCE, datetime(2024, 5, 1, 6, tzinfo=UTC))


def test_trigger_reconcile(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--yes", "--reconcile", "--output", "json")
    assert result.exit_code == 0, result.output
    assert deployed.world.stores.runs.get(json_out(result)["run_id"]).kind is RunKind.RECONCILE


def test_force_key_copies_keys_the_consumer_already_holds(deployed: Deployed, run_cli) -> None:
    # Given keys already hydrated
    put_objects(deployed.world, "data/a.txt", "data/b.txt", "data/c.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 0
    # When one is asked for again without --force, it is not even enqueued (the consumer holds that version)
    plain = json_out(
        run_cli("trigger", "--yes", "--key", "data/a.txt", "--wait", "--interval", "0", "--output", "json")
    )
    assert (plain["run"]["kind"], plain["run"]["keys_unchanged"], plain["run"]["keys_enqueued"]) == ("keys", 1, 0)
    # and with --force, both named keys are copied again
    result = run_cli(
        "trigger",
        "--yes",
        "--force",
        "--key",
        "data/a.txt",
        "--key",
        "data/b.txt",
        "--wait",
        "--interval",
        "0",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.output
    out = json_out(result)
    assert out["payload"] == {"keys": ["data/a.txt", "data/b.txt"], "force": True, "new_run_id": out["run_id"]}
    run = deployed.world.stores.runs.get(out["run_id"])
    assert (run.kind, run.force, run.keys) == (RunKind.KEYS, True, ["data/a.txt", "data/b.txt"])
    assert (run.keys_enqueued, run.objects_transferred, run.objects_skipped) == (2, 2, 0)


def test_force_prefix_copies_the_prefix_again(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt", "other/b.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 0
    result = run_cli("trigger", "--yes", "--force", "--prefix", "data/", "--wait", "--interval", "0")
    assert result.exit_code == 0, result.output
    assert "1 transferred, 0 skipped, 0 vanished, 0 failed of 1 keys enqueued" in result.stdout
    assert "started (prefix, forced)" in result.stderr


def test_force_with_reconcile_is_a_usage_error(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--yes", "--force", "--reconcile")
    assert result.exit_code == 2
    assert "force: a reconcile run already copies whatever differs" in result.stderr
    assert deployed.world.stores.runs.list() == []


def test_key_with_another_mode_is_a_usage_error(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--yes", "--key", "data/a.txt", "--prefix", "data/")
    assert result.exit_code == 2
    assert "choose at most one of --full, --prefix, --since, --key, --reconcile (got --prefix --key)" in result.stderr


def test_dry_run_exits_3_when_keys_are_pending_and_enqueues_nothing(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    result = run_cli("trigger", "--dry-run", "--exit-code")
    assert result.exit_code == 3, result.output
    assert result.stdout == "dry run (incremental): 2 key(s), 8 B would be enqueued\n  data/a.txt\n  data/b.txt\n"
    assert queue_objects(deployed.world) == []
    # the dry run's record (its workers listed the bucket as a run's do), which took no lock and moved nothing
    (dry,) = deployed.world.stores.runs.list()
    assert (dry.dry_run, dry.status, dry.keys_selected, dry.keys_enqueued) == (True, RunStatus.COMPLETED, 2, 0)
    assert deployed.world.stores.runs.active() is None


def test_dry_run_with_nothing_to_copy_exits_0(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--yes", "--dry-run", "--full", "--output", "json")
    assert result.exit_code == 0, result.output
    out = json_out(result)
    assert out["payload"] == {"full": True, "dry_run": True}
    assert (out["plan"]["dry_run"], out["plan"]["keys_enqueued"], out["run_id"]) == (True, 0, None)


def test_dry_run_text_records(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--dry-run", "--output", "text")
    assert result.exit_code == 0
    (dry,) = deployed.world.stores.runs.list()
    assert text_records(result) == [
        ["PLAN", dry.run_id, "incremental", "True", "False", "1", "4"],
        ["KEY", "data/a.txt"],
    ]


def test_started_text_record(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--yes", "--force", "--full", "--output", "text")
    assert result.exit_code == 0
    [[record, run_id, *rest]] = text_records(result)
    assert (record, rest) == ("STARTED", ["full", "True", "False"])
    assert RUN_ID.fullmatch(run_id)


def test_a_second_trigger_while_a_run_is_active_exits_1(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    active = started_run(deployed, run_cli("trigger", "--yes").stdout)
    result = run_cli("trigger", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: run {active.run_id} is DRAINING; nothing started (follow it: s3-hydration runs watch "
        f"{active.run_id}; stop it: s3-hydration runs cancel {active.run_id})\n"
    )
    assert [r.run_id for r in deployed.world.stores.runs.list()] == [active.run_id]


def test_a_run_that_stopped_planning_is_continued_and_followed(deployed: Deployed, run_cli) -> None:
    # Given a run left PLANNING by a planner that died an hour ago (no heartbeat since)
    put_objects(deployed.world, "data/a.txt")
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    stalled = RunRecord(
        run_id="20240501T060000Z-dead00",
        status=RunStatus.PLANNING,
        kind=RunKind.INCREMENTAL,
        watermark=long_ago,
        prefixes=[""],
        started_at=long_ago,
        heartbeat_at=long_ago,
    )
    deployed.world.stores.runs.create(stalled)
    # When a run is triggered and followed
    result = run_cli("trigger", "--yes", "--wait", "--interval", "0", "--output", "json")
    # Then the planner continued that run, and trigger followed it to its end
    assert result.exit_code == 0, result.output
    out = json_out(result)
    assert (out["run_id"], out["resumed"], out["run"]["status"]) == (stalled.run_id, True, "COMPLETED")
    assert out["run"]["objects_transferred"] == 1
    assert [r.run_id for r in deployed.world.stores.runs.list()] == [stalled.run_id]


def test_since_that_is_not_a_time_is_a_usage_error(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--yes", "--since", "yesterday-ish")
    assert result.exit_code == 2
    assert "is not a time" in result.stderr
    assert "Traceback" not in result.output
    assert deployed.world.stores.runs.list() == []


def test_wait_timeout_is_bounded(deployed: Deployed, run_cli) -> None:
    # Given a run whose queue never drains (the copier does not run)
    deployed.drain_on_finalize = False
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--yes", "--wait", "--timeout", "0s", "--interval", "0")
    assert result.exit_code == 1
    run_id = result.stderr.split()[1]
    assert result.stderr.splitlines()[-1] == (
        f"Error: run {run_id} is still DRAINING after 0:00:00; it goes on without us: s3-hydration runs watch {run_id}"
    )
