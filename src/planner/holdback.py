"""The hold-back: how far a run's marker may move, decided before the run's first write.

S3 stamps a completed multipart upload with the time it was initiated, so an upload in flight when a run's
listing starts lands later with a LastModified before that start. The run's watermark (where the marker
moves when the run closes) is therefore the listing's start, moved back to the initiation of the oldest
upload in flight in scope, however old: an upload that is never completed (abandoned without a lifecycle
rule) pins the marker, it is never passed silently. Each run that can move the marker reports the oldest
such upload's age (`OldestInflightUploadAgeSeconds`, alarmed by `InflightUploadPinsMarkerAlarm`) and, past
`INFLIGHT_UPLOAD_ALARM_SECONDS`, logs a warning naming its key and upload id.

The hold-back is computed before the run record is created and written with it, in the same transaction
that takes the one-active-run lock: a planner retried before its first page resumes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hydration.aws import listing as source_listing
from hydration.aws.listing import InflightUpload
from hydration.models import RunKind
from hydration.observability import MetricUnit, logger, metrics
from planner.context import PlannerDeps


@dataclass(frozen=True)
class HoldBack:
    watermark: datetime  # the listing's start, or the initiation of the oldest upload in flight in scope
    inflight_uploads: int
    oldest: InflightUpload | None  # the upload that holds the watermark back, if any


def hold_back(started_at: datetime, prefixes: list[str], kind: RunKind, deps: PlannerDeps) -> HoldBack:
    """The watermark of a run starting at `started_at` over `prefixes`, with the uploads in flight there."""
    settings = deps.settings
    oldest: InflightUpload | None = None
    count = 0
    for prefix in prefixes:
        for upload in source_listing.inflight_uploads(deps.producer_s3, settings.producer_bucket, prefix):
            count += 1
            if oldest is None or upload.initiated < oldest.initiated:
                oldest = upload
    held = oldest is not None and oldest.initiated < started_at
    watermark = oldest.initiated if held and oldest is not None else started_at
    if kind.advances_marker:
        _report(started_at, oldest if held else None, deps.settings.inflight_upload_alarm_seconds)
    return HoldBack(watermark=watermark, inflight_uploads=count, oldest=oldest if held else None)


def _report(started_at: datetime, oldest: InflightUpload | None, alarm_seconds: int) -> None:
    age = (started_at - oldest.initiated).total_seconds() if oldest is not None else 0.0
    metrics.add_metric(name="OldestInflightUploadAgeSeconds", unit=MetricUnit.Seconds, value=age)
    if oldest is None:
        return
    # Past the alarm time (InflightUploadPinsMarkerAlarm fires on the metric) this line names the upload: the
    # runbook's procedure is to have it completed or aborted in the producer bucket; the marker then moves on.
    pinned = age > alarm_seconds
    log = logger.warning if pinned else logger.info
    log(
        "InflightUploadPinsMarker" if pinned else "a multipart upload in flight holds the watermark back",
        key=oldest.key,
        upload_id=oldest.upload_id,
        initiated=oldest.initiated,
        age_seconds=age,
    )
