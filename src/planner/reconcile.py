"""A reconcile run: list both buckets side by side and enqueue (forced) every key that is missing in the
consumer bucket or different there: another size, or a version the manifest does not hold."""

from __future__ import annotations

from collections.abc import Iterator

from hydration.aws import listing as source_listing
from hydration.models import Drift, ListingCursor, ObjectRef, Origin, RunRecord, SourceObject
from hydration.selection import excluded_key
from planner.context import Budget, PlannerDeps
from planner.enqueue import Enqueue

MANIFEST_CHUNK = 100


def _merge(
    source: Iterator[SourceObject], consumer: Iterator[SourceObject]
) -> Iterator[tuple[SourceObject | None, SourceObject | None]]:
    """Walk two key-ordered listings side by side: (source, consumer) pairs, None where a side lacks the key."""
    src = next(source, None)
    dst = next(consumer, None)
    while src is not None or dst is not None:
        if dst is None or (src is not None and src.key < dst.key):
            yield src, None
            src = next(source, None)
        elif src is None or dst.key < src.key:
            yield None, dst
            dst = next(consumer, None)
        else:
            yield src, dst
            src, dst = next(source, None), next(consumer, None)


def _strip(objects: Iterator[SourceObject], prefix: str) -> Iterator[SourceObject]:
    for obj in objects:
        yield obj.model_copy(update={"key": obj.key[len(prefix) :]}) if prefix else obj


def walk(run: RunRecord, deps: PlannerDeps, budget: Budget, enqueue: Enqueue) -> bool:
    """Compare from the run's cursor on; False: checkpointed, `run.cursor` says where."""
    settings = deps.settings
    drift = run.drift if run.drift is not None else Drift()
    run.drift = drift
    cursor = run.cursor or ListingCursor()
    dest = settings.destination_prefix
    excluded = excluded_key(dest)
    for index in range(cursor.prefix_index, len(run.prefixes)):
        prefix = run.prefixes[index]
        start = cursor.start_after if index == cursor.prefix_index else None
        source = source_listing.iter_objects(deps.producer_s3, settings.producer_bucket, prefix, start)
        consumer = _strip(
            source_listing.iter_objects(
                deps.consumer_s3, settings.consumer_bucket, dest + prefix, dest + start if start else None
            ),
            dest,
        )
        same_size: list[SourceObject] = []
        seen = 0
        for src, dst in _merge(source, consumer):
            if src is None:
                if dst is not None and dst.key != excluded:
                    drift.note("extra", dst.key)
                continue
            if src.key == excluded:
                continue
            run.keys_listed += 1
            if dst is None or dst.size != src.size:
                drift.note("missing" if dst is None else "different", src.key)
                enqueue.put(ObjectRef(force=True, **src.model_dump()), Origin.RECONCILE)
            else:
                same_size.append(src)
                if len(same_size) == MANIFEST_CHUNK:
                    _check_manifest(run, deps, drift, same_size, enqueue)
                    same_size = []
            seen += 1
            if seen % settings.list_page_size == 0:
                budget.page_done(run)
                if budget.exhausted:
                    _check_manifest(run, deps, drift, same_size, enqueue)
                    run.cursor = ListingCursor(prefix_index=index, start_after=src.key)
                    return False
        _check_manifest(run, deps, drift, same_size, enqueue)
    run.cursor = None
    return True


def _check_manifest(
    run: RunRecord, deps: PlannerDeps, drift: Drift, objects: list[SourceObject], enqueue: Enqueue
) -> None:
    """Same size on both sides: the manifest says whether the consumer holds this source version (the same
    rule as the copier's: ETag and LastModified)."""
    if not objects:
        return
    keys = [obj.key for obj in objects]
    held = deps.held(keys) if deps.held is not None else deps.lookup(keys)[0]
    for obj in objects:
        entry = held.get(obj.key)
        if entry is None or not entry.holds(obj, deps.settings.destination_prefix, run.previous_destination):
            drift.note("different", obj.key)
            enqueue.put(ObjectRef(force=True, **obj.model_dump()), Origin.RECONCILE)
