"""A reconcile run: list both buckets side by side and enqueue (forced) every key that is missing in the
consumer bucket or different there: another size, or a version the manifest does not hold."""

from __future__ import annotations

from collections.abc import Iterator

from hydration.aws import listing as source_listing
from hydration.models import Drift, ObjectRef, Origin, RunRecord, SourceObject
from hydration.selection import excluded_key
from planner.context import Budget, PlannerDeps
from planner.enqueue import Enqueue
from planner.listing import LedgerSnapshot

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


def walk(run: RunRecord, deps: PlannerDeps, budget: Budget, enqueue: Enqueue, ledger: LedgerSnapshot) -> bool:
    """Compare from where the run's planning stands (`enqueue.progress`); False: stopped for a checkpoint.

    The position moves past a key only once it is decided (enqueued, or found held): keys of the same size on
    both sides wait for one manifest read per MANIFEST_CHUNK, and any other key first settles them, so a
    checkpoint never covers a key that was not handed over. A key in the failure ledger is enqueued as a ledger
    key (with a claim: the ledger's re-enqueue does not open it again); with a ledger too large to hold, every
    key is claimed."""
    settings = deps.settings
    drift = run.drift if run.drift is not None else Drift()
    run.drift = drift
    progress = enqueue.progress
    dest = settings.destination_prefix
    excluded = excluded_key(dest)
    pending = _Pending(run, deps, drift, enqueue, ledger)
    for index in range(progress.prefix_index, len(run.prefixes)):
        prefix = run.prefixes[index]
        start = progress.start_after if index == progress.prefix_index else None
        progress.prefix_index, progress.start_after = index, start
        source = source_listing.iter_objects(deps.producer_s3, settings.producer_bucket, prefix, start)
        consumer = _strip(
            source_listing.iter_objects(
                deps.consumer_s3, settings.consumer_bucket, dest + prefix, dest + start if start else None
            ),
            dest,
        )
        seen = 0
        for src, dst in _merge(source, consumer):
            if src is None:
                if dst is not None and dst.key != excluded:
                    pending.settle()
                    drift.note("extra", dst.key)
                    progress.start_after = dst.key
                continue
            if src.key == excluded:
                continue
            if dst is None or dst.size != src.size:
                pending.settle()
                drift.note("missing" if dst is None else "different", src.key)
                progress.start_after = src.key
                progress.keys_listed += 1
                pending.put(src)
            else:
                pending.add(src)
            seen += 1
            if seen % settings.list_page_size == 0:
                pending.settle()
                budget.page_done()
                if budget.exhausted:
                    return False
        pending.settle()
        progress.prefix_index, progress.start_after = index + 1, None
    return True


class _Pending:
    """Same-size keys waiting for their manifest read (the same rule as the copier's: ETag and LastModified,
    under the destination the run copies to)."""

    def __init__(
        self, run: RunRecord, deps: PlannerDeps, drift: Drift, enqueue: Enqueue, ledger: LedgerSnapshot
    ) -> None:
        self._run = run
        self._deps = deps
        self._drift = drift
        self._enqueue = enqueue
        self._ledger = ledger.entries
        self._objects: list[SourceObject] = []

    def add(self, obj: SourceObject) -> None:
        self._objects.append(obj)
        if len(self._objects) == MANIFEST_CHUNK:
            self.settle()

    def settle(self) -> None:
        objects, self._objects = self._objects, []
        if not objects:
            return
        keys = [obj.key for obj in objects]
        held = self._deps.held(keys) if self._deps.held is not None else self._deps.lookup(keys)[0]
        progress = self._enqueue.progress
        destination, previous = self._deps.settings.destination_prefix, self._run.previous_destination
        for obj in objects:
            progress.start_after = obj.key
            progress.keys_listed += 1
            entry = held.get(obj.key)
            if entry is None or not entry.holds(obj, destination, previous):
                self._drift.note("different", obj.key)
                self.put(obj)

    def put(self, obj: SourceObject) -> None:
        ref = ObjectRef(force=True, **obj.model_dump())
        if self._ledger is None:  # the ledger's keys are not at hand: claim every key
            self._enqueue.put(ref, Origin.RECONCILE, claim=True)
        else:
            self._enqueue.put(ref, Origin.LEDGER if obj.key in self._ledger else Origin.RECONCILE)
