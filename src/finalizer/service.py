"""Finalizer: once a run's queue has drained, advance the sync marker and close the run.

The queue counts of SQS are approximate, so "drained" means 0 visible, 0 in flight and 0 delayed on two
readings at least DRAIN_CONFIRM_SECONDS apart. The marker moves to the run's watermark, but never past
a key in the failure ledger: with failures it moves to the oldest failed key's LastModified, so the next
incremental run selects those keys again (besides the ledger re-enqueueing them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from hydration import MARKER_KEY
from hydration.aws import queue
from hydration.aws import s3 as s3_adapter
from hydration.aws.state import FailureLedger, RunStore
from hydration.marker import Marker, format_time
from hydration.models import FinalizerRequest, QueueDepth, RunRecord, RunStatus
from hydration.observability import MetricUnit, logger, metrics
from hydration.settings import FinalizerSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

CLAIM_STALE_AFTER = timedelta(minutes=5)


@dataclass
class FinalizerDeps:
    consumer_s3: S3Client
    sqs: SQSClient
    runs: RunStore
    ledger: FailureLedger
    kms_key_id: str | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class FinalizeResult(BaseModel):
    run_id: str | None = None
    status: str | None = None
    action: str  # idle | planning | waiting | confirming | completed | claimed-elsewhere | finished
    queue: QueueDepth | None = None
    marker: datetime | None = None
    failed_count: int | None = None
    message: str = ""


def finalize(
    request: FinalizerRequest, settings: FinalizerSettings, deps: FinalizerDeps, claimant: str
) -> FinalizeResult:
    run = deps.runs.get(request.run_id) if request.run_id else deps.runs.active()
    if run is None:
        return FinalizeResult(action="idle", message="no active run")
    logger.set_correlation_id(run.run_id)
    logger.append_keys(run_id=run.run_id)
    if run.status is RunStatus.PLANNING or not run.planning_complete:
        return FinalizeResult(run_id=run.run_id, status=run.status, action="planning", message="planning not finished")
    if run.status is not RunStatus.DRAINING:
        return FinalizeResult(run_id=run.run_id, status=run.status, action="finished", message="run already ended")

    depth = queue.depth(deps.sqs, settings.transfer_queue_url)
    now = deps.clock()
    if not depth.empty:
        if run.drain_seen_empty_at is not None:
            deps.runs.set_drain_seen(run.run_id, None)
        return FinalizeResult(run_id=run.run_id, status=run.status, action="waiting", queue=depth)
    confirm = timedelta(seconds=settings.drain_confirm_seconds)
    if run.drain_seen_empty_at is None:
        deps.runs.set_drain_seen(run.run_id, now)
        if confirm:
            return FinalizeResult(run_id=run.run_id, status=run.status, action="confirming", queue=depth)
    elif now - run.drain_seen_empty_at < confirm:
        return FinalizeResult(run_id=run.run_id, status=run.status, action="confirming", queue=depth)

    if not deps.runs.claim_finalization(run.run_id, claimant, CLAIM_STALE_AFTER):
        return FinalizeResult(run_id=run.run_id, status=run.status, action="claimed-elsewhere")
    return _complete(run, settings, deps, claimant, depth, now)


def _complete(
    run: RunRecord,
    settings: FinalizerSettings,
    deps: FinalizerDeps,
    claimant: str,
    depth: QueueDepth,
    now: datetime,
) -> FinalizeResult:
    failures = list(deps.ledger)
    synced_to = min([run.watermark, *(f.last_modified for f in failures)])
    if run.kind.advances_marker:
        detail = {
            "run_id": run.run_id,
            "kind": run.kind.value,
            "watermark": format_time(run.watermark),
            "keys_enqueued": run.keys_enqueued,
            "failed_keys": len(failures),
            "written_at": format_time(now),
        }
        s3_adapter.put_text(
            deps.consumer_s3,
            settings.consumer_bucket,
            MARKER_KEY,
            Marker(synced_to, detail).render(),
            deps.kms_key_id,
        )
        logger.info("sync marker advanced", synced_to=synced_to, failed_keys=len(failures))
    else:
        logger.info("this kind of run does not move the sync marker", kind=run.kind)
    status = RunStatus.COMPLETED_WITH_FAILURES if failures else RunStatus.COMPLETED
    deps.runs.complete(run.run_id, claimant, status, len(failures), synced_to)
    duration = (now - run.started_at).total_seconds()
    metrics.add_metric(name="RunDurationSeconds", unit=MetricUnit.Seconds, value=duration)
    metrics.add_metric(name="RunFailedObjects", unit=MetricUnit.Count, value=len(failures))
    logger.info("run completed", status=status, duration_seconds=duration, failed_count=len(failures))
    return FinalizeResult(
        run_id=run.run_id,
        status=status,
        action="completed",
        queue=depth,
        marker=synced_to if run.kind.advances_marker else None,
        failed_count=len(failures),
    )
