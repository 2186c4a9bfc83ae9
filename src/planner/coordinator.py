"""The planner's coordinator: start a run and cut it into shards for the planner workers.

It validates the request, decides what the run selects (`scope`: the marker minus the lookback, per-prefix
bounds after a scope change), computes the run's watermark (`holdback`: the listing's start, held back by
the multipart uploads then in flight) and writes the run with both, taking the one-active-run lock (a run
refused on it: `refusal`); then it cuts the key space (`cutting`) and sends one message per shard
to the planner workers' queue. The workers do the rest (`worker`); the one that finishes the last shard
completes the planning (`completion`). `continue_run` (the finalizer, when a run stopped planning) picks a
run up where it is: cut it if it was not, send again the shards whose message was lost, complete it if
every shard is done.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hydration.aws.inventory import read_manifest, split_url
from hydration.aws.shards import MAX_CUT
from hydration.errors import InvalidRequestError, MarkerFormatError, RunAlreadyActiveError
from hydration.inventory import InventoryError
from hydration.marker import Marker
from hydration.models import Drift, PlannerRequest, PlanResult, RunKind, RunRecord, RunStatus, ShardStatus
from hydration.observability import MetricUnit, annotate_run, logger, metrics, tracer
from hydration.selection import within_scope
from planner import completion, cutting, scope
from planner.context import PlannerDeps
from planner.holdback import hold_back
from planner.refusal import refuse


@tracer.capture_method
def plan(request: PlannerRequest, deps: PlannerDeps, *, run_id: str, request_id: str) -> PlanResult:
    """Start a run (or pick one up) and hand its shards to the workers."""
    settings = deps.settings
    if request.continue_run:
        return resume(deps.runs.get(request.continue_run), deps, request_id)
    if request.prefix and not within_scope(request.prefix, settings.transfer_prefixes):
        raise InvalidRequestError(
            f"prefix: {request.prefix!r} is outside the configured transfer prefixes {settings.transfer_prefixes}"
        )
    started_at = deps.clock()
    selection = scope.select(request, settings, _marker(request, deps))
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
        dry_run=request.dry_run,
        inventory=request.inventory,
        previous_listing=deps.deletions.previous_listing() if deps.deletions is not None else None,
        started_at=started_at,
        heartbeat_at=started_at,
        planned_by=request_id,
        drift=Drift() if request.kind is RunKind.RECONCILE else None,
        ttl=int((started_at + timedelta(days=settings.run_ttl_days)).timestamp()),
    )
    # The hold-back (and a report's time) are part of the record that starts the run: a retried invocation
    # resumes with them. A run that cannot compute them never starts; it is recorded FAILED, with why.
    try:
        listed_at = _report_time(request, deps) or started_at
        if request.dry_run:
            run.watermark = listed_at
        else:
            held = hold_back(listed_at, selection.prefixes, request.kind, deps)
            run.watermark, run.inflight_uploads = held.watermark, held.inflight_uploads
            run.held_back_by = held.oldest.key if held.oldest is not None else None
    except Exception as exc:
        logger.exception("could not read what the run starts from; no run started", run_id=run.run_id)
        failed = {"status": RunStatus.FAILED, "ended_at": deps.clock(), "error": f"{type(exc).__name__}: {exc}"}
        deps.runs.record_unstarted(run.model_copy(update=failed))
        raise
    try:
        deps.runs.create(run)
    except RunAlreadyActiveError as busy:
        active = deps.runs.active()
        if active is not None and active.status is RunStatus.PLANNING:
            stale = deps.clock() - active.heartbeat() > timedelta(seconds=settings.stale_planning_seconds)
            if active.planned_by == request_id or stale:
                # Lambda retried this very invocation (same request id), or the run's planning stopped.
                logger.warning("picking up a planning run", run_id=active.run_id, retried=not stale)
                return resume(active, deps, request_id)
        return refuse(run, busy, deps, asked_for=request.new_run_id is not None)
    logger.append_keys(run_id=run.run_id)
    annotate_run(run.run_id)
    logger.info(
        "run started",
        kind=run.kind,
        since=run.since,
        bounds=len(run.bounds),
        prefixes=run.prefixes,
        watermark=run.watermark,
        inflight_uploads=run.inflight_uploads,
        dry_run=run.dry_run,
    )
    if not run.dry_run:
        metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    return _cut(run, deps, request_id)


def _marker(request: PlannerRequest, deps: PlannerDeps) -> Marker | None:
    """The sync marker: an incremental run selects from it; any run reads the scope it was made for. A run
    that writes the marker must read it (it would record its scope over a change it did not see); the
    others go on without an unreadable one."""
    try:
        return deps.closing.marker.read()
    except MarkerFormatError:
        if request.kind.advances_marker and not request.dry_run:
            raise
        logger.warning("the sync marker is unreadable; this run does not need it", kind=request.kind)
        return None


def resume(run: RunRecord, deps: PlannerDeps, request_id: str) -> PlanResult:
    """Pick up a planning run: cut it if it was not; send again the shards nobody works on whose message
    was not sent recently (lost); complete it if every shard is done."""
    logger.append_keys(run_id=run.run_id)
    if run.status is not RunStatus.PLANNING:
        return _result(run, message="run is not planning")
    if not run.shards_cut:
        return _cut(run, deps, request_id)
    now = deps.clock()
    quiet = timedelta(seconds=deps.settings.shard_lease_seconds)
    shards = deps.shards.of_run(run.run_id)
    stalled = [
        shard.shard_id
        for shard in shards
        if shard.status is ShardStatus.OPEN and not shard.leased(now) and deps.shards.mark_dispatched(shard, now, quiet)
    ]
    if stalled:
        logger.warning("sending again the shards whose message was lost", shards=stalled)
        deps.dispatch(run.run_id, stalled)
    if not any(shard.status is ShardStatus.OPEN for shard in shards):
        completed = completion.after_shard(run.run_id, deps, claimant=request_id)
        return _result(completed or deps.runs.get(run.run_id))
    return _result(deps.runs.get(run.run_id), continued=bool(stalled))


def _cut(run: RunRecord, deps: PlannerDeps, request_id: str) -> PlanResult:
    try:
        cut = cutting.cut(run, deps)
        first, rest = cut.shards[:MAX_CUT], cut.shards[MAX_CUT:]  # more files than one transaction holds
        if not deps.shards.cut(run.run_id, first, cut.probes) or not all(deps.shards.add(s) for s in rest):
            current = deps.runs.get(run.run_id)
            if current.shards_cut or current.status is not RunStatus.PLANNING:
                return resume(current, deps, request_id)  # cut meanwhile (a retried invocation), or stopped
            raise RuntimeError(f"run {run.run_id}: its shards could not be created")
    except Exception as exc:
        logger.exception("cutting the run failed; the run is FAILED and the marker stays")
        deps.runs.fail(run.run_id, f"{type(exc).__name__}: {exc}")
        raise
    logger.info("run cut into shards", shards=len(cut.shards), probes=cut.probes)
    unsent = deps.dispatch(run.run_id, [shard.shard_id for shard in cut.shards])
    if unsent:
        logger.error("could not send some shards' messages; the finalizer sends them again", shards=unsent)
    return _result(deps.runs.get(run.run_id))


def _report_time(request: PlannerRequest, deps: PlannerDeps) -> datetime | None:
    """An inventory run's listing time: when S3 began scanning the bucket for the report (its manifest is
    checked against manifest.checksum, and must be the producer bucket's, in the inventory bucket)."""
    if request.inventory is None:
        return None
    bucket, _ = split_url(request.inventory)
    if bucket != deps.settings.inventory_bucket:
        raise InvalidRequestError(
            f"inventory: {request.inventory!r} is not in the inventory bucket ({deps.settings.inventory_bucket})"
        )
    manifest = read_manifest(deps.consumer_s3, request.inventory)
    if manifest.source_bucket != deps.settings.producer_bucket:
        raise InventoryError(f"the report is of bucket {manifest.source_bucket!r}, not the producer bucket: refused")
    return manifest.created


def _result(run: RunRecord, *, continued: bool = False, message: str = "") -> PlanResult:
    return PlanResult(
        started=not run.dry_run,
        run_id=run.run_id,
        status=run.status,
        kind=run.kind,
        watermark=run.watermark,
        since=run.since,
        keys_listed=run.keys_listed,
        keys_enqueued=run.keys_selected if run.dry_run else run.keys_enqueued,
        bytes_enqueued=run.bytes_selected if run.dry_run else run.bytes_enqueued,
        ledger_keys_enqueued=run.ledger_keys_enqueued,
        keys_unchanged=run.keys_unchanged,
        enqueue_failed=run.objects_failed,
        continued=continued,
        dry_run=run.dry_run,
        shards=run.shards_total,
        sample_keys=run.sample_keys,
        drift=run.drift,
        message=message,
    )
