"""Planner: start a run (or continue one) and put every key it selects into the run's books and onto the
transfer queue; when planning is done the run drains, and closes as soon as its books balance.

A listing that would outlive the invocation checkpoints its position in the run record and continues in a
new invocation; every checkpoint commits with the sheets it covers (planner.enqueue). What a run selects
(planner.scope) and its watermark, how far the marker may move when it closes (planner.holdback), are decided
before the run starts and written in the record that starts it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hydration.aws import listing as source_listing
from hydration.closing import close_if_balanced
from hydration.errors import CheckpointMovedError, InvalidRequestError, MarkerFormatError, RunAlreadyActiveError
from hydration.marker import Marker
from hydration.models import Drift, PlannerRequest, PlanResult, RunKind, RunRecord, RunStatus
from hydration.observability import MetricUnit, annotate_run, logger, metrics, tracer
from hydration.selection import excluded_key, is_selected, within_scope
from planner import listing, reconcile, scope
from planner.context import Budget, PlannerDeps
from planner.enqueue import Enqueue
from planner.holdback import hold_back
from planner.refusal import refuse
from planner.scope import Selection

SAMPLE_KEYS = 20


@tracer.capture_method
def plan(request: PlannerRequest, deps: PlannerDeps, budget: Budget, *, run_id: str, request_id: str) -> PlanResult:
    """Start a run (or continue a checkpointed one) and enqueue what it selects."""
    settings = deps.settings
    if request.continue_run:
        run = deps.runs.get(request.continue_run)
        if run.status is not RunStatus.PLANNING:
            return PlanResult(started=False, run_id=run.run_id, status=run.status, message="run is not planning")
        return _resume(run, deps, budget, request_id)

    if request.prefix and not within_scope(request.prefix, settings.transfer_prefixes):
        raise InvalidRequestError(
            f"prefix: {request.prefix!r} is outside the configured transfer prefixes {settings.transfer_prefixes}"
        )
    started_at = deps.clock()
    selection = scope.select(request, settings, _marker(request, deps))
    if request.dry_run:
        return _dry_run(request, deps, selection, started_at)

    run = RunRecord(
        run_id=run_id,
        status=RunStatus.PLANNING,
        kind=request.kind,
        watermark=started_at,
        since=selection.since,
        prefixes=selection.prefixes,
        scope=selection.scope,
        bounds=selection.bounds,
        previous_destination=selection.previous_destination,
        keys=list(request.keys or []),
        force=request.force,
        started_at=started_at,
        heartbeat_at=started_at,
        planned_by=request_id,
        drift=Drift() if request.kind is RunKind.RECONCILE else None,
        ttl=int((started_at + timedelta(days=settings.run_ttl_days)).timestamp()),
    )
    # The hold-back is part of the record that starts the run: a retried planner resumes with it.
    try:
        held = hold_back(started_at, selection.prefixes, request.kind, deps)
    except Exception as exc:
        logger.exception("could not list the multipart uploads in flight; no run started", run_id=run.run_id)
        failed = {"status": RunStatus.FAILED, "ended_at": deps.clock(), "error": f"{type(exc).__name__}: {exc}"}
        deps.runs.record_unstarted(run.model_copy(update=failed))
        raise
    run.watermark, run.inflight_uploads = held.watermark, held.inflight_uploads
    run.held_back_by = held.oldest.key if held.oldest is not None else None
    try:
        deps.runs.create(run)
    except RunAlreadyActiveError as busy:
        active = deps.runs.active()
        if active is not None and active.status is RunStatus.PLANNING:
            stale = deps.clock() - active.heartbeat() > timedelta(seconds=settings.stale_planning_seconds)
            if active.planned_by == request_id or stale:
                # Lambda retried this very invocation (same request id), or the planner that held the run died.
                logger.warning("resuming a planning run", run_id=active.run_id, retried=not stale)
                return _resume(active, deps, budget, request_id)
        return refuse(run, busy, deps, asked_for=request.new_run_id is not None)
    logger.info("run started", run_id=run.run_id, kind=run.kind, since=run.since, prefixes=run.prefixes)
    logger.info("watermark", watermark=run.watermark, inflight_uploads=run.inflight_uploads)
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    return _resume(run, deps, budget, request_id)


def _marker(request: PlannerRequest, deps: PlannerDeps) -> Marker | None:
    """The sync marker: an incremental run selects from it; any run reads the scope it was made for. A run
    that writes the marker must read it (it would record its scope over a change it did not see); the
    others go on without an unreadable one."""
    try:
        return deps.closing.marker.read()
    except MarkerFormatError:
        if request.kind.advances_marker:
            raise
        logger.warning("the sync marker is unreadable; this run does not need it", kind=request.kind)
        return None


def _dry_run(request: PlannerRequest, deps: PlannerDeps, selection: Selection, started_at: datetime) -> PlanResult:
    settings = deps.settings
    excluded = excluded_key(settings.destination_prefix)
    keys = nbytes = listed = 0
    sample: list[str] = []
    for prefix in selection.prefixes:
        for page in source_listing.list_pages(deps.producer_s3, settings.producer_bucket, prefix):
            listed += len(page.objects)
            for obj in page.objects:
                if is_selected(obj.key, obj.last_modified, selection.since_for(obj.key), excluded):
                    keys += 1
                    nbytes += obj.size
                    if len(sample) < SAMPLE_KEYS:
                        sample.append(obj.key)
    logger.info("dry run", keys=keys, bytes=nbytes, since=selection.since, bounds=len(selection.bounds))
    return PlanResult(
        started=False,
        dry_run=True,
        kind=request.kind,
        since=selection.since,
        watermark=started_at,
        keys_listed=listed,
        keys_enqueued=keys,
        bytes_enqueued=nbytes,
        sample_keys=sample,
        message="dry run: nothing was enqueued",
    )


def _resume(run: RunRecord, deps: PlannerDeps, budget: Budget, request_id: str) -> PlanResult:
    logger.append_keys(run_id=run.run_id)
    logger.set_correlation_id(run.run_id)
    annotate_run(run.run_id)
    settings = deps.settings
    with Enqueue(
        run,
        settings.producer_bucket,
        deps.books,
        deps.runs,
        deps.ledger,
        deps.queue,
        concurrency=settings.enqueue_concurrency,
        clock=deps.clock,
    ) as enqueue:
        budget.beat = enqueue.checkpoint  # a heartbeat is a checkpoint: it also notices a cancelled run
        try:
            ledger = listing.LedgerSnapshot.read(deps.ledger)  # once per planning invocation
            finished = _walk(run, deps, budget, enqueue, ledger)
            if finished:
                listing.enqueue_ledger(run, deps, enqueue, ledger)
            run = enqueue.flush()  # the last checkpoint: where this invocation stopped, or the end
        except CheckpointMovedError as stopped:
            logger.warning(
                "planning stopped: the run was cancelled or another invocation plans it", reason=str(stopped)
            )
            enqueue.drain()
            return _result(deps.runs.get(run.run_id), message=str(stopped))
        except Exception as exc:
            logger.exception("planning failed; the run is FAILED and the marker stays", run_id=run.run_id)
            enqueue.drain()
            deps.runs.fail(run.run_id, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            _count(enqueue)

    if not finished:
        deps.continuation.continue_run(run.run_id)
        logger.info("listing checkpointed; continuing in a new invocation", cursor=run.cursor)
        return _result(deps.runs.get(run.run_id), continued=True)

    if not deps.runs.finish_planning(run):
        return _result(deps.runs.get(run.run_id), message="the run stopped planning")
    if run.drift is not None:
        metrics.add_metric(name="DriftMissing", unit=MetricUnit.Count, value=run.drift.missing)
        metrics.add_metric(name="DriftDifferent", unit=MetricUnit.Count, value=run.drift.different)
        logger.info("reconcile drift", drift=run.drift.model_dump())
    drained = deps.runs.get(run.run_id)
    logger.info(
        "planning complete",
        keys_listed=drained.keys_listed,
        keys_enqueued=drained.keys_enqueued,
        keys_unchanged=drained.keys_unchanged,
        keys_settled=drained.keys_settled,
    )
    closed = close_if_balanced(drained, deps.closing, claimant=request_id)  # nothing left to copy: close now
    return _result(closed or drained)


def _walk(run: RunRecord, deps: PlannerDeps, budget: Budget, enqueue: Enqueue, ledger: listing.LedgerSnapshot) -> bool:
    match run.kind:
        case RunKind.RECONCILE:
            return reconcile.walk(run, deps, budget, enqueue, ledger)
        case RunKind.KEYS:
            return listing.walk_keys(run, deps, enqueue, ledger)
        case _:
            return listing.walk(run, deps, budget, enqueue, ledger)


def _count(enqueue: Enqueue) -> None:
    """This invocation's enqueue totals, as metrics (the books count them in the run)."""
    totals = enqueue.totals
    metrics.add_metric(name="KeysEnqueued", unit=MetricUnit.Count, value=totals.opened)
    metrics.add_metric(name="BytesEnqueued", unit=MetricUnit.Bytes, value=totals.bytes)
    if totals.failed:
        metrics.add_metric(name="KeysEnqueueFailed", unit=MetricUnit.Count, value=totals.failed)


def _result(run: RunRecord, *, continued: bool = False, message: str = "") -> PlanResult:
    return PlanResult(
        started=True,
        run_id=run.run_id,
        status=run.status,
        kind=run.kind,
        watermark=run.watermark,
        since=run.since,
        keys_listed=run.keys_listed,
        keys_enqueued=run.keys_enqueued,
        bytes_enqueued=run.bytes_enqueued,
        ledger_keys_enqueued=run.ledger_keys_enqueued,
        keys_unchanged=run.keys_unchanged,
        enqueue_failed=run.objects_failed,
        continued=continued,
        drift=run.drift,
        message=message,
    )
