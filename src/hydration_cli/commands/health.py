from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import click
from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.health import HealthReport
from hydration_cli.ops.health import health as check_health
from hydration_cli.options import DURATION, TIME, command, now


@click.command()
@click.option("--since", type=TIME, default="2h", show_default=True, help="Window for errors and failed runs.")
@click.option(
    "--max-sync-age", type=DURATION, default="26h", show_default=True, help="Critical if the last sync is older."
)
@command
def health(deployment: Deployment, since: datetime, max_sync_age: timedelta) -> HealthReport:
    """Is the deployment healthy? Exit 1 if any check is critical (for cron); warnings alone exit 0."""
    return check_health(deployment, since, now(), max_sync_age)


@render.table_view.register
def _table(report: HealthReport) -> RenderableType:
    rows = [(render.styled(c.status), c.name, c.detail) for c in report.checks]
    verdict = "healthy" if report.healthy else "UNHEALTHY"
    return Lines(render.grid(("STATUS", "CHECK", "DETAIL"), rows), render.styled(verdict))


@render.text_rows.register
def _text(report: HealthReport) -> Iterable[Sequence[object]]:
    for c in report.checks:
        yield ("CHECK", c.name, c.status, c.value, c.threshold, c.detail)
    yield ("HEALTH", "healthy" if report.healthy else "unhealthy")
