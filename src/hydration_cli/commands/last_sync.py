from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from hydration_cli import render, views
from hydration_cli.deployment import Deployment
from hydration_cli.ops.sync import LastSync
from hydration_cli.ops.sync import last_sync as read_last_sync
from hydration_cli.options import command, now


@click.command("last-sync")
@command
def last_sync(deployment: Deployment) -> LastSync:
    """The sync marker: the time up to which every changed key has landed."""
    return read_last_sync(deployment, now())


@render.table_view.register
def _table(result: LastSync) -> str:
    return views.last_sync_text(result, now())


@render.text_rows.register
def _text(result: LastSync) -> Iterable[Sequence[object]]:
    yield ("LASTSYNC", result.exists, result.synced_to, result.age_seconds, result.detail.get("run_id"))
