"""Where a run's key space is first cut into shards (at most PLANNER_SHARDS, shared by its prefixes).

Split points come, in order, from the previous run's boundaries over the same prefixes (kept: that run
found where the key space is dense, and it cost nothing to read them; a prefix it found to hold only a
few pages is not cut at all), from delimiter discovery (the common prefixes one level down: one
ListObjectsV2 call a prefix), and, for a flat prefix, from probing (one-key ListObjectsV2 calls in
growing steps beyond its first page: `probing`). Wherever the cuts fall,
the ranges partition the key space (`hydration.keyspace`); shards that turn out large split while they
run, so a few rounds of halving spread a flat prefix over the workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hydration.aws.inventory import read_manifest
from hydration.aws.listing import Page, common_prefixes, first_keys_after, first_page
from hydration.keyspace import partition, shares, spread, widths
from hydration.models import RunKind, RunRecord, Shard, ShardSource
from planner.completion import scope_of
from planner.context import PlannerDeps
from planner.probing import MIN_PAGES_PER_SHARD, cut_points, reach

LEDGER_SHARD = "ledger"
# A prefix the last run listed fewer keys under than this many pages is one shard, without the first page,
# discovery and probes it would take to find that cutting it is not worth it (shards of MIN_PAGES_PER_SHARD
# pages at least): for a small scope they were most of a nothing-changed run's listing. One that grew since
# splits while it runs, as any large shard does.
FEW_PAGES = 2 * MIN_PAGES_PER_SHARD


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
    few = FEW_PAGES * settings.list_page_size
    result = Cut([])
    for prefix in run.prefixes:
        points = spread([point for point in previous.points if point.startswith(prefix)], wanted - 1)
        if len(points) + 1 < wanted and not previous.few(prefix, few):
            page, groups = _first_page_and_groups(prefix, deps, result)
            if page.truncated:  # more than a page: worth cutting
                points += _probed_cuts(prefix, groups, page, wanted - 1 - len(points), deps, result)
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


def _first_page_and_groups(prefix: str, deps: PlannerDeps, result: Cut) -> tuple[Page, list[str]]:
    """The prefix's first page (one that is not truncated holds the whole prefix: one shard lists it in one
    call, there is nothing to cut) and, side by side with it, delimiter discovery: the common prefixes one
    level below (two calls at once: a round trip less before the first shard starts, for one call that a
    prefix of a page does not need)."""
    bucket, client = deps.settings.producer_bucket, deps.producer_s3
    result.probes += 2
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cut") as pool:
        groups = pool.submit(common_prefixes, client, bucket, prefix)
        page = first_page(client, bucket, prefix, deps.settings.list_page_size)
        return page, groups.result()


def _probed_cuts(prefix: str, groups: list[str], page: Page, need: int, deps: PlannerDeps, result: Cut) -> list[str]:
    """Cuts within a prefix that has more than a page: its common prefixes one level down (as many as are
    wanted), and, where fewer than that, cuts inside some of them (a flat key space: inside the prefix
    itself), dealt in proportion to how far each reaches (`Extent`) and even from its first key to the
    farthest key its probes find (`probing.reach`); no more of them than leave each shard MIN_PAGES_PER_SHARD
    pages (a key space of a few pages is not cut into slivers that cost more to start than to list)."""
    points = spread(groups[1:], need)  # the first common prefix starts the key space: no cut before it
    extra = need - len(points)
    if extra <= 0:
        return points
    probed = spread(groups, extra) if groups else [prefix]
    with ThreadPoolExecutor(max_workers=min(8, len(probed)), thread_name_prefix="cut") as pool:
        extents = list(pool.map(lambda group: _extent(group, page if group == prefix else None, deps), probed))
    worth = int(sum(extent.pages for extent in extents) // MIN_PAGES_PER_SHARD)  # no shard of less than that
    parts_in_all = max(len(probed), min(extra + len(probed), worth))
    for extent, parts in zip(extents, shares([e.pages for e in extents], parts_in_all), strict=True):
        points += extent.cuts(parts)
        result.probes += extent.probes
    return points


@dataclass
class Extent:
    """How far a group's keys reach: its first key, where probes estimate its keys end (`Reach.end`), and
    about how many pages lie between them (at its first page's density: `keyspace.widths`)."""

    group: str
    first: str | None = None
    far: str | None = None
    pages: float = 1.0
    probes: int = 0

    def cuts(self, parts: int) -> list[str]:
        """`parts - 1` cuts, even from the first key to the farthest (the last part runs on to the group's end)."""
        if parts < 2 or self.first is None or self.far is None:
            return []
        return cut_points(self.first, self.far, parts, self.group)


def _extent(group: str, page: Page | None, deps: PlannerDeps) -> Extent:
    bucket, client = deps.settings.producer_bucket, deps.producer_s3
    extent = Extent(group)
    if page is None:
        page, extent.probes = first_page(client, bucket, group, deps.settings.list_page_size), 1
    if not page.truncated or page.last_key is None:
        return extent

    def probe(points: Sequence[str]) -> list[str | None]:
        return first_keys_after(client, bucket, group, list(points))

    first = page.objects[0].key
    found = reach(first, page.last_key, None, group, probe)
    extent.probes += found.probes
    end = found.end(group)
    if end is None:  # nothing a page's width beyond the first page: a page or two, not worth cutting
        return extent
    extent.first, extent.far = first, end
    extent.pages = widths(first, page.last_key, end, group)
    return extent
