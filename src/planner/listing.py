"""What an incremental, full, prefix, since or keys run selects, and the failure ledger's re-enqueue.

A page of the listing is compared with the manifest (one consistent BatchGetItem per 100 selected keys, the
chunks side by side): a version the consumer already holds is not enqueued (unless the run forces it). The
failure ledger is read once per planning invocation (`LedgerSnapshot`): a listed key in the ledger is enqueued
with the `force` it failed with, and once the listing is done every key of the ledger is re-enqueued (keys the
listing did not reach: deleted, or outside the selection); claims in the books make sure a ledger key is
enqueued once per run. A ledger too large to hold (more than LEDGER_SNAPSHOT_LIMIT entries) is read with the
manifest per page instead, as both tables were read before, and scanned again for the re-enqueue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hydration.aws import listing as source_listing
from hydration.aws import s3 as s3_adapter
from hydration.models import (
    FailureRecord,
    ManifestEntry,
    ObjectRef,
    Origin,
    RunKind,
    RunRecord,
    SourceObject,
)
from hydration.observability import logger
from hydration.ports import Ledger
from hydration.selection import excluded_key, is_selected
from planner.context import Budget, PlannerDeps
from planner.enqueue import Enqueue

LEDGER_SNAPSHOT_LIMIT = 10_000  # ledger entries held in memory for an invocation (a few MB)
MANIFEST_CHUNK = 100  # keys per BatchGetItem
MANIFEST_READS_IN_FLIGHT = 4


@dataclass(frozen=True)
class LedgerSnapshot:
    """The failure ledger as one planning invocation read it, or None where it was too large to hold."""

    entries: dict[str, FailureRecord] | None

    @classmethod
    def read(cls, ledger: Ledger, limit: int = LEDGER_SNAPSHOT_LIMIT) -> LedgerSnapshot:
        entries: dict[str, FailureRecord] = {}
        for failure in ledger:
            if len(entries) >= limit:
                logger.info("the failure ledger is large: read with the manifest, page by page", limit=limit)
                return cls(None)
            entries[failure.key] = failure
        return cls(entries)

    def __iter__(self) -> Iterator[FailureRecord]:
        return iter(self.entries.values() if self.entries is not None else ())


class Known:
    """What the consumer holds and what failed, for the keys of a page."""

    def __init__(self, deps: PlannerDeps, ledger: LedgerSnapshot) -> None:
        self._deps = deps
        self._ledger = ledger.entries
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> Known:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    @property
    def destination(self) -> str:
        return self._deps.settings.destination_prefix

    def lookup(self, keys: list[str]) -> tuple[dict[str, ManifestEntry], dict[str, FailureRecord]]:
        if self._ledger is None or self._deps.held is None:
            return self._deps.lookup(keys)  # both tables, one read per 100 keys
        ledger = self._ledger
        failed = {key: ledger[key] for key in keys if key in ledger}
        return self._held(keys), failed

    def _held(self, keys: list[str]) -> dict[str, ManifestEntry]:
        held = self._deps.held
        assert held is not None
        chunks = [keys[start : start + MANIFEST_CHUNK] for start in range(0, len(keys), MANIFEST_CHUNK)]
        if len(chunks) <= 1:
            return held(keys)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=MANIFEST_READS_IN_FLIGHT, thread_name_prefix="manifest")
        found: dict[str, ManifestEntry] = {}
        for part in self._pool.map(held, chunks):
            found |= part
        return found


def walk(run: RunRecord, deps: PlannerDeps, budget: Budget, enqueue: Enqueue, ledger: LedgerSnapshot) -> bool:
    """Enqueue the selected keys from where the run's planning stands (`enqueue.progress`: a prefix, and the
    last key handled in it: ListObjectsV2's StartAfter). False: stopped at a page's end for a checkpoint."""
    settings = deps.settings
    excluded = excluded_key(settings.destination_prefix)
    progress = enqueue.progress
    bound = run.since_for  # a key's selection bound (a widened scope gives parts their own)
    with Known(deps, ledger) as known:
        for index in range(progress.prefix_index, len(run.prefixes)):
            start_after = progress.start_after if index == progress.prefix_index else None
            progress.prefix_index, progress.start_after = index, start_after
            for page in source_listing.list_pages(
                deps.producer_s3,
                settings.producer_bucket,
                run.prefixes[index],
                page_size=settings.list_page_size,
                start_after=start_after,
            ):
                selected = [o for o in page.objects if is_selected(o.key, o.last_modified, bound(o.key), excluded)]
                held, failed = known.lookup([obj.key for obj in selected]) if selected else ({}, {})
                chosen = {obj.key for obj in selected}
                for obj in page.objects:
                    progress.keys_listed += 1
                    progress.start_after = obj.key
                    if obj.key in chosen:
                        entry, failure = held.get(obj.key), failed.get(obj.key)
                        _enqueue_changed(run, obj, entry, failure, known.destination, enqueue, Origin.LISTING)
                budget.page_done()
                if budget.exhausted and page.next_token:
                    return False
            progress.prefix_index, progress.start_after = index + 1, None
            if budget.exhausted and index + 1 < len(run.prefixes):
                return False
    return True


def _enqueue_changed(
    run: RunRecord,
    obj: SourceObject,
    entry: ManifestEntry | None,
    failure: FailureRecord | None,
    destination: str,
    enqueue: Enqueue,
    origin: Origin,
) -> None:
    """Enqueue the object unless the consumer holds its version under `destination` (all of them if the run
    forces); one in the failure ledger with its ledger `force`, as a ledger key (opened with a claim)."""
    holds = entry is not None and entry.holds(obj, destination, run.previous_destination)
    # The copier reads an entry that records no destination as written for the current one: where this run
    # knows better (the destination changed since the marker), the key goes forced.
    force = run.force or (not holds and entry is not None and entry.holds(obj, destination))
    if failure is not None:
        enqueue.put(_ref(obj, force or failure.force), Origin.LEDGER)
    elif run.force or not holds:
        enqueue.put(_ref(obj, force), origin)
    else:
        enqueue.progress.keys_unchanged += 1


def _ref(obj: SourceObject, force: bool) -> ObjectRef:
    """The listed object (validated by S3, or by its model) as a message entry, without validating again."""
    return ObjectRef.model_construct(
        key=obj.key,
        size=obj.size,
        etag=obj.etag,
        last_modified=obj.last_modified,
        version_id=obj.version_id,
        force=force,
        attempts=0,
    )


def walk_keys(run: RunRecord, deps: PlannerDeps, enqueue: Enqueue, ledger: LedgerSnapshot) -> bool:
    """A run for keys an operator named: each is read (HEAD) and enqueued, forced if asked, with a claim (a
    resumed run opens none twice); a key that does not exist is logged and left out."""
    settings = deps.settings
    progress = enqueue.progress
    heads: list[tuple[str, SourceObject | None]] = []
    for key in run.keys[progress.keys_done :]:
        head = s3_adapter.head_if_exists(deps.producer_s3, settings.producer_bucket, key)
        if head is None:
            logger.warning("requested key not found in the producer bucket", key=key)
        found = (
            SourceObject(key=key, size=head.size, etag=head.etag, last_modified=head.last_modified) if head else None
        )
        heads.append((key, found))
    with Known(deps, ledger) as known:
        present = [obj.key for _, obj in heads if obj is not None]
        held, failed = known.lookup(present) if present else ({}, {})
        for key, obj in heads:
            progress.keys_done += 1
            if obj is not None:
                progress.keys_listed += 1
                entry, failure = held.get(key), failed.get(key)
                _enqueue_changed(run, obj, entry, failure, known.destination, enqueue, Origin.REQUEST)
    return True


def enqueue_ledger(run: RunRecord, deps: PlannerDeps, enqueue: Enqueue, ledger: LedgerSnapshot) -> None:
    """Every key in the failure ledger goes back on the queue (within a prefix or keys run's scope): the keys
    this invocation read, or, for a ledger too large to hold, a scan of it. Each is opened with a claim, so a
    key the listing opened already (as a ledger key), or a resumed pass did, is not opened again. An entry
    written since the run started (a key that failed in this run, or one the finalizer found in the DLQ
    meanwhile) is left to the next run: the listing may have opened it before it was in the ledger, and the
    marker stays before it either way."""
    wanted = set(run.keys)
    entries: Iterable[FailureRecord] = ledger if ledger.entries is not None else deps.ledger
    for failure in entries:
        if failure.failed_at >= run.started_at:
            continue
        if not run.in_scope(failure.key):  # the scope was narrowed since it failed: no longer followed
            continue
        if run.kind is RunKind.PREFIX and not any(failure.key.startswith(p) for p in run.prefixes):
            continue
        if run.kind is RunKind.KEYS and failure.key not in wanted:
            continue
        enqueue.put(failure.to_ref(), Origin.LEDGER)
