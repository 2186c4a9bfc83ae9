"""The conventions every command shares (aws-cli's, where it has one): --query with --output applied after it,
global options at any level, one page-size option with server-side paging, exit 3 only with --exit-code, one
confirmation model (--yes, --dry-run) on every command that changes state, --force meaning one thing, shell
completion."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from hydration.models import RunStatus
from hydration_cli.main import cli
from tests.cli.conftest import Deployed, json_out, put_objects, record_failure

# The commands that change state (AWS resources or the deployment's tables): each takes --yes and --dry-run.
CHANGES_STATE = {"trigger", "runs cancel", "reset-sync", "dlq redrive", "uploads abort", "restore", "failures restore"}


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _commands(command, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = command
    return found


def _options(command: click.Command) -> set[str]:
    return {name for param in command.params for name in getattr(param, "opts", [])}


COMMANDS = _commands(cli)


def _runs(run_cli, n: int) -> list[str]:
    """n completed runs, oldest first."""
    ids = []
    for i in range(n):
        run_cli("trigger", "--yes", "--wait", "--interval", "0")  # nothing new: a run that completes at once
        ids.append(json_out(run_cli("runs", "list", "--max-items", "1", "--output", "json"))["runs"][0]["run_id"])
        assert len(set(ids)) == i + 1
    return ids


# --------------------------------------------------------------------------- --query


def test_query_selects_and_output_formats_what_it_selected(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 0
    [run_id] = json_out(run_cli("runs", "list", "--query", "runs[].run_id", "--output", "json"))
    # text: aws-cli's tab-separated values, a list of objects one line each, values by key name
    text = run_cli("runs", "list", "--query", "runs[].{id: run_id, copied: objects_transferred}", "--output", "text")
    assert text.stdout == f"2\t{run_id}\n"
    # table: a grid of what was selected
    table = run_cli("runs", "list", "--query", "runs[].{id: run_id, status: status}")
    assert table.stdout.splitlines()[0].split() == ["ID", "STATUS"]
    assert table.stdout.splitlines()[2].split() == [run_id, "COMPLETED"]
    # a scalar
    assert run_cli("status", "--query", "stack", "--output", "text").stdout == "s3-hydration-consumer\n"
    assert run_cli("runs", "show", run_id, "--query", "run.status", "--output", "json").stdout == '"COMPLETED"\n'


def test_query_works_at_every_level_and_nearer_the_command_wins(deployed: Deployed, run_cli) -> None:
    record_failure(deployed, "data/a.txt")
    top = run_cli("--query", "failures[].key", "--output", "json", "failures", "list")
    group = run_cli("failures", "--query", "failures[].key", "--output", "json", "list")
    after = run_cli("--query", "prefix", "failures", "list", "--query", "failures[].key", "--output", "json")
    assert json.loads(top.stdout) == json.loads(group.stdout) == json.loads(after.stdout) == ["data/a.txt"]


def test_a_query_that_selects_nothing_prints_nothing_and_keeps_the_exit_code(deployed: Deployed, run_cli) -> None:
    record_failure(deployed, "data/a.txt")
    result = run_cli("failures", "list", "--query", "no_such_field", "--output", "text", "--exit-code")
    assert (result.exit_code, result.stdout) == (3, "")


def test_a_bad_query_is_a_usage_error_before_any_aws_call(deployed: Deployed, run_cli) -> None:
    result = run_cli("--stack", "no-such-stack", "status", "--query", "runs[")
    assert result.exit_code == 2
    assert "is not a JMESPath expression" in result.stderr


# --------------------------------------------------------------------------- global options at any level


def test_global_options_between_a_group_and_its_command(deployed: Deployed, run_cli) -> None:
    result = run_cli("runs", "--output", "json", "list")
    assert result.exit_code == 0, result.output
    assert json_out(result) == {"runs": [], "next_token": None}
    # nearer the command wins: top < group < command
    assert run_cli("--output", "text", "runs", "--output", "json", "list").stdout.startswith("{")
    assert run_cli("runs", "--output", "text", "list", "--output", "json").stdout.startswith("{")
    missing = run_cli("dlq", "--stack", "no-such-stack", "peek")
    assert missing.exit_code == 1
    assert "stack 'no-such-stack' not found" in missing.stderr


@pytest.mark.parametrize("name", sorted({name.split()[0] for name in COMMANDS if " " in name}))
def test_every_group_takes_the_global_options(name: str) -> None:
    group = cli.commands[name]
    assert {"--profile", "--region", "--stack", "--output", "--query", "--debug"} <= _options(group)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_the_global_options(name: str) -> None:
    assert {"--profile", "--region", "--stack", "--output", "--query", "--debug"} <= _options(COMMANDS[name])


# --------------------------------------------------------------------------- paging


def test_one_page_size_option(deployed: Deployed) -> None:
    spellings = {opt for command in COMMANDS.values() for opt in _options(command)}
    assert not spellings & {"--limit", "-n", "--max"}
    paged = {name for name, command in COMMANDS.items() if "--max-items" in _options(command)}
    assert paged == {"runs list", "failures list", "failures restore", "dlq peek", "logs", "uploads list"}
    tokens = {name for name, command in COMMANDS.items() if "--starting-token" in _options(command)}
    assert tokens == {"runs list", "failures list", "uploads list"}


def test_runs_list_pages_newest_first_through_the_index(deployed: Deployed, run_cli) -> None:
    oldest, middle, newest = _runs(run_cli, 3)
    first = json_out(run_cli("runs", "list", "--max-items", "2", "--output", "json"))
    assert [r["run_id"] for r in first["runs"]] == [newest, middle]
    assert first["next_token"]
    second = json_out(
        run_cli("runs", "list", "--max-items", "2", "--starting-token", first["next_token"], "--output", "json")
    )
    assert [r["run_id"] for r in second["runs"]] == [oldest]
    assert second["next_token"] is None
    assert [r["status"] for r in first["runs"] + second["runs"]] == [RunStatus.COMPLETED] * 3
    # the table view says how to get the next page; the text view gives it a record
    table = run_cli("runs", "list", "--max-items", "2")
    assert table.stdout.splitlines()[-1] == f"more: --starting-token {first['next_token']}"
    text = run_cli("runs", "list", "--max-items", "2", "--output", "text")
    assert text.stdout.splitlines()[-1] == f"NEXTTOKEN\t{first['next_token']}"


# --------------------------------------------------------------------------- exit codes


def test_a_read_that_finds_something_exits_0_unless_asked(deployed: Deployed, run_cli) -> None:
    record_failure(deployed, "data/a.txt")
    assert run_cli("failures", "list").exit_code == 0
    assert run_cli("failures", "list", "--exit-code").exit_code == 3


def test_exit_code_is_offered_exactly_where_a_result_can_be_found_or_pending() -> None:
    offered = {name for name, command in COMMANDS.items() if "--exit-code" in _options(command)}
    assert offered == CHANGES_STATE | {"failures list", "dlq peek", "uploads list"}


# --------------------------------------------------------------------------- confirmation


def test_every_command_that_changes_state_takes_yes_and_dry_run() -> None:
    confirming = {name for name, command in COMMANDS.items() if {"--yes", "--dry-run"} & _options(command)}
    assert confirming == CHANGES_STATE
    for name in CHANGES_STATE:
        assert {"--yes", "-y", "--dry-run", "--exit-code"} <= _options(COMMANDS[name]), name


def test_force_means_one_thing() -> None:
    assert {name for name, command in COMMANDS.items() if "--force" in _options(command)} == {"trigger"}


def test_trigger_asks_and_a_no_starts_nothing(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    result = run_cli("trigger", "--full", input="n\n")
    assert result.exit_code == 1
    assert "Start a full run now? [y/N]" in result.stderr
    assert deployed.invoked == []
    assert deployed.world.stores.runs.list() == []
    # and without an answer (no terminal, nothing on stdin) it starts nothing either
    assert run_cli("trigger").exit_code == 1
    assert deployed.invoked == []
    # a yes starts it
    started = run_cli("trigger", "--full", input="y\n")
    assert started.exit_code == 0, started.output
    assert [name for name, _ in deployed.invoked] == ["s3-hydration-planner"]


# --------------------------------------------------------------------------- shell completion


def test_shell_completion_script_as_the_runbook_documents() -> None:
    result = CliRunner().invoke(cli, [], prog_name="s3-hydration", env={"_S3_HYDRATION_COMPLETE": "bash_source"})
    assert result.exit_code == 0
    assert "_s3_hydration_completion" in result.output
    assert "_S3_HYDRATION_COMPLETE=bash_complete" in result.output
