"""`runs list` and `runs show`: run records read with RunStore."""

from __future__ import annotations

from tests.cli.conftest import Deployed, json_out, put_objects


def test_runs_list_and_show_after_a_run(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    assert run_cli("trigger", "--wait", "--interval", "0").exit_code == 0
    listed = json_out(run_cli("runs", "list", "--json"))["runs"]
    assert len(listed) == 1
    run_id = listed[0]["run_id"]
    assert listed[0]["status"] == "COMPLETED"

    table = run_cli("runs", "list")
    assert table.exit_code == 0
    assert run_id in table.stdout
    assert "COMPLETED" in table.stdout

    shown = run_cli("runs", "show", run_id)
    assert shown.exit_code == 0, shown.output
    assert "2 transferred" in shown.stdout
    detail = json_out(run_cli("runs", "show", run_id, "--json"))
    assert detail["run"]["objects_transferred"] == 2
    assert detail["progress"]["keys_settled"] == 2
    assert detail["progress"]["fraction"] == 1.0


def test_runs_list_empty(deployed: Deployed, run_cli) -> None:
    result = run_cli("runs", "list")
    assert result.exit_code == 0
    assert "no runs yet" in result.stdout


def test_runs_show_unknown_id_is_one_line_and_exit_1(deployed: Deployed, run_cli) -> None:
    result = run_cli("runs", "show", "20990101T000000Z-nope")
    assert result.exit_code == 1
    assert result.stderr == "Error: no run with id '20990101T000000Z-nope'\n"
    assert result.stdout == ""


def test_runs_show_refuses_the_lock_item(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    assert run_cli("trigger").exit_code == 0  # the lock item ACTIVE exists now
    assert run_cli("runs", "show", "ACTIVE").exit_code == 1
    assert len(json_out(run_cli("runs", "list", "--json"))["runs"]) == 1
