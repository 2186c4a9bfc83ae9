"""Where a run's key space is first cut into shards (at most PLANNER_SHARDS, shared by its prefixes).

Split points come, in order, from the previous run's boundaries over the same prefixes (kept: that run
found where the key space is dense, and it cost nothing to read them), from delimiter discovery (the
common prefixes one level down: one ListObjectsV2 call a prefix), and from probing (a one-key
ListObjectsV2 after a midpoint between a key known to exist and the end of what is known: keys above it, or
none). Wherever the cuts fall, the ranges partition the key space (`hydration.keyspace`); shards that turn
out large split while they run.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from hydration.aws.inventory import read_manifest
from hydration.aws.listing import common_prefixes, first_key_after, first_page
from hydration.keyspace import midpoint, partition, spread
from hydration.models import RunKind, RunRecord, Shard, ShardSource
from planner.completion import scope_of
from planner.context import PlannerDeps

LEDGER_SHARD = "ledger"


@dataclass
class Cut:
    shards: list[Shard]
    probes: int = 0  # ListObjectsV2 calls it took (discovery and probes)


def cut(run: RunRecord, deps: PlannerDeps) -> Cut:
    """The run's first shards: its named keys, its inventory report's files, or its prefixes' key ranges
    (and the ledger's leftovers)."""
    now = deps.clock()
    if run.inventory is not None:
        return _report(run, deps)
    if run.kind is RunKind.KEYS:
        return Cut(
            [Shard(run_id=run.run_id, shard_id="keys", source=ShardSource.KEYS, keys=run.keys, dispatched_at=now)]
        )
    settings = deps.settings
    wanted = max(1, (settings.planner_shards - 1) // len(run.prefixes))
    previous = deps.shards.boundaries(scope_of(run))
    result = Cut([])
    for prefix in run.prefixes:
        points = spread([point for point in previous if point.startswith(prefix)], wanted - 1)
        last = _first_page_end(prefix, deps, result) if len(points) + 1 < wanted else None
        if last is not None:  # more than a page: worth cutting
            points += _discover(prefix, wanted - 1 - len(points), deps, result)
            if len(points) + 1 < wanted:
                points += _probe(prefix, last, wanted - 1 - len(points), deps, result)
        for key_range in partition(prefix, points):
            result.shards.append(
                Shard(
                    run_id=run.run_id,
                    shard_id=f"s{len(result.shards):04d}",
                    prefix=key_range.prefix,
                    after=key_range.after,
                    upto=key_range.upto,
                    since=run.since,
                    dispatched_at=now,
                )
            )
    if _ledger_leftovers(run):
        result.shards.append(
            Shard(run_id=run.run_id, shard_id=LEDGER_SHARD, source=ShardSource.LEDGER, dispatched_at=now)
        )
    return result


def _report(run: RunRecord, deps: PlannerDeps) -> Cut:
    """One shard per data file of the run's inventory report (and the ledger's keys: files are not ranges)."""
    assert run.inventory is not None
    manifest = read_manifest(deps.consumer_s3, run.inventory)
    now = deps.clock()
    shards = [
        Shard(
            run_id=run.run_id,
            shard_id=f"f{i:04d}",
            source=ShardSource.INVENTORY,
            file=file,
            since=run.since,
            dispatched_at=now,
        )
        for i, file in enumerate(manifest.files)
    ]
    if not run.dry_run:
        shards.append(Shard(run_id=run.run_id, shard_id=LEDGER_SHARD, source=ShardSource.LEDGER, dispatched_at=now))
    return Cut(shards)


def _ledger_leftovers(run: RunRecord) -> bool:
    """Ledger keys that no range of the run holds are enqueued by a shard of their own: for runs that
    re-enqueue the whole ledger and list only part of the bucket."""
    return not run.dry_run and run.kind not in (RunKind.PREFIX, RunKind.KEYS) and run.prefixes != [""]


def _first_page_end(prefix: str, deps: PlannerDeps, result: Cut) -> str | None:
    """The last key of the prefix's first page, if more follow; None if the prefix fits in one page (one
    shard lists it in one call: there is nothing to cut)."""
    result.probes += 1
    page = first_page(deps.producer_s3, deps.settings.producer_bucket, prefix, deps.settings.list_page_size)
    return page.last_key if page.truncated else None


def probe_worthy(point: str, low: str) -> bool:
    """A midpoint worth a probe: not an extension of the key below it (the few keys that sort between a key
    and its extensions are not worth a shard) and without control characters (no key range worth cutting
    starts there)."""
    return not point.startswith(low) and all(char >= " " for char in point)


def _discover(prefix: str, wanted: int, deps: PlannerDeps, result: Cut) -> list[str]:
    result.probes += 1
    found = common_prefixes(deps.producer_s3, deps.settings.producer_bucket, prefix)
    return spread(found[1:], wanted)  # the first common prefix starts the key space: no cut before it


def _probe(prefix: str, last: str, wanted: int, deps: PlannerDeps, result: Cut, budget_per_point: int = 3) -> list[str]:
    """Bisect the prefix's key space after its first page (which ends at `last`): a midpoint is kept as a
    cut if a probe finds keys above it (within what is known), else what is known shrinks to below it."""
    bucket, client = deps.settings.producer_bucket, deps.producer_s3
    budget = wanted * budget_per_point
    points: list[str] = [last]
    pending: deque[tuple[str, str | None]] = deque([(last, None)])  # (a key that exists, an upper bound)
    while pending and len(points) < wanted and budget > 0:
        low, high = pending.popleft()
        point = midpoint(low, high, prefix)
        if point is None or not probe_worthy(point, low):
            continue
        budget -= 1
        result.probes += 1
        above = first_key_after(client, bucket, prefix, point)
        if above is None or (high is not None and above > high):
            pending.appendleft((low, point))  # nothing above the midpoint: look below it
            continue
        points.append(point)
        pending += [(low, point), (above, high)]
    return points
