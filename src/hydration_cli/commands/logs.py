from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import click

from hydration_cli import render
from hydration_cli.deployment import SERVICES, Deployment
from hydration_cli.ops.logs import LogEvent, LogQuery, LogsReport, fetch
from hydration_cli.options import TIME, command, now

SHOWN_FIELDS = ("key", "error_code", "error", "status", "kind", "keys_enqueued", "failed_count", "receive_count")


@click.command()
@click.option("--since", type=TIME, default="1h", show_default=True, help="1h, 2d or an ISO-8601 time.")
@click.option("--run-id", metavar="R", help="Only lines of run R (its correlation id).")
@click.option("--errors", is_flag=True, help="Only ERROR lines (ObjectTransferError included).")
@click.option("--function", "functions", type=click.Choice(SERVICES), multiple=True, help="Default: all three.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=500, show_default=True, help="The newest N lines.")
@command
def logs(
    deployment: Deployment,
    since: datetime,
    run_id: str | None,
    errors: bool,
    functions: tuple[str, ...],
    limit: int,
) -> LogsReport:
    """The functions' logs (Powertools JSON), by run and level."""
    query = LogQuery(services=functions or SERVICES, run_id=run_id, errors=errors)
    report = fetch(deployment, since=since, until=now(), query=query, limit=limit)
    for group in report.missing_log_groups:
        click.echo(f"note: log group {group} does not exist yet", err=True)
    if not report.events:
        click.echo("no matching log lines", err=True)
    if report.truncated:
        click.echo(f"(showing the newest {limit} lines; narrow with --since/--run-id or raise --limit)", err=True)
    return report


def _line(event: LogEvent) -> str:
    extra = " ".join(f"{k}={event.fields[k]}" for k in SHOWN_FIELDS if k in event.fields)
    run = f" run={event.run_id}" if event.run_id else ""
    return (
        f"{render.when(event.timestamp)} {event.function:<9} {event.level or '-':<7} {event.message}"
        f"{run}{' ' + extra if extra else ''}"
    )


def _record(event: LogEvent) -> tuple[object, ...]:
    return ("EVENT", event.timestamp, event.function, event.level, event.message, event.run_id, event.key)


@render.table_view.register
def _report_table(report: LogsReport) -> str:
    return "\n".join(_line(event) for event in report.events)


@render.text_rows.register
def _report_text(report: LogsReport) -> Iterable[Sequence[object]]:
    return [_record(event) for event in report.events]
