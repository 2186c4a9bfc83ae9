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

Keys are decided first (the manifest read for a page's keys at once), then handed over in key order, the
shard's position and counts moved past each key before it is (`Step`): a checkpoint cut at any key (the
enqueue opens at most MAX_ACTIONS sheets a transaction) saves exactly what was handed over up to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hydration.models import FailureRecord, ManifestEntry, ObjectRef, Origin, RunKind, SourceObject
from hydration.selection import is_selected
from planner.known import ManifestReads
from planner.work import ShardWork


@dataclass
class Step:
    """One key of an interval: what it adds to the shard's counts, and what is enqueued for it."""

    key: str
    listed: int = 0
    selected: SourceObject | None = None
    unchanged: bool = False
    note: str | None = None  # reconcile drift: missing, different, extra
    put: list[tuple[ObjectRef, Origin]] = field(default_factory=list)


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
    if run.dry_run:
        shard.keys_listed += len(listed)
        _count_selected(work, listed)
        absent = _absent(work, listed, consumer)
        for key in absent:
            _apply(work, Step(key, note="extra" if run.kind is RunKind.RECONCILE else None))
        return absent
    steps: dict[str, Step] = {}
    compare: list[SourceObject] = []
    for obj in listed:
        step = steps[obj.key] = Step(obj.key, listed=1)
        if obj.key in ledger or obj.key == work.excluded:
            continue
        if run.kind is RunKind.RECONCILE:
            step.selected = obj
            dst = (consumer or {}).get(obj.key)
            if dst is not None and dst.size == obj.size:
                compare.append(obj)  # same size: the manifest decides
            else:
                step.note = "missing" if dst is None else "different"
                step.put.append((_ref(obj, True), Origin.RECONCILE))
        elif is_selected(obj.key, obj.last_modified, shard.since_for(obj.key), work.excluded):
            step.selected = obj
            compare.append(obj)
    in_ledger = [obj for obj in listed if obj.key in ledger]
    look_up = compare + (in_ledger if run.previous_destination is not None else [])  # see _moved
    held = reads([obj.key for obj in look_up]) if look_up and not run.force else {}
    moved = _moved(work, in_ledger, held)
    for obj in in_ledger:  # listed: the listed version, with the force it failed with
        force = run.force or ledger[obj.key].force or obj.key in moved
        steps[obj.key].put.append((_ref(obj, force), Origin.LEDGER))
    for key, failure in ledger.items():  # in the ledger, not listed: gone, or outside what was listed
        if key not in steps:
            steps[key] = Step(key, put=[(failure.to_ref(), Origin.LEDGER)])
    _changed(work, compare, held, steps, origin)
    absent = _absent(work, listed, consumer)
    for key in absent:
        steps[key] = Step(key, note="extra" if run.kind is RunKind.RECONCILE else None)
    for key in sorted(steps):
        _apply(work, steps[key])
    return absent


def _changed(
    work: ShardWork, objects: list[SourceObject], held: dict[str, ManifestEntry], steps: dict[str, Step], origin: Origin
) -> None:
    """The objects whose version the consumer does not hold (all of them if the run forces) are enqueued."""
    run = work.run
    destination = work.deps.settings.destination_prefix
    for obj in objects:
        entry = held.get(obj.key)
        holds = entry is not None and entry.holds(obj, destination, run.previous_destination)
        step = steps[obj.key]
        if not run.force and holds:
            step.unchanged = True
        elif run.kind is RunKind.RECONCILE:
            step.note = "different"
            step.put.append((_ref(obj, True), Origin.RECONCILE))
        else:
            # The copier reads an entry that records no destination as written for the current one: where
            # this run knows better (the destination changed since the marker), the key goes forced.
            moved = entry is not None and entry.holds(obj, destination)
            step.put.append((_ref(obj, run.force or moved), origin))


def _apply(work: ShardWork, step: Step) -> None:
    """The shard's position and counts past this key, then what is enqueued for it."""
    shard = work.shard
    shard.position = step.key
    shard.keys_listed += step.listed
    if step.selected is not None:
        shard.keys_selected += 1
        shard.bytes_selected += step.selected.size
    if step.unchanged:
        shard.keys_unchanged += 1
    if step.note is not None:
        _note(work, step.note, step.key)
    for ref, origin in step.put:
        if origin is Origin.LEDGER:
            shard.ledger_keys_enqueued += 1
        work.enqueue.put(ref, origin)


def enqueue_changed(
    work: ShardWork,
    objects: list[SourceObject],
    held: dict[str, ManifestEntry],
    origin: Origin,
    at: Callable[[str], None],
) -> None:
    """Enqueue the objects whose version the consumer does not hold (`held`: their manifest entries), in
    their order; `at(key)` moves the walk's position past each object before it is handed over (an inventory
    file's row)."""
    steps = {obj.key: Step(obj.key) for obj in objects}
    _changed(work, objects, held, steps, origin)
    for obj in objects:
        step = steps[obj.key]
        at(obj.key)
        if step.unchanged:
            work.shard.keys_unchanged += 1
        for ref, how in step.put:
            work.enqueue.put(ref, how)


def _moved(work: ShardWork, objects: list[SourceObject], held: dict[str, ManifestEntry]) -> set[str]:
    """After the destination prefix changed: the keys whose manifest entry records no destination and holds
    this version. The copier reads such an entry as written for the current destination; it was written for
    the previous one, so these keys go forced."""
    run = work.run
    if run.previous_destination is None or run.force or not objects:
        return set()
    destination = work.deps.settings.destination_prefix
    return {
        obj.key
        for obj in objects
        if (entry := held.get(obj.key)) is not None
        and entry.holds(obj, destination)
        and not entry.holds(obj, destination, run.previous_destination)
    }


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
    return [key for key in consumer if key not in present and key != work.excluded]


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
