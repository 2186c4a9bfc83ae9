"""`trigger`: the planner payloads, `--wait` to the end (finalizer nudged every poll), exit codes."""

from __future__ import annotations

from hydration import MARKER_KEY
from tests.cli.conftest import FUNCTIONS, Deployed, json_out, put_objects
from tests.integration.harness import consumer_object, queue_objects
from tests.moto_faults import Faults


def test_trigger_wait_copies_everything_and_exits_0(deployed: Deployed, run_cli) -> None:
    # Given two objects in the producer bucket
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    # When a run is triggered and followed
    result = run_cli("trigger", "--wait", "--interval", "0")
    # Then it completes, the objects are in the consumer bucket under the consumer key, the marker is written
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.stdout
    assert "2 transferred" in result.stdout
    assert consumer_object(deployed.world, "data/a.txt")["head"]["SSEKMSKeyId"] == deployed.world.kms_key_arn
    deployed.world.s3.head_object(Bucket=deployed.world.consumer_bucket, Key=MARKER_KEY)
    # the planner got `{}`, the finalizer `{"run_id": ...}`
    assert deployed.invoked[0] == (FUNCTIONS["planner"], {})
    run_id = deployed.invoked[1][1]["run_id"]
    assert deployed.invoked[1] == (FUNCTIONS["finalizer"], {"run_id": run_id})
    # the progress line went to stderr
    assert "2/2 keys" in result.stderr


def test_trigger_wait_json_reports_the_finished_run(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--full", "--wait", "--json", "--interval", "0")
    assert result.exit_code == 0, result.output
    out = json_out(result)
    assert out["payload"] == {"full": True}
    assert out["plan"]["started"] is True
    assert out["run"]["status"] == "COMPLETED"
    assert out["run"]["objects_transferred"] == 1
    assert out["progress"]["keys_settled"] == out["progress"]["keys_enqueued"] == 1


def test_trigger_wait_exits_1_when_the_run_ends_with_failures(
    deployed: Deployed, run_cli, monkeypatch, faults: Faults
) -> None:
    # Given a key the copier fails on every attempt
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    put_objects(deployed.world, "data/good.txt", "data/bad.txt")
    result = run_cli("trigger", "--wait", "--interval", "0")
    # Then the run ends COMPLETED_WITH_FAILURES, the exit code says so, the key is in the DLQ
    assert result.exit_code == 1, result.output
    assert "COMPLETED_WITH_FAILURES" in result.stdout
    assert "1 failed" in result.stdout
    assert "dlq peek" in result.stdout
    assert [m["key"] for m in queue_objects(deployed.world, deployed.world.dlq_url)] == ["data/bad.txt"]


def test_trigger_without_wait_starts_the_run_and_returns(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--prefix", "data/")
    assert result.exit_code == 0, result.output
    assert "1 key(s) enqueued" in result.stdout
    assert deployed.invoked == [(FUNCTIONS["planner"], {"prefix": "data/"})]
    assert [m["key"] for m in queue_objects(deployed.world)] == ["data/a.txt"]


def test_trigger_since_sends_an_iso_time(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--since", "2024-05-01T06:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    assert deployed.invoked[0][1] == {"since": "2024-05-01T06:00:00Z"}


def test_trigger_reconcile_payload(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--reconcile", "--json")
    assert result.exit_code == 0, result.output
    assert deployed.invoked[0][1] == {"reconcile": True}


def test_dry_run_exits_1_when_keys_are_pending_and_enqueues_nothing(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    result = run_cli("trigger", "--dry-run")
    assert result.exit_code == 1, result.output
    assert "2 key(s)" in result.stdout
    assert "data/a.txt" in result.stdout
    assert deployed.invoked == [(FUNCTIONS["planner"], {"dry_run": True})]
    assert queue_objects(deployed.world) == []


def test_dry_run_with_nothing_to_copy_exits_0(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--dry-run", "--full")
    assert result.exit_code == 0, result.output
    assert deployed.invoked[0][1] == {"full": True, "dry_run": True}


def test_a_second_trigger_while_a_run_is_active_exits_1(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    assert run_cli("trigger").exit_code == 0
    result = run_cli("trigger")
    assert result.exit_code == 1
    assert "DRAINING" in result.stderr
    assert result.stderr.count("\n") == 1  # one line


def test_conflicting_modes_are_a_usage_error(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--full", "--prefix", "data/")
    assert result.exit_code == 2
    assert "choose at most one" in result.stderr
    assert deployed.invoked == []


def test_since_that_is_not_a_time_is_a_usage_error(deployed: Deployed, run_cli) -> None:
    result = run_cli("trigger", "--since", "yesterday-ish")
    assert result.exit_code == 2
    assert "is not a time" in result.stderr
    assert "Traceback" not in result.output
    assert deployed.invoked == []


def test_wait_timeout_is_bounded(deployed: Deployed, run_cli) -> None:
    # Given a run whose queue never drains (the copier does not run)
    deployed.drain_on_finalize = False
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--wait", "--timeout", "0s", "--interval", "0")
    assert result.exit_code == 1
    assert "still DRAINING" in result.stderr
    assert "runs show" in result.stderr
