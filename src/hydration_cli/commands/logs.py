from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import click

from hydration_cli import humanize, render
from hydration_cli.deployment import SERVICES, Deployment
from hydration_cli.ops.logs import LogEvent, LogQuery, LogsReport, fetch, follow
from hydration_cli.options import DURATION, TIME, app_config, command, now, paging_options

SHOWN_FIELDS = ("key", "error_code", "error", "status", "kind", "keys_enqueued", "failed_count", "receive_count")


@click.command()
@click.option("--since", type=TIME, default="1h", show_default=True, help="1h, 2d or an ISO-8601 time.")
@click.option("--run-id", metavar="R", help="Only lines of run R (its correlation id).")
@click.option("--errors", is_flag=True, help="Only ERROR lines (ObjectTransferError included).")
@click.option("--key", metavar="K", help="Only lines about S3 key K (their `key` field; filtered server-side).")
@click.option("--function", "functions", type=click.Choice(SERVICES), multiple=True, help="Default: every one.")
@paging_options(500, token=False)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C (like aws logs tail).")
@click.option("--interval", type=DURATION, default="5s", show_default=True, help="--follow: poll interval.")
@command
def logs(
    deployment: Deployment,
    since: datetime,
    run_id: str | None,
    errors: bool,
    key: str | None,
    functions: tuple[str, ...],
    max_items: int,
    follow: bool,
    interval: timedelta,
) -> LogsReport | None:
    """The functions' logs (Powertools JSON), by run, level and key; one window, or --follow."""
    query = LogQuery(services=functions or deployment.services, run_id=run_id, errors=errors, key=key)
    if follow:
        config = app_config()
        _follow(deployment, since, query, interval, config.output, config.query)
        return None
    report = fetch(deployment, since=since, until=now(), query=query, limit=max_items)
    for group in report.missing_log_groups:
        _missing(group)
    if not report.events:
        click.echo("no matching log lines", err=True)
    if report.truncated:
        click.echo(
            f"(showing the newest {max_items} lines; narrow with --since/--run-id/--key or raise --max-items)", err=True
        )
    return report


def _missing(group: str) -> None:
    click.echo(f"note: log group {group} does not exist yet", err=True)


def _follow(
    deployment: Deployment, since: datetime, query: LogQuery, interval: timedelta, output: str, selection: Any
) -> None:
    follow(
        deployment,
        since=since,
        query=query,
        interval=max(1.0, interval.total_seconds()),
        sleep=app_config().sleep,
        on_event=lambda event: render.emit_line(event, output, selection),
        on_missing=_missing,
    )


def _line(event: LogEvent) -> str:
    extra = " ".join(f"{k}={event.fields[k]}" for k in SHOWN_FIELDS if k in event.fields)
    run = f" run={event.run_id}" if event.run_id else ""
    return (
        f"{humanize.when(event.timestamp)} {event.function:<9} {event.level or '-':<7} {event.message}"
        f"{run}{' ' + extra if extra else ''}"
    )


def _record(event: LogEvent) -> tuple[object, ...]:
    return ("EVENT", event.timestamp, event.function, event.level, event.message, event.run_id, event.key)


@render.table_view.register
def _event_table(event: LogEvent) -> str:
    return _line(event)


@render.text_rows.register
def _event_text(event: LogEvent) -> Iterable[Sequence[object]]:
    yield _record(event)


@render.table_view.register
def _report_table(report: LogsReport) -> str:
    return "\n".join(_line(event) for event in report.events)


@render.text_rows.register
def _report_text(report: LogsReport) -> Iterable[Sequence[object]]:
    return [_record(event) for event in report.events]
