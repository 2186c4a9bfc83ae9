from __future__ import annotations

from datetime import datetime

import click

from hydration_cli import render
from hydration_cli.deployment import SERVICES, Deployment
from hydration_cli.ops.logs import fetch
from hydration_cli.options import TIME, deployment_options, json_option, now

SHOWN_FIELDS = ("key", "error_code", "error", "status", "kind", "keys_enqueued", "failed_count", "receive_count")


@click.command()
@click.option("--since", type=TIME, default="1h", show_default=True, help="1h, 2d or an ISO-8601 time.")
@click.option("--run-id", metavar="R", help="Only lines of run R (its correlation id).")
@click.option("--errors", is_flag=True, help="Only ERROR lines (ObjectTransferError included).")
@click.option("--function", "functions", type=click.Choice(SERVICES), multiple=True, help="Default: all three.")
@click.option("--limit", type=click.IntRange(1, 10000), default=500, show_default=True)
@deployment_options
@json_option
def logs(
    deployment: Deployment,
    since: datetime,
    run_id: str | None,
    errors: bool,
    functions: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """The functions' logs (Powertools JSON), by run and level."""
    report = fetch(
        deployment,
        since=since,
        until=now(),
        run_id=run_id,
        errors=errors,
        services=functions or SERVICES,
        limit=limit,
    )
    if as_json:
        render.emit_json(report)
        return
    for group in report.missing_log_groups:
        click.echo(f"note: log group {group} does not exist yet", err=True)
    for event in report.events:
        extra = " ".join(f"{k}={event.fields[k]}" for k in SHOWN_FIELDS if k in event.fields)
        run = f" run={event.run_id}" if event.run_id and not run_id else ""
        click.echo(
            f"{render.when(event.timestamp)} {event.function:<9} {event.level or '-':<7} {event.message}"
            f"{run}{' ' + extra if extra else ''}"
        )
    if not report.events:
        click.echo("no matching log lines", err=True)
    if report.truncated:
        click.echo(f"(showing the last {limit} lines; narrow with --since/--run-id or raise --limit)", err=True)
