from __future__ import annotations

from collections.abc import Iterable, Sequence

import click
from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import humanize, render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.archived import RestoreReport, Tier, describe, restore, select
from hydration_cli.ops.failures import FailureList, list_failures
from hydration_cli.options import change_options, command, confirm, exit_code_option, now, paging_options, subgroup


@subgroup()
def failures() -> None:
    """The failure ledger: keys whose final copy attempt failed (every run retries them), and archived keys
    (their source needs a restore: `failures restore`)."""


@failures.command("list")
@click.option("--prefix", metavar="P", help="Only keys under P.")
@click.option("--archived", is_flag=True, help="Only archived keys (their source needs a restore).")
@paging_options(100)
@exit_code_option("if the ledger holds any entry (under --prefix)")
@command
def list_(
    deployment: Deployment, prefix: str | None, archived: bool, max_items: int, starting_token: dict[str, str] | None
) -> FailureList:
    """Failed and archived keys with their last error, attempts and failure times, a page at a time, in the
    table's order (--starting-token: the next page)."""
    return list_failures(deployment, prefix=prefix, limit=max_items, start=starting_token, archived=archived)


@failures.command("restore")
@click.option("--key", "keys", multiple=True, metavar="K", help="Archived key K (repeatable); default: every one.")
@click.option("--prefix", metavar="P", help="Only archived keys under P.")
@click.option(
    "--days",
    type=click.IntRange(1, 30),
    default=3,
    show_default=True,
    help="How long S3 keeps the restored copy (GLACIER, DEEP_ARCHIVE; Intelligent-Tiering takes none).",
)
@click.option(
    "--tier",
    type=click.Choice([t.value for t in Tier]),
    default=Tier.BULK.value,
    show_default=True,
    help="Retrieval tier: Bulk (cheapest, hours) or Standard (faster, costs more).",
)
@click.option("--again", is_flag=True, help="Also keys whose restore was requested already (it expired, say).")
@paging_options(1000, token=False)
@change_options
@command
def restore_(
    deployment: Deployment,
    keys: tuple[str, ...],
    prefix: str | None,
    days: int,
    tier: str,
    again: bool,
    max_items: int,
    yes: bool,
    dry_run: bool,
) -> RestoreReport:
    """Restore archived keys (`failures list --archived`) in the producer bucket through the producer role
    (RestoreObject), and mark them restore-requested, after showing them and asking (--yes: do not ask). The
    next runs re-enqueue them; the first after the restore is done copies each (docs/runbook.md)."""
    entries = select(deployment, keys=list(keys), prefix=prefix, limit=max_items, again=again)
    if not dry_run and not yes and entries:
        preview = restore(deployment, entries, days=days, tier=Tier(tier), now=now(), dry_run=True)
        confirm(f"Restore {len(entries)} archived key(s)?", yes=yes, preview=preview)
    return restore(deployment, entries, days=days, tier=Tier(tier), now=now(), dry_run=dry_run)


@render.table_view.register
def _restore_table(result: RestoreReport) -> RenderableType:
    if not result.selected:
        return "no archived key to restore"
    verb = "would restore" if result.dry_run else "restore requested for"
    rows = [(f.key, describe(f), result.refused.get(f.key, "-")) for f in result.selected]
    title = f"{verb} {len(result.selected)} archived key(s) ({result.tier}, {result.days} day(s)):"
    return Lines(title, render.grid(("KEY", "ARCHIVED", "REFUSED"), rows))


@render.text_rows.register
def _restore_text(result: RestoreReport) -> Iterable[Sequence[object]]:
    for f in result.selected:
        state = "dry-run" if result.dry_run else result.refused.get(f.key, "requested")
        yield ("RESTORE", f.key, f.storage_class, f.archive_status, state)


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
            describe(f),
        )
        for f in result.failures
    ]
    headers = ("KEY", "ERROR", "MESSAGE", "ATTEMPTS", "FIRST FAILED", "LAST FAILED", "RUN", "ARCHIVED")
    archived = sum(1 for f in result.failures if f.archived)
    counted = (
        f"{len(result.failures) - archived:,} failed, {archived:,} archived key(s)"
        if archived
        else (f"{len(result.failures):,} failed key(s)")
    )
    return render.paged(Lines(f"{counted}{under}", render.grid(headers, rows)), result.next_token)


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
            f.archived,
            f.storage_class,
            f.archive_status,
        )
    if result.next_token:
        yield ("NEXTTOKEN", result.next_token)
