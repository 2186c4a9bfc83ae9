"""docs/runbook.md agrees with the CLI and the consumer stack: every command is in its command table, every
alarm has a procedure, and every dashboard widget it names exists."""

from __future__ import annotations

import re

import click

from hydration_cli.main import cli
from hydration_cli.ops.alarms import ALARMS
from tests.infra.cfn_model import ROOT, dashboard_body, load_template

RUNBOOK = (ROOT / "docs" / "runbook.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix}{name} ")
        else:
            names.append(f"{prefix}{name}")
    return names


def test_every_command_is_in_the_command_table() -> None:
    table = RUNBOOK.split("| Command | What it does |", 1)[1].split("\n\n", 1)[0]
    missing = [name for name in _commands(cli) if f"`{name}" not in table]
    assert not missing


def test_every_alarm_has_a_procedure() -> None:
    sections = set(re.findall(r"^### (\w+Alarm)$", RUNBOOK, re.MULTILINE))
    assert set(ALARMS) <= sections


def test_the_dashboard_widgets_the_runbook_names_exist() -> None:
    titles = {w["properties"].get("title") for w in dashboard_body(load_template("consumer.yaml"))["widgets"]}
    found = re.findall(r"widgets? \*([^*]+)\*", RUNBOOK) + re.findall(r"; \*([^*]+)\*", RUNBOOK)
    named = {" ".join(name.split()) for name in found}
    assert named, "no widget named: the test would prove nothing"
    assert named <= titles, named - titles


def test_the_global_options_the_runbook_names_are_the_clis() -> None:
    [line] = [line for line in RUNBOOK.splitlines() if line.startswith("GLOBAL: ")]
    named = set(re.findall(r"--[a-z-]+", line))
    top = {opt for param in cli.params for opt in getattr(param, "opts", [])}
    assert named == top - {"--version", "--help", "-h"}


def test_the_runbook_documents_shell_completion_for_this_program() -> None:
    for shell in ("bash", "zsh", "fish"):
        assert f"_S3_HYDRATION_COMPLETE={shell}_source s3-hydration" in RUNBOOK
