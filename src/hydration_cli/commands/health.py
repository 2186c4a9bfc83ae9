from __future__ import annotations

from datetime import datetime, timedelta

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.health import health as check_health
from hydration_cli.options import DURATION, TIME, deployment_options, json_option, now

MARKS = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}


@click.command()
@click.option("--since", type=TIME, default="2h", show_default=True, help="Window for errors and failed runs.")
@click.option("--max-sync-age", type=DURATION, default="26h", show_default=True, help="Warn if the last sync is older.")
@deployment_options
@json_option
def health(deployment: Deployment, since: datetime, max_sync_age: timedelta, as_json: bool) -> None:
    """Is the deployment healthy? Exit 1 if any check fails."""
    report = check_health(deployment, since, now(), max_sync_age)
    if as_json:
        render.emit_json(report)
    else:
        for check in report.checks:
            click.echo(f"{MARKS[check.status]}  {check.name:<16} {check.detail}")
        click.echo("healthy" if report.healthy else "UNHEALTHY")
    if not report.healthy:
        raise click.exceptions.Exit(1)
