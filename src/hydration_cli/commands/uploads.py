from __future__ import annotations

from datetime import timedelta

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.uploads import ConsumerUploads, Upload, abort_uploads, list_uploads
from hydration_cli.options import DURATION, deployment_options, json_option, now

STALE_AFTER = click.option(
    "--stale-after",
    type=DURATION,
    default="6h",
    show_default=True,
    help="An upload whose copy recorded no progress for this long counts as orphaned.",
)


def _table(uploads: list[Upload]) -> str:
    rows = [
        (
            u.key,
            u.upload_id[:12],
            u.state if u.why_orphaned is None else f"{u.state} ({u.why_orphaned})",
            render.human_duration(u.age_seconds),
            f"{u.parts_done}/{u.part_count}" if u.part_count else "-",
            f"{render.human_bytes(u.bytes_done)} of {render.human_bytes(u.size)}" if u.size else "-",
            u.source_version_id or u.source_etag or "-",
        )
        for u in uploads
    ]
    return render.table(("KEY", "UPLOAD", "STATE", "AGE", "PARTS", "BYTES", "SOURCE"), rows)


@click.group(invoke_without_command=True)
@STALE_AFTER
@deployment_options
@json_option
@click.pass_context
def uploads(ctx: click.Context, deployment: Deployment, stale_after: timedelta, as_json: bool) -> None:
    """Multipart uploads in the consumer bucket: copies in progress (parts done, bytes, source version) and
    orphaned uploads. Without a subcommand: list them."""
    if ctx.invoked_subcommand is not None:
        return
    report = list_uploads(ConsumerUploads.of(deployment), now=now(), stale_after=stale_after)
    if as_json:
        render.emit_json(report)
        return
    click.echo(f"s3://{report.bucket}: {len(report.uploads)} multipart upload(s), {len(report.orphaned)} orphaned")
    if report.uploads:
        click.echo(_table(report.uploads))


@uploads.command()
@click.option("--older-than", type=DURATION, help="Uploads started at least this long ago, whatever their state.")
@click.option(
    "--key", "keys", multiple=True, metavar="K", help="The upload(s) of key K (repeatable), whatever their state."
)
@STALE_AFTER
@click.option(
    "--yes", "-y", is_flag=True, help="Abort them; without it, only show what would be aborted (exit 1 if any)."
)
@deployment_options
@json_option
def abort(
    deployment: Deployment,
    older_than: timedelta | None,
    keys: tuple[str, ...],
    stale_after: timedelta,
    yes: bool,
    as_json: bool,
) -> None:
    """Abort the orphaned uploads (or those of --key / --older-than) and forget their records. A copy whose
    upload is aborted is copied again from the start by a later run."""
    report = abort_uploads(
        ConsumerUploads.of(deployment),
        now=now(),
        stale_after=stale_after,
        older_than=older_than,
        keys=list(keys) or None,
        dry_run=not yes,
    )
    if as_json:
        render.emit_json(report)
    elif not report.selected:
        click.echo("no upload to abort")
    else:
        click.echo(f"{'would abort' if report.dry_run else 'aborted'} {len(report.selected)} upload(s):")
        click.echo(_table(report.selected))
        if report.already_gone:
            click.echo(f"{len(report.already_gone)} of them were already gone")
        if report.dry_run:
            click.echo("run again with --yes to abort them", err=True)
    if report.dry_run and report.selected:
        raise click.exceptions.Exit(1)
