"""What a run asks for from one interval of its key space: the same rule whichever worker lists it.

A worker hands each interval `(lo, hi]` of its shard here once, with the producer keys listed in it (and,
for a reconcile run or when deletes are on, the consumer's), and the failure-ledger entries that fall in it:
- a key in the ledger is enqueued with the `force` it failed with (the listed version if it was listed,
  else the ledger's: a source gone since settles as vanished), whether or not the rule selects it;
- otherwise a listed key is selected by the run's rule (`LastModified >= since`, never the marker's own
  name); a version the manifest says the consumer holds is not enqueued (unless the run forces it);
- a reconcile run enqueues (forced) every key missing in the consumer or different there (another size, or
  a version the manifest does not hold), and counts the drift;
- a dry run counts what it would select and enqueues nothing;
- consumer keys absent from the producer are what guarded deletes consider.
"""

from __future__ import annotations

from hydration.models import FailureRecord, ObjectRef, Origin, RunKind, SourceObject
from hydration.selection import is_selected
from planner.known import ManifestReads
from planner.work import ShardWork


def interval(
    work: ShardWork,
    listed: list[SourceObject],
    ledger: dict[str, FailureRecord],
    reads: ManifestReads,
    consumer: dict[str, SourceObject] | None = None,
    origin: Origin = Origin.LISTING,
) -> list[str]:
    """Handle one interval; returns the consumer keys in it that the producer does not have."""
    run, shard = work.run, work.shard
    shard.keys_listed += len(listed)
    if run.dry_run:
        _count_selected(work, listed)
        return _absent(work, listed, consumer)
    compare: list[SourceObject] = []
    moved = _moved(work, [obj for obj in listed if obj.key in ledger], reads)
    for obj in listed:
        failure = ledger.pop(obj.key, None)
        if failure is not None:
            _enqueue(work, _ref(obj, run.force or failure.force or obj.key in moved), Origin.LEDGER)
        elif obj.key == work.excluded:
            continue
        elif run.kind is RunKind.RECONCILE:
            if _reconcile(work, obj, consumer or {}):
                compare.append(obj)
        elif is_selected(obj.key, obj.last_modified, shard.since_for(obj.key), work.excluded):
            shard.keys_selected += 1
            shard.bytes_selected += obj.size
            compare.append(obj)
    for failure in ledger.values():  # in the ledger, not listed: gone, or outside what was listed
        _enqueue(work, failure.to_ref(), Origin.LEDGER)
    enqueue_changed(work, compare, reads, origin)
    return _absent(work, listed, consumer)


def _moved(work: ShardWork, objects: list[SourceObject], reads: ManifestReads) -> set[str]:
    """After the destination prefix changed: the keys whose manifest entry records no destination and holds
    this version. The copier reads such an entry as written for the current destination; it was written for
    the previous one, so these keys go forced."""
    run = work.run
    if run.previous_destination is None or run.force or not objects:
        return set()
    destination = work.deps.settings.destination_prefix
    held = reads([obj.key for obj in objects])
    return {
        obj.key
        for obj in objects
        if (entry := held.get(obj.key)) is not None
        and entry.holds(obj, destination)
        and not entry.holds(obj, destination, run.previous_destination)
    }


def _enqueue(work: ShardWork, ref: ObjectRef, origin: Origin) -> None:
    if origin is Origin.LEDGER:
        work.shard.ledger_keys_enqueued += 1
    work.enqueue.put(ref, origin)


def _reconcile(work: ShardWork, obj: SourceObject, consumer: dict[str, SourceObject]) -> bool:
    """Missing or of another size: enqueued (forced) at once; True: same size, the manifest decides."""
    shard = work.shard
    shard.keys_selected += 1
    shard.bytes_selected += obj.size
    dst = consumer.get(obj.key)
    if dst is not None and dst.size == obj.size:
        return True
    _note(work, "missing" if dst is None else "different", obj.key)
    _enqueue(work, _ref(obj, True), Origin.RECONCILE)
    return False


def enqueue_changed(work: ShardWork, objects: list[SourceObject], reads: ManifestReads, origin: Origin) -> None:
    """Enqueue the objects whose version the consumer does not hold (all of them if the run forces)."""
    run = work.run
    if not objects:
        return
    held = {} if run.force else reads([obj.key for obj in objects])
    destination = work.deps.settings.destination_prefix
    for obj in objects:
        entry = held.get(obj.key)
        holds = entry is not None and entry.holds(obj, destination, run.previous_destination)
        if run.force or not holds:
            if run.kind is RunKind.RECONCILE:
                _note(work, "different", obj.key)
                _enqueue(work, _ref(obj, True), Origin.RECONCILE)
            else:
                # The copier reads an entry that records no destination as written for the current one: where
                # this run knows better (the destination changed since the marker), the key goes forced.
                moved = entry is not None and entry.holds(obj, destination)
                _enqueue(work, _ref(obj, run.force or moved), origin)
        else:
            work.shard.keys_unchanged += 1


def _count_selected(work: ShardWork, listed: list[SourceObject]) -> None:
    shard, run = work.shard, work.run
    selected = [
        obj
        for obj in listed
        if obj.key != work.excluded
        and (
            run.kind is RunKind.RECONCILE
            or is_selected(obj.key, obj.last_modified, shard.since_for(obj.key), work.excluded)
        )
    ]
    shard.keys_selected += len(selected)
    shard.bytes_selected += sum(obj.size for obj in selected)
    sample(work, selected)


def sample(work: ShardWork, selected: list[SourceObject]) -> None:
    """A dry run keeps its first selected keys, to show them."""
    shard = work.shard
    room = shard.SAMPLE - len(shard.sample_keys)
    if room > 0 and selected:
        shard.sample_keys = [*shard.sample_keys, *(obj.key for obj in selected[:room])]


def _absent(work: ShardWork, listed: list[SourceObject], consumer: dict[str, SourceObject] | None) -> list[str]:
    """Consumer keys the producer does not list (a reconcile run's extra keys, guarded deletes' candidates)."""
    if consumer is None:
        return []
    present = {obj.key for obj in listed}
    absent = [key for key in consumer if key not in present and key != work.excluded]
    if work.run.kind is RunKind.RECONCILE:
        for key in absent:
            _note(work, "extra", key)
    return absent


def _note(work: ShardWork, kind: str, key: str) -> None:
    shard = work.shard
    setattr(shard, f"drift_{kind}", getattr(shard, f"drift_{kind}") + 1)
    sample = shard.first_drift.get(kind, [])
    if len(sample) < 10:
        shard.first_drift = {**shard.first_drift, kind: [*sample, key]}


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
