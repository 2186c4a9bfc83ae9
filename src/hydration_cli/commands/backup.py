from __future__ import annotations

import json
from pathlib import Path

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.backup import export
from hydration_cli.options import deployment_options, now


@click.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="File to write ('-': stdout). Default: s3-hydration-backup-<time>.json",
)
@deployment_options
def backup(deployment: Deployment, output: Path | None) -> None:
    """Export the runs, failures and manifest tables to one JSON file."""
    moment = now()
    result = export(deployment, moment)
    text = json.dumps(result.model_dump(mode="json"), indent=1)
    if output is not None and str(output) == "-":
        click.echo(text)
        return
    path = output or Path(f"s3-hydration-backup-{moment.strftime('%Y%m%dT%H%M%SZ')}.json")
    path.write_text(text + "\n", encoding="utf-8")
    counts = ", ".join(f"{name} {len(dump.items):,}" for name, dump in result.tables.items())
    click.echo(f"wrote {path} ({counts} items; {render.human_bytes(len(text))})")
