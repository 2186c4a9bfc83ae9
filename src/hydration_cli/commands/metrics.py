from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import click
from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import humanize, render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.metrics import MetricsReport
from hydration_cli.ops.metrics import metrics as read_metrics
from hydration_cli.options import TIME, command, now


@click.command()
@click.option("--since", type=TIME, default="24h", show_default=True, help="1h, 7d or an ISO-8601 time.")
@command
def metrics(deployment: Deployment, since: datetime) -> MetricsReport:
    """The S3Hydration metrics over a window, with a sparkline each."""
    return read_metrics(deployment, since, now())


def _value(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    if unit == "Bytes":
        return humanize.human_bytes(value)
    if unit == "Seconds":
        return humanize.human_duration(value)
    if unit == "Milliseconds":
        return f"{value:,.0f} ms"
    return humanize.number(value)


@render.table_view.register
def _table(report: MetricsReport) -> RenderableType:
    title = (
        f"namespace {report.namespace}, {humanize.when(report.since)} .. {humanize.when(report.until)}, "
        f"{report.period_seconds // 60} min per point"
    )
    rows = [(s.name, s.service, s.stat, _value(s.unit, s.value), humanize.sparkline(s.points)) for s in report.series]
    return Lines(title, render.grid(("METRIC", "SERVICE", "STAT", "VALUE", "TREND"), rows))


@render.text_rows.register
def _text(report: MetricsReport) -> Iterable[Sequence[object]]:
    for s in report.series:
        yield ("METRIC", s.name, s.service, s.stat, s.unit, s.value)
