"""Multipart uploads in the consumer bucket, joined with the uploads table: which copies are in progress,
which uploads are orphaned, and aborting them.

An upload is *in progress* when the uploads table records it and recorded progress within `stale_after`;
it is *orphaned* when no record names it (a copier died between starting it and recording it, or something
else started it) or its record has not moved for `stale_after`. The consumer bucket's lifecycle rule aborts
any upload a day after it started; these procedures are for the day in between, and for a look at progress.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from hydration.aws import multipart
from hydration.aws.uploads import UploadRecord
from hydration.errors import InvalidRequestError
from hydration_cli.aws.uploads import ConsumerUploads
from hydration_cli.outcome import ExitCode, Result
from hydration_cli.params import encode_token


class Upload(BaseModel):
    key: str
    upload_id: str
    initiated: datetime
    age_seconds: float
    state: Literal["in-progress", "orphaned"]
    why_orphaned: str | None = None
    # from the uploads table's record, when one names this upload
    mode: str | None = None
    parts_done: int | None = None
    part_count: int | None = None
    bytes_done: int | None = None
    size: int | None = None
    source_etag: str | None = None
    source_version_id: str | None = None
    updated_at: datetime | None = None


class UploadsReport(Result):
    bucket: str
    stale_after_seconds: float
    uploads: list[Upload]  # one page, in S3's order (by key, then by initiation)
    next_token: str | None = None  # --starting-token for the next page (None: no more uploads)
    continued: bool = False  # this page follows an earlier one (a --starting-token was given)

    @property
    def orphaned(self) -> list[Upload]:
        return [u for u in self.uploads if u.state == "orphaned"]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.orphaned else ExitCode.OK


class AbortReport(Result):
    dry_run: bool
    selected: list[Upload]  # aborted (or would be, in a dry run)
    already_gone: list[str] = []  # upload ids S3 no longer had when we got to them

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.dry_run and self.selected else ExitCode.OK


def _describe(
    upload: multipart.InProgressUpload, record: UploadRecord | None, now: datetime, stale_after: timedelta
) -> Upload:
    base: dict[str, Any] = {
        "key": upload.key,
        "upload_id": upload.upload_id,
        "initiated": upload.initiated,
        "age_seconds": (now - upload.initiated).total_seconds(),
    }
    if record is None or record.upload_id != upload.upload_id:
        why = "no record" if record is None else "the record names another upload"
        return Upload(state="orphaned", why_orphaned=why, **base)
    stale = now - record.updated_at >= stale_after
    return Upload(
        state="orphaned" if stale else "in-progress",
        why_orphaned=f"no progress since {record.updated_at:%Y-%m-%d %H:%M:%SZ}" if stale else None,
        mode=record.mode,
        parts_done=len(record.parts),
        part_count=record.part_count,
        bytes_done=record.bytes_done,
        size=record.size,
        source_etag=record.source_etag,
        source_version_id=record.source_version_id,
        updated_at=record.updated_at,
        **base,
    )


def list_uploads(
    adapter: ConsumerUploads,
    *,
    now: datetime,
    stale_after: timedelta,
    limit: int = 1000,
    start: dict[str, Any] | None = None,
) -> UploadsReport:
    """One page of the consumer bucket's multipart uploads, each with its copy's progress: up to `limit`
    uploads from `start` (the position a previous page printed as its next_token)."""
    uploads, after = _page(adapter, now, stale_after, limit, _after(start))
    return UploadsReport(
        bucket=adapter.bucket,
        stale_after_seconds=stale_after.total_seconds(),
        uploads=uploads,
        next_token=encode_token({"key": after[0], "upload_id": after[1]}) if after else None,
        continued=start is not None,
    )


def _page(
    adapter: ConsumerUploads, now: datetime, stale_after: timedelta, limit: int, after: tuple[str, str] | None
) -> tuple[list[Upload], tuple[str, str] | None]:
    """A page of uploads joined with the records of exactly their keys, and where the next page starts."""
    page = adapter.page(limit, after)
    records = adapter.records(sorted({u.key for u in page.uploads}))
    return [_describe(u, records.get(u.key), now, stale_after) for u in page.uploads], page.next_after


def _after(start: dict[str, Any] | None) -> tuple[str, str] | None:
    if start is None:
        return None
    key, upload_id = start.get("key"), start.get("upload_id")
    if not isinstance(key, str) or not isinstance(upload_id, str):
        raise InvalidRequestError("--starting-token: not a token printed by `uploads list` (its next_token)")
    return key, upload_id


def _every_upload(adapter: ConsumerUploads, now: datetime, stale_after: timedelta) -> list[Upload]:
    uploads, after = _page(adapter, now, stale_after, 1000, None)
    while after is not None:
        more, after = _page(adapter, now, stale_after, 1000, after)
        uploads += more
    return uploads


def abort_uploads(
    adapter: ConsumerUploads,
    *,
    now: datetime,
    stale_after: timedelta,
    older_than: timedelta | None = None,
    keys: list[str] | None = None,
    dry_run: bool,
) -> AbortReport:
    """Abort the orphaned uploads, or with `keys` / `older_than` the uploads of those keys / started that long
    ago, whatever their state (a copy in progress then starts again, in a later run)."""
    uploads = _every_upload(adapter, now, stale_after)
    if keys is None and older_than is None:
        selected = [u for u in uploads if u.state == "orphaned"]
    else:
        selected = [
            u
            for u in uploads
            if (keys is None or u.key in keys) and (older_than is None or u.age_seconds >= older_than.total_seconds())
        ]
    result = AbortReport(dry_run=dry_run, selected=selected)
    if not dry_run:
        result.already_gone = [u.upload_id for u in selected if not adapter.abort(u.key, u.upload_id)]
    return result
