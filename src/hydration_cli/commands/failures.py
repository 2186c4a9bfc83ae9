from __future__ import annotations

from collections.abc import Iterable, Sequence

import click
from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import humanize, render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.failures import FailureList, list_failures
from hydration_cli.options import command


@click.group()
def failures() -> None:
    """The failure ledger: keys whose final copy attempt failed (every run retries them)."""


@failures.command("list")
@click.option("--prefix", metavar="P", help="Only keys under P.")
@click.option("--limit", "-n", type=click.IntRange(1, 100_000), default=100, show_default=True, help="By key.")
@command
def list_(deployment: Deployment, prefix: str | None, limit: int) -> FailureList:
    """Failed keys with their last error, attempts and failure times; exit 3 if there are any."""
    return list_failures(deployment, prefix=prefix, limit=limit)


@render.table_view.register
def _table(result: FailureList) -> RenderableType:
    under = f" under {result.prefix!r}" if result.prefix else ""
    if not result.total:
        return f"the failure ledger is empty{under}"
    rows = [
        (
            f.key,
            f.error_code or "-",
            (f.error_message or "-")[:80],
            "-" if f.attempts is None else f.attempts,
            humanize.when(f.first_failed_at),
            humanize.when(f.failed_at),
            f.run_id or "-",
        )
        for f in result.failures
    ]
    table = render.grid(("KEY", "ERROR", "MESSAGE", "ATTEMPTS", "FIRST FAILED", "LAST FAILED", "RUN"), rows)
    shown = (
        f"{len(result.failures):,} of {result.total:,}" if len(result.failures) < result.total else f"{result.total:,}"
    )
    return Lines(f"{shown} failed key(s){under}", table)


@render.text_rows.register
def _text(result: FailureList) -> Iterable[Sequence[object]]:
    for f in result.failures:
        yield (
            "FAILURE",
            f.key,
            f.error_code,
            f.attempts,
            f.first_failed_at,
            f.failed_at,
            f.run_id,
            f.origin,
            f.force,
            f.error_message,
        )
