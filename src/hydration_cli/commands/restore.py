from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import click
from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import humanize, render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.restore import RestoreReport
from hydration_cli.ops.restore import restore as restore_backup
from hydration_cli.options import change_options, command, confirm

SHOWN = 20  # items listed per table and action in the table view (text and json list them all)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--overwrite-newer", is_flag=True, help="Also overwrite items that are newer in the tables.")
@change_options
@command
def restore(deployment: Deployment, file: Path, overwrite_newer: bool, yes: bool, dry_run: bool) -> RestoreReport:
    """Put back what `backup` wrote into this deployment's tables, after showing what it would write and
    asking (--yes: do not ask).

    Items newer in the tables are kept (compared by their own times: a run's ended_at/started_at, a ledger
    entry's failed_at, a manifest entry's copied_at) unless --overwrite-newer. The active-run lock is never
    restored.
    """
    if not dry_run and not yes:
        planned = restore_backup(deployment, file, dry_run=True, force=overwrite_newer)
        writes = sum(c.write for c in planned.tables.values())
        if not writes:
            return planned.model_copy(update={"dry_run": False})
        confirm(f"Write {writes:,} item(s) into the tables?", yes=yes, preview=planned)
    return restore_backup(deployment, file, dry_run=dry_run, force=overwrite_newer)


@render.table_view.register
def _table(report: RestoreReport) -> RenderableType:
    verb = "would write" if report.dry_run else "wrote"
    head = (
        f"{'dry run: ' if report.dry_run else ''}backup of {report.backup_stack} taken "
        f"{humanize.when(report.exported_at)}{' (--overwrite-newer)' if report.force else ''}"
    )
    counts = render.grid(
        ("TABLE", "WRITE" if report.dry_run else "WRITTEN", "KEPT (NEWER)", "UNCHANGED", "CHANGED MEANWHILE", "LOCK"),
        [(name, c.write, c.keep, c.unchanged, c.changed, c.lock) for name, c in report.tables.items()],
    )
    parts: list[RenderableType] = [head, counts]
    for action, what in (("write", verb), ("keep", "kept, newer in the table"), ("changed", "kept, changed meanwhile")):
        chosen = [d for d in report.decisions if d.action == action]
        if not chosen:
            continue
        rows = [(d.table, d.id, humanize.when(d.backup_at), humanize.when(d.table_at)) for d in chosen[:SHOWN]]
        parts += [f"{what}:", render.grid(("TABLE", "ID", "IN BACKUP", "IN TABLE"), rows)]
        if len(chosen) > SHOWN:
            parts.append(f"... and {len(chosen) - SHOWN:,} more (--output text lists them all)")
    return Lines(*parts)


@render.text_rows.register
def _text(report: RestoreReport) -> Iterable[Sequence[object]]:
    for name, c in report.tables.items():
        yield ("TABLE", name, c.write, c.keep, c.unchanged, c.changed, c.lock)
    for d in report.decisions:
        yield ("ITEM", d.table, d.action, d.id, d.backup_at, d.table_at)
