"""`last-sync` and `reset-sync`: read back the marker object in the consumer bucket."""

from __future__ import annotations

from datetime import UTC, datetime

from hydration import MARKER_KEY
from hydration.marker import Marker
from tests.cli.conftest import Deployed, json_out

SYNCED = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


def write_marker(deployed: Deployed, text: str | None = None) -> None:
    body = text if text is not None else Marker(SYNCED, {"run_id": "r-1", "kind": "incremental"}).render()
    deployed.world.s3.put_object(Bucket=deployed.world.consumer_bucket, Key=MARKER_KEY, Body=body.encode())


def marker_exists(deployed: Deployed) -> bool:
    listed = deployed.world.s3.list_objects_v2(Bucket=deployed.world.consumer_bucket, Prefix=MARKER_KEY)
    return listed.get("KeyCount", 0) == 1


def test_last_sync_reads_the_marker(deployed: Deployed, run_cli) -> None:
    write_marker(deployed)
    result = run_cli("last-sync", clock=lambda: datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    assert result.exit_code == 0, result.output
    assert result.stdout == "synced to 2024-05-01 06:00:00Z (3h30m ago)  by run r-1 (incremental, 0 failed key(s))\n"


def test_last_sync_text_is_one_tab_separated_record(deployed: Deployed, run_cli) -> None:
    write_marker(deployed)
    result = run_cli("last-sync", "--output", "text", clock=lambda: datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    assert result.stdout == "LASTSYNC\tTrue\t2024-05-01T06:00:00Z\t12600.0\tr-1\n"


def test_last_sync_json(deployed: Deployed, run_cli) -> None:
    write_marker(deployed)
    out = json_out(run_cli("last-sync", "--output", "json"))
    assert out["exists"] is True
    assert out["synced_to"] == "2024-05-01T06:00:00Z"
    assert out["detail"] == {"run_id": "r-1", "kind": "incremental"}
    assert out["marker_key"] == MARKER_KEY


def test_last_sync_without_a_marker(deployed: Deployed, run_cli) -> None:
    result = run_cli("last-sync")
    assert result.exit_code == 0
    assert "no sync marker" in result.stdout


def test_last_sync_with_a_marker_that_does_not_parse_exits_1(deployed: Deployed, run_cli) -> None:
    write_marker(deployed, "not a time\n")
    result = run_cli("last-sync")
    assert result.exit_code == 1
    assert "is not an ISO-8601 time" in result.stderr
    assert "Traceback" not in result.output


def test_reset_sync_yes_deletes_the_marker(deployed: Deployed, run_cli) -> None:
    write_marker(deployed)
    result = run_cli("reset-sync", "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted" in result.stdout
    assert not marker_exists(deployed)


def test_reset_sync_asks_and_a_no_keeps_the_marker(deployed: Deployed, run_cli) -> None:
    write_marker(deployed)
    result = run_cli("reset-sync", input="n\n")
    assert result.exit_code == 1
    assert "Delete s3://consumer-data/_s3_hydration_last_sync?" in result.stderr
    assert marker_exists(deployed)


def test_reset_sync_asks_and_a_yes_deletes(deployed: Deployed, run_cli) -> None:
    write_marker(deployed)
    result = run_cli("reset-sync", input="y\n")
    assert result.exit_code == 0, result.output
    assert not marker_exists(deployed)


def test_reset_sync_also_deletes_an_unparseable_marker(deployed: Deployed, run_cli) -> None:
    write_marker(deployed, "garbage")
    assert run_cli("reset-sync", "--yes").exit_code == 0
    assert not marker_exists(deployed)


def test_reset_sync_without_a_marker_is_a_no_op(deployed: Deployed, run_cli) -> None:
    result = run_cli("reset-sync", "--yes")
    assert result.exit_code == 0
    assert result.stdout == "no sync marker in s3://consumer-data: nothing to reset\n"
    out = json_out(run_cli("reset-sync", "--yes", "--output", "json"))
    assert out["deleted"] is False


def test_reset_sync_text(deployed: Deployed, run_cli) -> None:
    write_marker(deployed)
    result = run_cli("--output", "text", "reset-sync", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == "RESETSYNC\tTrue\tconsumer-data\t_s3_hydration_last_sync\tNone\n"
