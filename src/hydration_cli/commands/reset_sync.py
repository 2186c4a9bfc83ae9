from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from hydration_cli import render, views
from hydration_cli.deployment import Deployment
from hydration_cli.ops.sync import ResetSync, read_raw
from hydration_cli.ops.sync import reset_sync as delete_marker
from hydration_cli.options import change_options, command, confirm, now


@click.command("reset-sync")
@change_options
@command
def reset_sync(deployment: Deployment, yes: bool, dry_run: bool) -> ResetSync:
    """Delete the sync marker: the next incremental run lists and considers every key.

    Objects already in the consumer bucket are skipped (the manifest knows their source version).
    """
    moment = now()
    previous = read_raw(deployment, moment)
    if dry_run:
        return ResetSync(bucket=previous.bucket, deleted=False, dry_run=True, previous=previous)
    if previous.exists:
        confirm(
            f"Delete s3://{previous.bucket}/{previous.marker_key}? The next run will consider every key",
            yes=yes,
            preview=f"current: {views.last_sync_text(previous, moment)}",
        )
    result = delete_marker(deployment, previous)
    if result.active_run_id:
        click.echo(
            f"note: run {result.active_run_id} is active; it writes the marker again when it completes", err=True
        )
    return result


@render.table_view.register
def _table(result: ResetSync) -> str:
    if result.dry_run:
        if not result.previous.exists:
            return f"dry run: no sync marker in s3://{result.bucket}: nothing to reset"
        current = views.last_sync_text(result.previous, now())
        return f"dry run: would delete s3://{result.bucket}/{result.marker_key} ({current})"
    if result.deleted:
        return f"deleted s3://{result.bucket}/{result.marker_key}: the next run is a full transfer"
    return f"no sync marker in s3://{result.bucket}: nothing to reset"


@render.text_rows.register
def _text(result: ResetSync) -> Iterable[Sequence[object]]:
    yield ("RESETSYNC", result.deleted, result.bucket, result.marker_key, result.active_run_id)
