from __future__ import annotations

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.status import status as read_status
from hydration_cli.options import deployment_options, json_option, now


@click.command()
@deployment_options
@json_option
def status(deployment: Deployment, as_json: bool) -> None:
    """Last sync, the active run and its progress, queues, alarms, failure ledger."""
    moment = now()
    result = read_status(deployment, moment)
    if as_json:
        render.emit_json(result)
    else:
        click.echo(render.status_text(result, moment))
