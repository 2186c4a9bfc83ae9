"""Where a run's key space is first cut into shards (at most PLANNER_SHARDS, shared by its prefixes).

Split points come, in order, from the previous run's boundaries over the same prefixes (kept: that run
found where the key space is dense, and it cost nothing to read them), from delimiter discovery (the
common prefixes one level down: one ListObjectsV2 call a prefix), and, for a flat prefix, from probing
(one-key ListObjectsV2 calls in growing steps beyond its first page: `probing`). Wherever the cuts fall,
the ranges partition the key space (`hydration.keyspace`); shards that turn out large split while they
run, so a few rounds of halving spread a flat prefix over the workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hydration.aws.inventory import read_manifest
from hydration.aws.listing import Page, common_prefixes, first_keys_after, first_page
from hydration.keyspace import partition, spread
from hydration.models import RunKind, RunRecord, Shard, ShardSource
from planner.completion import scope_of
from planner.context import PlannerDeps
from planner.probing import cut_points, reach

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
        page = _first_page(prefix, deps, result) if len(points) + 1 < wanted else None
        if page is not None and page.truncated:  # more than a page: worth cutting
            points += _probed_cuts(
                prefix, _discover(prefix, deps, result), page, wanted - 1 - len(points), deps, result
            )
        for key_range in partition(prefix, points):
            result.shards.append(
                Shard(
                    run_id=run.run_id,
                    shard_id=f"s{len(result.shards):04d}",
                    prefix=key_range.prefix,
                    after=key_range.after,
                    upto=key_range.upto,
                    since=run.since,
                    bounds=run.bounds,
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
            bounds=run.bounds,
            dispatched_at=now,
        )
        for i, file in enumerate(manifest.files)
    ]
    if not run.dry_run:
        shards.append(Shard(run_id=run.run_id, shard_id=LEDGER_SHARD, source=ShardSource.LEDGER, dispatched_at=now))
    return Cut(shards)


def _ledger_leftovers(run: RunRecord) -> bool:
    """Ledger keys in the run's scope that no range of the run holds are enqueued by a shard of their own: for
    runs that re-enqueue the whole ledger and list only part of their scope (none, once a run lists all of it;
    a run started before scopes were recorded re-enqueues the whole ledger)."""
    if run.dry_run or run.kind in (RunKind.PREFIX, RunKind.KEYS) or run.prefixes == [""]:
        return False
    return run.scope is None or sorted(run.scope.prefixes) != sorted(run.prefixes)


def _first_page(prefix: str, deps: PlannerDeps, result: Cut) -> Page:
    """The prefix's first page: one that is not truncated holds the whole prefix (one shard lists it in one
    call: there is nothing to cut)."""
    result.probes += 1
    return first_page(deps.producer_s3, deps.settings.producer_bucket, prefix, deps.settings.list_page_size)


def _discover(prefix: str, deps: PlannerDeps, result: Cut) -> list[str]:
    """Delimiter discovery: the common prefixes one level below `prefix`."""
    result.probes += 1
    return common_prefixes(deps.producer_s3, deps.settings.producer_bucket, prefix)


def _probed_cuts(prefix: str, groups: list[str], page: Page, need: int, deps: PlannerDeps, result: Cut) -> list[str]:
    """Cuts within a prefix that has more than a page: its common prefixes one level down (as many as are
    wanted), and, where fewer than that, cuts inside some of them (a flat key space: inside the prefix
    itself), evenly up to the farthest key that probes beyond their first page find (`probing.reach`)."""
    points = spread(groups[1:], need)  # the first common prefix starts the key space: no cut before it
    extra = need - len(points)
    if extra <= 0:
        return points
    probed = spread(groups, extra) if groups else [prefix]
    parts = max(2, extra // len(probed) + 1)
    with ThreadPoolExecutor(max_workers=min(8, len(probed)), thread_name_prefix="cut") as pool:
        inside = list(
            pool.map(lambda group: _cuts_inside(group, page if group == prefix else None, parts, deps), probed)
        )
    for cuts, probes in inside:
        points += cuts
        result.probes += probes
    return points


def _cuts_inside(group: str, page: Page | None, parts: int, deps: PlannerDeps) -> tuple[list[str], int]:
    """`parts - 1` cuts inside a group (after its first page, evenly up to the farthest key found)."""
    bucket, client = deps.settings.producer_bucket, deps.producer_s3
    probes = 0
    if page is None:
        page, probes = first_page(client, bucket, group, deps.settings.list_page_size), 1
    if not page.truncated or page.last_key is None:
        return [], probes

    def probe(points: Sequence[str]) -> list[str | None]:
        return first_keys_after(client, bucket, group, list(points))

    found = reach(page.objects[0].key, page.last_key, None, group, probe)
    probes += found.probes
    if found.key is None:
        return [page.last_key], probes
    return [page.last_key, *cut_points(page.last_key, found.key, parts - 1, group)], probes
