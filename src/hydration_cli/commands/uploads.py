from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

import click
from rich.console import Group as Lines
from rich.console import RenderableType

from hydration_cli import humanize, render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.uploads import AbortReport, Upload, UploadsReport, abort_uploads, list_uploads
from hydration_cli.options import (
    DURATION,
    change_options,
    command,
    confirm,
    exit_code_option,
    now,
    paging_options,
    subgroup,
)

STALE_AFTER = click.option(
    "--stale-after",
    type=DURATION,
    default="6h",
    show_default=True,
    help="An upload whose copy recorded no progress for this long counts as orphaned.",
)


@subgroup()
def uploads() -> None:
    """Multipart uploads in the consumer bucket: copies in progress (parts done, bytes, source version) and
    orphaned uploads."""


@uploads.command("list")
@STALE_AFTER
@paging_options(1000)
@exit_code_option("if an upload is orphaned")
@command
def list_(
    deployment: Deployment, stale_after: timedelta, max_items: int, starting_token: dict[str, str] | None
) -> UploadsReport:
    """The multipart uploads of the consumer bucket, by key, with their copies' progress, a page at a time
    (--starting-token: the next page)."""
    return list_uploads(deployment.uploads, now=now(), stale_after=stale_after, limit=max_items, start=starting_token)


@uploads.command()
@click.option("--older-than", type=DURATION, help="Uploads started at least this long ago, whatever their state.")
@click.option(
    "--key", "keys", multiple=True, metavar="K", help="The upload(s) of key K (repeatable), whatever their state."
)
@STALE_AFTER
@change_options
@command
def abort(
    deployment: Deployment,
    older_than: timedelta | None,
    keys: tuple[str, ...],
    stale_after: timedelta,
    yes: bool,
    dry_run: bool,
) -> AbortReport:
    """Abort the orphaned uploads (or those of --key / --older-than) and forget their records, after showing
    them and asking (--yes: do not ask). A copy whose upload is aborted is copied again from the start by a
    later run."""

    def abort(preview: bool) -> AbortReport:
        return abort_uploads(
            deployment.uploads,
            now=now(),
            stale_after=stale_after,
            older_than=older_than,
            keys=list(keys) or None,
            dry_run=preview,
        )

    if not dry_run and not yes:
        planned = abort(True)
        if not planned.selected:
            return planned
        confirm(f"Abort {len(planned.selected)} upload(s)?", yes=yes, preview=planned)
    return abort(dry_run)


def _rows(uploads: list[Upload]) -> list[tuple[object, ...]]:
    return [
        (
            u.key,
            u.upload_id[:12],
            u.state if u.why_orphaned is None else f"{u.state} ({u.why_orphaned})",
            humanize.human_duration(u.age_seconds),
            f"{u.parts_done}/{u.part_count}" if u.part_count else "-",
            f"{humanize.human_bytes(u.bytes_done)} of {humanize.human_bytes(u.size)}" if u.size else "-",
            u.source_version_id or u.source_etag or "-",
        )
        for u in uploads
    ]


HEADERS = ("KEY", "UPLOAD", "STATE", "AGE", "PARTS", "BYTES", "SOURCE")


@render.table_view.register
def _list_table(result: UploadsReport) -> RenderableType:
    if result.continued and not result.uploads:
        return f"s3://{result.bucket}: no more multipart uploads"
    title = f"s3://{result.bucket}: {len(result.uploads)} multipart upload(s), {len(result.orphaned)} orphaned"
    view = Lines(title, render.grid(HEADERS, _rows(result.uploads))) if result.uploads else title
    return render.paged(view, result.next_token)


@render.table_view.register
def _abort_table(result: AbortReport) -> RenderableType:
    if not result.selected:
        return "no upload to abort"
    lines: list[RenderableType] = [
        f"{'would abort' if result.dry_run else 'aborted'} {len(result.selected)} upload(s):",
        render.grid(HEADERS, _rows(result.selected)),
    ]
    if result.already_gone:
        lines.append(f"{len(result.already_gone)} of them were already gone")

    return Lines(*lines)


def _text(uploads: list[Upload]) -> Iterable[Sequence[object]]:
    for u in uploads:
        yield ("UPLOAD", u.key, u.upload_id, u.state, u.initiated, u.parts_done, u.part_count, u.bytes_done, u.size)


@render.text_rows.register
def _list_text(result: UploadsReport) -> Iterable[Sequence[object]]:
    yield from _text(result.uploads)
    if result.next_token:
        yield ("NEXTTOKEN", result.next_token)


@render.text_rows.register
def _abort_text(result: AbortReport) -> Iterable[Sequence[object]]:
    return _text(result.selected)
