"""Closing a run: the accounting rule and the marker rule, in one place.

- Accounting: a run closes when planning has finished and its books balance (every key it enqueued has
  settled: transferred, skipped, vanished, archived (in the ledger, marked so), or failed with the key in
  the failure ledger). Whoever settles the last key (a copier), the planner (a run with nothing left to
  copy) or the finalizer closes it, at once; one closer wins a conditional claim.
- Marker: it moves to the run's watermark (the listing's start, or the start of the oldest multipart upload
  in flight then), never past the oldest failed key in the failure ledger within the run's scope (archived
  keys are a named settlement: listed, not held, not failures), and only for runs that cover the whole
  configured scope; it records that scope. A run whose books cannot be balanced ends INCOMPLETE and does not
  move it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hydration.marker import Marker, format_time
from hydration.models import RunRecord, RunStatus
from hydration.observability import MetricUnit, logger, run_metric
from hydration.ports import Ledger, MarkerStore, RunEvents, Runs

# A closer needs seconds (the ledger read, the marker, one transaction); a claim older than this was left by
# a closer that died (a copier killed after settling the last key), and the next closer takes it over. Two
# closers racing past it are harmless: each marker they write is bounded by the ledger, and one close wins.
CLAIM_STALE_AFTER = timedelta(seconds=60)


@dataclass
class Closing:
    """The ports a closer needs."""

    runs: Runs
    ledger: Ledger
    marker: MarkerStore
    events: RunEvents
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def close_if_balanced(run: RunRecord, closing: Closing, claimant: str) -> RunRecord | None:
    """Close the run if its books balance; the closed run, or None (not balanced, or closed elsewhere)."""
    if run.status is not RunStatus.DRAINING or not run.balanced:
        return None
    if not closing.runs.claim(run.run_id, claimant, CLAIM_STALE_AFTER):
        return None
    return finish(run, closing, claimant)


def finish(run: RunRecord, closing: Closing, claimant: str, *, incomplete: bool = False, swept: int = 0) -> RunRecord:
    """Write the marker (unless the run is INCOMPLETE or does not cover the scope) and end the run; the caller
    holds the claim. If anything fails the claim is released, so the next pass tries again."""
    try:
        failed, oldest = _failures(run, closing.ledger)
        now = closing.clock()
        marker_at: datetime | None = None
        if incomplete:
            status = RunStatus.INCOMPLETE
        else:
            status = RunStatus.COMPLETED_WITH_FAILURES if failed or run.objects_failed else RunStatus.COMPLETED
            if run.kind.advances_marker:
                marker_at = run.watermark if oldest is None else min(run.watermark, oldest)
                closing.marker.write(Marker(marker_at, _detail(run, failed, now)))
                logger.info("sync marker advanced", synced_to=marker_at, failed_keys=failed)
            else:
                logger.info("this kind of run does not move the sync marker", kind=run.kind)
        closing.runs.close(run.run_id, claimant, status, failed, marker_at, swept)
    except Exception:
        closing.runs.release_claim(run.run_id, claimant)
        raise
    closed = run.model_copy(
        update={
            "status": status,
            "ended_at": now,
            "failed_count": failed,
            "unsettled_swept": swept,
            "marker_written": marker_at,
        }
    )
    _report(closed, closing)
    return closed


def _failures(run: RunRecord, ledger: Ledger) -> tuple[int, datetime | None]:
    """How many of the ledger's retryable entries are in the run's scope, and the oldest one's LastModified,
    folded as the ledger is read (a failure storm's millions of entries are never held at once). Archived
    keys are a named settlement, not failures: a restore-requested one is re-enqueued by every run until it
    lands, and holds nothing; a narrowed scope leaves others out."""
    failed, oldest = 0, None
    for failure in ledger:
        if run.in_scope(failure.key) and not failure.archived:
            failed += 1
            oldest = failure.last_modified if oldest is None else min(oldest, failure.last_modified)
    return failed, oldest


def _detail(run: RunRecord, failed: int, now: datetime) -> dict[str, object]:
    detail: dict[str, object] = {
        "run_id": run.run_id,
        "kind": run.kind.value,
        "watermark": format_time(run.watermark),
        "keys_enqueued": run.keys_enqueued,
        "failed_keys": failed,
        "written_at": format_time(now),
    }
    if run.scope is not None:  # what the marker follows: the next run compares it with its configuration
        detail["scope"] = run.scope.model_dump(mode="json")
    return detail


def _report(run: RunRecord, closing: Closing) -> None:
    duration = ((run.ended_at or closing.clock()) - run.started_at).total_seconds()
    run_metric("RunDurationSeconds", MetricUnit.Seconds, duration)
    run_metric("RunFailedObjects", MetricUnit.Count, run.failed_count or 0)
    run_metric("RunsIncomplete", MetricUnit.Count, int(run.status is RunStatus.INCOMPLETE))
    log = logger.error if run.status is RunStatus.INCOMPLETE else logger.info
    log(
        "run ended",
        run_id=run.run_id,
        status=run.status,
        duration_seconds=duration,
        keys_enqueued=run.keys_enqueued,
        keys_settled=run.keys_settled,
        failed_count=run.failed_count,
        unsettled_swept=run.unsettled_swept,
    )
    try:
        closing.events.run_ended(run)
    except Exception:  # the run is closed either way; the event is a notification
        logger.exception("could not publish the run's end event", run_id=run.run_id)
