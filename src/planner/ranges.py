"""Walking a key range `(position, upto]`: page by page (`StartAfter` = the last key listed), each page's
interval handed to the selection rule; a checkpoint every heartbeat; a split when the range turns out large
(the upper half of what is left, found by a midpoint and a one-key probe, handed to another worker); a
hand-on when the invocation's budget is spent. A reconcile run (and a run with guarded deletes) lists the
consumer side by side, as far as the producer's page reaches."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from hydration.aws.listing import Pager, first_keys_after
from hydration.keyspace import extrapolate, midpoint, widths
from hydration.models import RunKind, Shard, ShardSource, SourceObject
from hydration.observability import logger
from planner import selecting
from planner.context import ShardLostError
from planner.known import LedgerRange, ManifestReads
from planner.probing import MIN_PAGES_PER_SHARD, cut_points, reach, worthy
from planner.work import ShardWork, Walked

SPLIT_PAGES_LEFT = MIN_PAGES_PER_SHARD  # a bounded range is split only if at least this many pages are left


def walk(work: ShardWork, absent: Callable[[list[str]], None]) -> Walked:
    deps, shard, settings = work.deps, work.shard, work.deps.settings
    ledger = (
        LedgerRange.empty() if work.run.dry_run else LedgerRange.of_range(deps.ledger, shard.range, work.run.in_scope)
    )
    both = work.run.kind is RunKind.RECONCILE or settings.deletes
    since_split, split_every = 0, settings.shard_split_pages
    with (
        Pager(deps.producer_s3, settings.producer_bucket, shard.prefix, settings.list_page_size) as pager,
        ConsumerSide(work) if both else contextlib.nullcontext() as consumer,
        ManifestReads(deps.held) as reads,
    ):
        while True:
            lo = shard.position if shard.position is not None else shard.after
            page = pager.page(lo)
            listed = [obj for obj in page.objects if not shard.range.beyond(obj.key)]
            ended = not page.truncated or len(listed) < len(page.objects) or not listed
            if not ended and work.budget.room_for_another:
                pager.ahead(listed[-1].key)
            hi = shard.upto if ended else listed[-1].key
            theirs = consumer.between(lo, hi) if consumer is not None else None
            missing = selecting.interval(work, listed, ledger.between(lo, hi), reads, theirs)
            if missing:
                absent(missing)
            shard.list_calls += pager.calls
            pager.calls = 0
            if ended:
                return Walked.DONE
            shard.position = hi
            work.page_done()
            if work.budget.exhausted:
                return Walked.HAND_ON
            since_split += 1
            if since_split >= split_every:
                since_split = 0
                # a shard that cannot split (too few keys left, or enough shards) tries again later and later
                split_every = settings.shard_split_pages if split(work, listed[0].key) else split_every * 2


def split(work: ShardWork, page_first: str) -> Shard | None:
    """Hand the upper half of what is left on to another worker, if another shard is wanted (fewer than
    PLANNER_SHARDS open) and enough is left to be worth it; the new shard, or None.

    A range with an upper bound is cut half way to it, if at the last page's density at least two pages are
    left (`keyspace.widths`) and a one-key probe finds a key above the cut; otherwise (and for the last range
    of a prefix, with no upper bound) half way to the farthest key that probes beyond the last page find
    (`probing.reach`), if as many pages are left up to where they put the key space's end (for a range with
    no upper bound, a first probe two pages' width beyond the last page says whether any are)."""
    deps, shard, settings = work.deps, work.shard, work.deps.settings
    position = shard.position
    if position is None or deps.shards.open_count(shard.run_id) >= settings.planner_shards:
        return None

    def probe(points: Sequence[str]) -> list[str | None]:
        return first_keys_after(deps.producer_s3, settings.producer_bucket, shard.prefix, list(points))

    if shard.upto is not None:
        if widths(page_first, position, shard.upto, shard.prefix) < SPLIT_PAGES_LEFT + 1:
            return None
        point = midpoint(position, shard.upto, shard.prefix)
        if point is not None and worthy(point):
            shard.probes += 1
            (above,) = probe([point])
            if above is not None and above <= shard.upto:
                return _hand_upper_on(work, point)
        # nothing above half way: the keys left are denser near the position than the bound says; probe them
    else:
        ahead = extrapolate(page_first, position, SPLIT_PAGES_LEFT, shard.prefix)
        if ahead is not None and worthy(ahead):
            shard.probes += 1
            (beyond,) = probe([ahead])
            if beyond is None:  # nothing two pages' width on: one probe, not a round of them, says so
                return None
    found = reach(page_first, position, shard.upto, shard.prefix, probe)
    shard.probes += found.probes
    if found.key is None:
        return None
    if widths(page_first, position, found.end(shard.prefix) or found.key, shard.prefix) < SPLIT_PAGES_LEFT + 1:
        return None  # what is left ends within a page or two: not worth another worker
    points = cut_points(position, found.key, 2, shard.prefix)  # half way: the upper part keeps found.key
    return _hand_upper_on(work, points[0]) if points else None


def _hand_upper_on(work: ShardWork, point: str) -> Shard:
    deps, shard = work.deps, work.shard
    upper = Shard(
        run_id=shard.run_id,
        shard_id=f"{shard.shard_id}-{shard.splits + 1}",
        source=ShardSource.LISTING,
        prefix=shard.prefix,
        after=point,
        upto=shard.upto,
        since=shard.since,
        bounds=shard.bounds,
        dispatched_at=deps.clock(),
    )
    work.flushed()  # the position written with the split is one whose keys are all enqueued
    shard.upto = point
    if not deps.shards.split(shard, upper):
        raise ShardLostError(f"shard {shard.shard_id}: lease lost while splitting")
    work.enqueue.generation = shard.version  # the split wrote the shard: the next checkpoint expects it
    logger.info("shard split", shard_id=shard.shard_id, new_shard=upper.shard_id, at=point)
    if deps.dispatch(shard.run_id, [upper.shard_id]):
        logger.error("could not send the new shard's message; the finalizer sends it again", shard_id=upper.shard_id)
    return upper


class ConsumerSide:
    """The consumer's objects under the destination prefix, the prefix stripped, listed interval by interval
    as far as the producer's listing reached (trash and the marker left out)."""

    def __init__(self, work: ShardWork) -> None:
        settings = work.deps.settings
        self._work = work
        self._dest = settings.destination_prefix
        self._trash = settings.trash_prefix if settings.deletes else None
        self._pager = Pager(
            work.deps.consumer_s3, settings.consumer_bucket, self._dest + work.shard.prefix, settings.list_page_size
        )
        self._buffer: list[SourceObject] = []
        self._after: str | None = None  # the last consumer key listed (destination prefix included)
        self._exhausted = False

    def __enter__(self) -> ConsumerSide:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pager.__exit__(*exc)

    def between(self, lo: str | None, hi: str | None) -> dict[str, SourceObject]:
        """The consumer's objects with `lo < key <= hi` (source keys); consecutive calls continue each other."""
        if self._after is None and lo is not None:
            self._after = self._dest + lo
        while not self._exhausted and (hi is None or not self._buffer or self._buffer[-1].key <= self._dest + hi):
            page = self._pager.page(self._after)
            self._work.shard.list_calls += 1
            self._pager.calls = 0
            self._buffer += page.objects
            self._exhausted = not page.truncated or not page.objects
            if page.objects:
                self._after = page.objects[-1].key
        taken = [obj for obj in self._buffer if hi is None or obj.key <= self._dest + hi]
        self._buffer = self._buffer[len(taken) :]
        return {
            obj.key[len(self._dest) :]: obj.model_copy(update={"key": obj.key[len(self._dest) :]})
            for obj in taken
            if not (self._trash and obj.key.startswith(self._trash)) and (lo is None or obj.key[len(self._dest) :] > lo)
        }
