from __future__ import annotations

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.runs import list_runs, show_run
from hydration_cli.options import deployment_options, json_option, now


@click.group()
def runs() -> None:
    """Run records (the runs table)."""


@runs.command("list")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True, help="Newest first.")
@deployment_options
@json_option
def list_(deployment: Deployment, limit: int, as_json: bool) -> None:
    """The most recent runs."""
    result = list_runs(deployment, limit)
    if as_json:
        render.emit_json(result)
    elif not result.runs:
        click.echo("no runs yet")
    else:
        click.echo(render.runs_table(result.runs))


@runs.command("show")
@click.argument("run_id")
@deployment_options
@json_option
def show(deployment: Deployment, run_id: str, as_json: bool) -> None:
    """One run: counts, progress, watermark, error, reconcile drift."""
    moment = now()
    result = show_run(deployment, run_id, moment)
    if as_json:
        render.emit_json(result)
    else:
        click.echo(render.run_detail(result, moment))
