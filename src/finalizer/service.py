"""Finalizer (every few minutes, or nudged by `s3-hydration runs watch`): the safety net of the books.

A run normally closes the moment its last key settles (the copier that settles it closes it). The finalizer
handles what does not settle by itself:
- a run whose books do not balance although the transfer queue is empty (two readings at least
  DRAIN_CONFIRM_SECONDS apart): the keys that never settled (a message that expired, was dead-lettered
  without a ledger entry, or was never sent) are put in the failure ledger and settled as failed, then the
  run closes with the marker bounded by them; if they cannot all be, the run ends INCOMPLETE and the
  marker stays;
- the transfer DLQ: every key found there is in the failure ledger;
- a planning run that nobody plans any more: no worker has shown it is alive for STALE_PLANNING_SECONDS,
  or its shards are cut and the planner workers' queue is empty (nothing queued, nothing in flight: a
  shard's message was lost, or the worker that finished the last shard stopped before completing the
  planning): the coordinator is invoked to pick it up (`continue_run`);
- the sync marker's age, published on every pass (the "sync is stale" alarm reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from hydration.closing import CLAIM_STALE_AFTER, Closing, close_if_balanced, finish
from hydration.models import (
    FailureRecord,
    FinalizeResult,
    FinalizerRequest,
    Outcome,
    PartsMessage,
    QueueDepth,
    RunRecord,
    RunStatus,
    Settlement,
    Task,
    TransferMessage,
    parse_message,
)
from hydration.observability import MetricUnit, annotate_run, logger, metrics, tracer
from hydration.ports import Books, Continuation, Lookup, Runs
from hydration.settings import FinalizerSettings


@dataclass
class FinalizerDeps:
    settings: FinalizerSettings
    runs: Runs
    books: Books
    lookup: Lookup
    closing: Closing
    queue_depth: Callable[[], QueueDepth]
    dlq_bodies: Callable[[int], Iterable[str]] | None = None  # up to N bodies of the transfer DLQ, left there
    planner: Continuation | None = None
    planner_queue_depth: Callable[[], QueueDepth] | None = None  # the planner workers' queue
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@tracer.capture_method
def finalize(request: FinalizerRequest, deps: FinalizerDeps, claimant: str) -> FinalizeResult:
    _report_sync_age(deps)
    added = _sweep_dlq(deps)
    run = deps.runs.get(request.run_id) if request.run_id else deps.runs.active()
    if run is None:
        return FinalizeResult(action="idle", dlq_keys_added=added, message="no active run")
    logger.append_keys(run_id=run.run_id)
    logger.set_correlation_id(run.run_id)
    annotate_run(run.run_id)
    result = _pass(run, deps, claimant)
    result.dlq_keys_added = added
    return result


def _pass(run: RunRecord, deps: FinalizerDeps, claimant: str) -> FinalizeResult:
    def answer(action: str, current: RunRecord = run, **extra: object) -> FinalizeResult:
        return FinalizeResult(
            run_id=current.run_id,
            status=current.status,
            action=action,
            keys_enqueued=current.keys_enqueued,
            keys_settled=current.keys_settled,
            failed_count=current.failed_count,
            **extra,
        )

    settings = deps.settings
    now = deps.clock()
    if run.status is RunStatus.PLANNING:
        stale = now - run.heartbeat() > timedelta(seconds=settings.stale_planning_seconds)
        idle = run.shards_cut and deps.planner_queue_depth is not None and deps.planner_queue_depth().empty
        if deps.planner is not None and (stale or idle):
            logger.warning("nobody plans this run; picking it up", heartbeat_at=run.heartbeat(), stale=stale)
            deps.planner.continue_run(run.run_id)
            return answer("resumed-planning")
        return answer("planning", message="planning not finished")
    if run.status is not RunStatus.DRAINING:
        return answer("finished", message="run already ended")

    closed = close_if_balanced(run, deps.closing, claimant)
    if closed is not None:
        return answer("completed", closed, marker=closed.marker_written)
    if run.balanced:
        return answer("claimed-elsewhere")

    depth = deps.queue_depth()
    if not depth.empty:
        if run.drain_seen_empty_at is not None:
            deps.runs.set_drain_seen(run.run_id, None)
        return answer("waiting", queue=depth)
    confirm = timedelta(seconds=settings.drain_confirm_seconds)
    if run.drain_seen_empty_at is None and confirm:
        deps.runs.set_drain_seen(run.run_id, now)
        return answer("confirming", queue=depth)
    if run.drain_seen_empty_at is not None and now - run.drain_seen_empty_at < confirm:
        return answer("confirming", queue=depth)

    # The queue is empty and stays empty, yet keys have not settled: they never will by themselves.
    if not deps.runs.claim(run.run_id, claimant, CLAIM_STALE_AFTER):
        return answer("claimed-elsewhere", queue=depth)
    swept, complete = _sweep_unsettled(run, deps)
    current = deps.runs.get(run.run_id)
    closed = finish(current, deps.closing, claimant, incomplete=not (complete and current.balanced), swept=swept)
    return answer("completed", closed, queue=depth, marker=closed.marker_written, unsettled_swept=swept)


def _sweep_unsettled(run: RunRecord, deps: FinalizerDeps) -> tuple[int, bool]:
    """Put every key of the run that never settled in the failure ledger and settle it as failed, a sheet at a
    time (its keys in the ledger first, then its slots settled in one update). Returns how many, and whether
    all of them could be."""
    swept, complete = 0, True
    now = deps.clock()
    by_sheet: dict[str | None, list[Task]] = {}
    for task in deps.books.unsettled(run.run_id):
        by_sheet.setdefault(task.sheet, []).append(task)
    for sheet, tasks in by_sheet.items():
        try:
            for task in tasks:
                logger.error("UnsettledKey", key=task.key, run_id=run.run_id, origin=task.origin, sheet=sheet)
                deps.closing.ledger.record(
                    FailureRecord.of(
                        task,
                        bucket=task.bucket,
                        run_id=run.run_id,
                        error_code="Unsettled",
                        error_message=(
                            "enqueued but never settled: its message expired, was dead-lettered without a ledger "
                            "entry, or was never sent"
                        ),
                        attempts=0,
                        failed_at=now,
                    )
                )
            settlements = [Settlement(t.key, Outcome.FAILED, sheet=t.sheet, slot=t.slot) for t in tasks]
            swept += len(deps.books.settle(run.run_id, settlements))
        except Exception:
            logger.exception("could not sweep the unsettled keys of a sheet", sheet=sheet, keys=len(tasks))
            complete = False
    if swept:
        metrics.add_metric(name="UnsettledKeysSwept", unit=MetricUnit.Count, value=swept)
    return swept, complete


def _sweep_dlq(deps: FinalizerDeps) -> int:
    """Every key found in the transfer DLQ is in the failure ledger (added if a crash or a timeout on its
    final attempt kept the copier from writing it), unless the consumer already holds that version or a newer
    one (it landed another way: a redrive, a later run). The messages stay in the DLQ for the operator."""
    if deps.dlq_bodies is None or not deps.settings.dlq_sweep_limit:
        return 0
    messages: list[TransferMessage | PartsMessage] = []
    for body in deps.dlq_bodies(deps.settings.dlq_sweep_limit):
        try:
            messages.append(parse_message(body))
        except ValidationError:
            logger.error("MalformedTransferMessage in the transfer DLQ", body=body[:500])
    if not messages:
        return 0
    held, _ = deps.lookup(obj.key for message in messages for obj in message.objects)
    added = 0
    now = deps.clock()
    for message in messages:
        for obj in message.objects:
            entry = held.get(obj.key)
            if entry is not None and entry.last_modified is not None and entry.last_modified >= obj.last_modified:
                continue
            failure = FailureRecord.of(
                obj,
                bucket=message.bucket,
                run_id=message.run_id,
                error_code="DeadLettered",
                error_message="found in the transfer DLQ without a ledger entry",
                attempts=obj.attempts,
                failed_at=now,
            )
            if deps.closing.ledger.ensure(failure):
                added += 1
                logger.error("DeadLetteredKey added to the failure ledger", key=obj.key, run_id=message.run_id)
    return added


def _report_sync_age(deps: FinalizerDeps) -> None:
    marker = deps.closing.marker.read()
    if marker is not None:
        age = (deps.clock() - marker.synced_to).total_seconds()
        metrics.add_metric(name="SyncAgeSeconds", unit=MetricUnit.Seconds, value=max(0.0, age))
