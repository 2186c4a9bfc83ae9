from __future__ import annotations

from datetime import datetime

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.metrics import metrics as read_metrics
from hydration_cli.options import TIME, deployment_options, json_option, now


def _value(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    if unit == "Bytes":
        return render.human_bytes(value)
    if unit == "Seconds":
        return render.human_duration(value)
    if unit == "Milliseconds":
        return f"{value:,.0f} ms"
    return render.number(value)


@click.command()
@click.option("--since", type=TIME, default="24h", show_default=True, help="1h, 7d or an ISO-8601 time.")
@deployment_options
@json_option
def metrics(deployment: Deployment, since: datetime, as_json: bool) -> None:
    """The S3Hydration metrics over a window, with a sparkline each."""
    report = read_metrics(deployment, since, now())
    if as_json:
        render.emit_json(report)
        return
    click.echo(
        f"namespace {report.namespace}, {render.when(report.since)} .. {render.when(report.until)}, "
        f"{report.period_seconds // 60} min per point"
    )
    rows = [(s.name, s.service, s.stat, _value(s.unit, s.value), render.sparkline(s.points)) for s in report.series]
    click.echo(render.table(("METRIC", "SERVICE", "STAT", "VALUE", "TREND"), rows))
