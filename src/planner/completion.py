"""When a run's planning is complete: every shard is done. Then its totals are summed from the shards, the key
space's boundaries are kept for the next run, and the run drains (a dry run ends); with nothing left to
copy it closes at once. The accounting and marker rules are `hydration.closing`'s, unchanged."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from hydration.closing import close_if_balanced
from hydration.keyspace import spread
from hydration.models import (
    Drift,
    KeptCut,
    RunKind,
    RunRecord,
    RunStatus,
    Shard,
    ShardCounts,
    ShardSource,
    ShardStatus,
)
from hydration.observability import MetricUnit, logger, metrics
from planner.context import PlannerDeps
from planner.probing import MIN_PAGES_PER_SHARD

BOUNDARIES_KEPT = 256  # at most this many of a run's boundaries are kept for the next run


def scope_of(run: RunRecord) -> str:
    """The boundaries item a run reads and writes: one per set of prefixes listed."""
    return "listing:" + "\x1f".join(run.prefixes)


def after_shard(run_id: str, deps: PlannerDeps, claimant: str) -> RunRecord | None:
    """Called when a shard is done: if it was the last one, complete the run's planning. The run as it is
    then (closed, if nothing was left to copy), or None while shards are open."""
    if deps.shards.open_count(run_id):
        return None
    run = deps.runs.get(run_id)
    if run.status is not RunStatus.PLANNING or not run.shards_cut:
        return None
    shards = deps.shards.of_run(run_id)
    if any(shard.status is ShardStatus.OPEN for shard in shards):
        return None
    failed = [shard for shard in shards if shard.status is ShardStatus.FAILED]
    if failed:
        deps.runs.fail(run_id, f"shard {failed[0].shard_id} failed: {failed[0].error}")
        return deps.runs.get(run_id)
    if _deletes_wanted(run, deps) and not any(shard.source is ShardSource.DELETES for shard in shards):
        _add_deletions(run, deps)  # every listing shard is done, none failed: this listing is complete
        return None
    _sum(run, shards)
    if not run.dry_run and run.inventory is None:
        _keep_boundaries(run, shards, deps)
    if not deps.runs.finish_planning(run):
        return None
    _report(run)
    if run.dry_run:
        return deps.runs.get(run_id)
    drained = deps.runs.get(run_id)
    return close_if_balanced(drained, deps.closing, claimant=claimant) or drained


def _sum(run: RunRecord, shards: list[Shard]) -> None:
    totals = ShardCounts()
    drift = Drift() if run.kind is RunKind.RECONCILE else None
    samples: list[str] = []
    for shard in shards:
        totals.add(shard.counts)
        samples += shard.sample_keys
        if drift is not None:
            for kind, keys in shard.first_drift.items():
                sample: list[str] = getattr(drift, f"first_{kind}")
                sample += keys
    summed = ("keys_listed", "keys_selected", "bytes_selected", "keys_unchanged", "ledger_keys_enqueued", "checkpoints")
    for name in summed:
        setattr(run, name, getattr(totals, name))
    run.list_calls, run.probes = totals.list_calls, run.probes + totals.probes
    run.deletes_seen, run.objects_deleted = totals.deletes_seen, totals.objects_deleted
    run.shards_total = len(shards)
    run.sample_keys = sorted(samples)[: Shard.SAMPLE]
    run.deletes_refused = next((s.error for s in shards if s.source is ShardSource.DELETES and s.error), None)
    if drift is not None:
        drift.missing, drift.different, drift.extra = totals.drift_missing, totals.drift_different, totals.drift_extra
        for kind in ("missing", "different", "extra"):
            setattr(drift, f"first_{kind}", sorted(getattr(drift, f"first_{kind}"))[: Drift.SAMPLE])
        run.drift = drift


def _keep_boundaries(run: RunRecord, shards: list[Shard], deps: PlannerDeps) -> None:
    """The upper bounds of the run's listing shards: where it found the key space dense enough to cut. Within
    each prefix a bound is kept only once the shards below it (since the bound kept before) listed at least
    MIN_PAGES_PER_SHARD pages of keys, and the last one only if as many lie above it: a key space that shrank,
    or was cut finer than it needed, is cut by what its shards listed, not by how they were cut. With them,
    how many keys each prefix held (a prefix of a few pages is not cut again: `cutting`)."""
    listing = sorted((s for s in shards if s.source is ShardSource.LISTING), key=lambda s: (s.prefix, s.after or ""))
    if not listing:
        return
    least = MIN_PAGES_PER_SHARD * deps.settings.list_page_size
    points: list[str] = []
    listed: dict[str, int] = {}
    for prefix, group in groupby(listing, key=lambda s: s.prefix):
        ranges = list(group)
        points += _worth(ranges, least)
        listed[prefix] = sum(shard.keys_listed for shard in ranges)
    # none worth keeping replaces what an earlier run kept too: the next run cuts afresh, not by stale bounds
    deps.shards.remember(scope_of(run), KeptCut(points=spread(points, BOUNDARIES_KEPT), listed=listed), run.run_id)


def _worth(ranges: Iterable[Shard], least: int) -> list[str]:
    """The bounds worth keeping among one prefix's shards, in key order."""
    kept: list[str] = []
    held = 0
    for shard in ranges:
        held += shard.keys_listed
        if shard.upto is not None and held >= least:
            kept.append(shard.upto)
            held = 0
    if kept and held < least:  # what lies above the last bound kept is too little for a shard of its own
        kept.pop()
    return kept


def _deletes_wanted(run: RunRecord, deps: PlannerDeps) -> bool:
    return deps.deletions is not None and run.kind.advances_marker and run.inventory is None


def _add_deletions(run: RunRecord, deps: PlannerDeps) -> None:
    assert deps.deletions is not None
    if not run.dry_run:
        deps.deletions.complete_listing(run.run_id)  # the next run's "previous complete listing"
    shard = Shard(run_id=run.run_id, shard_id="deletes", source=ShardSource.DELETES, dispatched_at=deps.clock())
    if deps.shards.add(shard) and deps.dispatch(run.run_id, [shard.shard_id]):
        logger.error("could not send the deletions shard's message; the finalizer sends it again")


def _report(run: RunRecord) -> None:
    if run.drift is not None:
        metrics.add_metric(name="DriftMissing", unit=MetricUnit.Count, value=run.drift.missing)
        metrics.add_metric(name="DriftDifferent", unit=MetricUnit.Count, value=run.drift.different)
        logger.info("reconcile drift", drift=run.drift.model_dump())
    logger.info(
        "planning complete",
        run_id=run.run_id,
        shards=run.shards_total,
        keys_listed=run.keys_listed,
        keys_selected=run.keys_selected,
        keys_unchanged=run.keys_unchanged,
        list_calls=run.list_calls,
        probes=run.probes,
        dry_run=run.dry_run,
    )
