"""`runs list` and `runs show`: run records read with RunStore."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import Deployed, json_out, put_objects, text_records


def test_runs_list_and_show_after_a_run(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 0
    listed = json_out(run_cli("runs", "list", "--output", "json"))["runs"]
    assert len(listed) == 1
    run_id = listed[0]["run_id"]
    assert listed[0]["status"] == "COMPLETED"

    table = run_cli("runs", "list")
    assert table.exit_code == 0
    header, dashes, row = table.stdout.splitlines()
    assert header.split() == [
        "RUN", "STATUS", "KIND", "STARTED", "TOOK", "ENQUEUED", "COPIED", "SKIPPED", "VANISHED", "ARCHIVED", "FAILED",
            "BYTES",
    ]  # fmt: skip
    assert set(dashes) == {"-", " "}
    assert row.split()[:3] == [run_id, "COMPLETED", "incremental"]
    assert re.split(r"\s{2,}", row)[-7:] == ["2", "2", "0", "0", "0", "0", "8 B"]
    [record] = text_records(run_cli("runs", "list", "--output", "text"))
    assert record[:4] == ["RUN", run_id, "COMPLETED", "incremental"]
    assert record[6:] == ["2", "2", "0", "0", "0", "8", "0"]  # ..., bytes, archived

    shown = run_cli("runs", "show", run_id)
    assert shown.exit_code == 0, shown.output
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in shown.stdout.splitlines())
    assert rows["status"] == "COMPLETED"
    assert rows["settled"] == "2 transferred, 0 skipped, 0 vanished, 0 failed of 2 keys enqueued; 8 B copied"
    assert rows["ledger"] == "0 key(s) in the failure ledger at completion"
    detail = json_out(run_cli("runs", "show", run_id, "--output", "json"))
    assert detail["run"]["objects_transferred"] == 2
    assert detail["progress"]["keys_settled"] == 2
    assert detail["progress"]["fraction"] == 1.0


def test_runs_list_empty(deployed: Deployed, run_cli) -> None:
    result = run_cli("runs", "list")
    assert result.exit_code == 0
    assert "no runs yet" in result.stdout


@pytest.mark.parametrize("command", [["show"], ["report"], ["cancel", "--yes"], ["cancel"]])
def test_an_unknown_run_id_is_one_line_and_exit_1(deployed: Deployed, run_cli, command: list[str]) -> None:
    result = run_cli("runs", *command, "20990101T000000Z-nope")
    assert result.exit_code == 1
    assert result.stderr == "Error: no run with id '20990101T000000Z-nope'\n"
    assert result.stdout == ""


def test_runs_show_refuses_the_lock_item(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    assert run_cli("trigger", "--yes").exit_code == 0  # the lock item ACTIVE exists now
    assert run_cli("runs", "show", "ACTIVE").exit_code == 1
    assert len(json_out(run_cli("runs", "list", "--output", "json"))["runs"]) == 1
