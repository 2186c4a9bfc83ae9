from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from hydration_cli import humanize, render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.backup import BackupWritten, export
from hydration_cli.options import command, now


@click.command()
@click.argument("file", required=False, metavar="[FILE]")
@command
def backup(deployment: Deployment, file: str | None) -> BackupWritten | None:
    """Export the runs, books, failures and manifest tables to one JSON file (FILE '-': stdout; default
    s3-hydration-backup-<time>.json), items as the tables hold them. `restore FILE` puts it back."""
    moment = now()
    result = export(deployment, moment)
    text = result.model_dump_json(indent=1)
    if file == "-":
        click.echo(text)
        return None
    path = file or f"s3-hydration-backup-{moment.strftime('%Y%m%dT%H%M%SZ')}.json"
    with open(path, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    items = {name: len(dump.items) for name, dump in result.tables.items()}
    return BackupWritten(path=path, exported_at=moment, items=items, bytes=len(text.encode()) + 1)


@render.table_view.register
def _table(result: BackupWritten) -> str:
    counts = ", ".join(f"{name} {count:,}" for name, count in result.items.items())
    return f"wrote {result.path} ({counts} items; {humanize.human_bytes(result.bytes)})"


@render.text_rows.register
def _text(result: BackupWritten) -> Iterable[Sequence[object]]:
    yield ("BACKUP", result.path, result.exported_at, result.bytes)
    for name, count in result.items.items():
        yield ("TABLE", name, count)
