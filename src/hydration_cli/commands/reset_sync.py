from __future__ import annotations

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.sync import read_raw
from hydration_cli.ops.sync import reset_sync as delete_marker
from hydration_cli.options import deployment_options, json_option, now


@click.command("reset-sync")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@deployment_options
@json_option
def reset_sync(deployment: Deployment, yes: bool, as_json: bool) -> None:
    """Delete the sync marker: the next incremental run lists and considers every key.

    Objects already in the consumer bucket are skipped (the manifest knows their source version).
    """
    moment = now()
    previous = read_raw(deployment, moment)
    if previous.exists and not yes:
        click.echo(f"current: {render.last_sync_text(previous, moment)}", err=True)
        click.confirm(
            f"Delete s3://{previous.bucket}/{previous.marker_key}? The next run will consider every key",
            abort=True,
            err=True,
        )
    result = delete_marker(deployment, previous)
    if as_json:
        render.emit_json(result)
        return
    if result.deleted:
        click.echo(f"deleted s3://{result.bucket}/{result.marker_key}: the next run is a full transfer")
    else:
        click.echo(f"no sync marker in s3://{result.bucket}: nothing to reset")
    if result.active_run_id:
        click.echo(
            f"note: run {result.active_run_id} is active; it writes the marker again when it completes",
            err=True,
        )
