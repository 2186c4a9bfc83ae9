"""The sync marker `_s3_hydration_last_sync`: read it, delete it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hydration import MARKER_KEY
from hydration import marker as marker_format
from hydration.aws import s3 as s3_adapter
from hydration.errors import MarkerFormatError
from hydration_cli.deployment import Deployment
from hydration_cli.outcome import ExitCode, Result


class LastSync(Result):
    bucket: str
    marker_key: str = MARKER_KEY
    exists: bool
    synced_to: datetime | None = None
    age_seconds: float | None = None
    detail: dict[str, Any] = {}


class ResetSync(Result):
    bucket: str
    marker_key: str = MARKER_KEY
    deleted: bool
    previous: LastSync
    active_run_id: str | None = None
    dry_run: bool = False  # nothing deleted: `previous` is what would be

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.dry_run and self.previous.exists else ExitCode.OK


def last_sync(deployment: Deployment, now: datetime) -> LastSync:
    """The marker as the planner reads it (MarkerFormatError if its first line is not a time)."""
    bucket = deployment.bucket
    text = s3_adapter.get_text(deployment.s3, bucket, MARKER_KEY)
    if text is None:
        return LastSync(bucket=bucket, exists=False)
    parsed = marker_format.parse(text)
    return LastSync(
        bucket=bucket,
        exists=True,
        synced_to=parsed.synced_to,
        age_seconds=(now - parsed.synced_to).total_seconds(),
        detail=parsed.detail,
    )


def read_raw(deployment: Deployment, now: datetime) -> LastSync:
    """Like last_sync, but a marker that does not parse still counts as existing (reset-sync deletes it)."""
    try:
        return last_sync(deployment, now)
    except MarkerFormatError:
        return LastSync(bucket=deployment.bucket, exists=True, detail={"error": "unparseable marker"})


def reset_sync(deployment: Deployment, previous: LastSync) -> ResetSync:
    """Delete the marker: the next incremental run is a full transfer (the manifest skips what is there)."""
    if previous.exists:
        s3_adapter.delete(deployment.s3, deployment.bucket, MARKER_KEY)
    return ResetSync(
        bucket=deployment.bucket,
        deleted=previous.exists,
        previous=previous,
        active_run_id=deployment.runs.active_run_id(),
    )
