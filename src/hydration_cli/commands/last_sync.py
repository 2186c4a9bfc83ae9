from __future__ import annotations

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.sync import last_sync as read_last_sync
from hydration_cli.options import deployment_options, json_option, now


@click.command("last-sync")
@deployment_options
@json_option
def last_sync(deployment: Deployment, as_json: bool) -> None:
    """The sync marker: the time up to which every changed key has landed."""
    moment = now()
    result = read_last_sync(deployment, moment)
    if as_json:
        render.emit_json(result)
    else:
        click.echo(render.last_sync_text(result, moment))
