from __future__ import annotations

from collections.abc import Iterable, Sequence

import click
from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import humanize, render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.failures import FailureList, list_failures
from hydration_cli.options import command, exit_code_option, paging_options, subgroup


@subgroup()
def failures() -> None:
    """The failure ledger: keys whose final copy attempt failed (every run retries them)."""


@failures.command("list")
@click.option("--prefix", metavar="P", help="Only keys under P.")
@paging_options(100)
@exit_code_option("if the ledger holds any entry (under --prefix)")
@command
def list_(
    deployment: Deployment, prefix: str | None, max_items: int, starting_token: dict[str, str] | None
) -> FailureList:
    """Failed keys with their last error, attempts and failure times, a page at a time, in the table's order
    (--starting-token: the next page)."""
    return list_failures(deployment, prefix=prefix, limit=max_items, start=starting_token)


@render.table_view.register
def _table(result: FailureList) -> RenderableType:
    under = f" under {result.prefix!r}" if result.prefix else ""
    if not result.failures:
        return (
            f"no more entries in the failure ledger{under}"
            if result.continued
            else f"the failure ledger is empty{under}"
        )
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
    return render.paged(Lines(f"{len(result.failures):,} failed key(s){under}", table), result.next_token)


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
    if result.next_token:
        yield ("NEXTTOKEN", result.next_token)
