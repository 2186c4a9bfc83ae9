"""After a batch's copies: its state, written in an order that never reports done what is not, then the close
of any run whose books now balance.

1. re-enqueues (keys alone after a failure or a split; copies handed on; fanned-out parts): a message that
   could not be re-enqueued is delivered again instead;
2. manifest entries of what landed, each where it says what the consumer holds;
3. ledger entries of what failed for good or is archived (before the key settles), and of keys two copies
   of different versions wrote at once (ConcurrentCopy: settled as failed, the next run copies them again);
4. the books: each key that reached an outcome settled once in its run, in its sheet's slot (one conditional
   update per sheet, the batch's sheets in one transaction per run);
5. ledger clears for keys that landed (conditional on the entry read at the start of the batch);
6. the cost (S3 requests, copy time) of copies that go on in other messages, added to their run's books;
7. closes: a run in which this batch settled keys and whose books now balance.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from copier.steps import Done, Step
from hydration.aws.queue import Outgoing
from hydration.closing import close_if_balanced
from hydration.errors import HydrationError
from hydration.models import Archive, FailureRecord, ManifestEntry, ObjectRef, Settlement, TransferMessage, pack
from hydration.observability import logger

if TYPE_CHECKING:
    from copier.batch import Batch


def commit(batch: Batch, request_id: str) -> set[str]:
    """Write the batch's state; the message ids that must be delivered again. Raises if the state cannot be
    written (then the whole batch is delivered again)."""
    deps = batch.deps
    again = _requeue(batch)
    now = deps.clock()
    landed = [d for d in batch.done if d.step is Step.TRANSFERRED and d.result is not None]
    contested: list[ManifestEntry] = []
    if landed:
        contested = deps.manifest.put_many([_entry(d, now, batch.settings.destination_prefix) for d in landed])
    for done in (d for d in batch.done if d.step in (Step.FAILED, Step.ARCHIVED)):
        deps.ledger.record(
            FailureRecord.of(
                done.obj,
                bucket=done.bucket,
                run_id=done.run_id,
                error_code=done.error_code,
                error_message=done.error,
                attempts=done.obj.attempts + done.receive_count,
                failed_at=now,
                archive=_archive(batch, done, now),
            )
        )
    _contested(batch, landed, contested, now)
    settled_in = _settle(batch)
    _clear_ledger(batch)
    _add_costs(batch)
    for run_id in settled_in:
        _close(batch, run_id, request_id)
    return again


def _requeue(batch: Batch) -> set[str]:
    outgoing: list[Outgoing] = []
    handed: dict[tuple[str, str, str | None, str], list[ObjectRef]] = {}
    for done in batch.done:
        if done.step is Step.REQUEUE:
            after_failure = bool(done.error_code)
            obj = done.obj.model_copy(update={"attempts": done.obj.attempts + 1}) if after_failure else done.obj
            message = TransferMessage(run_id=done.run_id, bucket=done.bucket, sheet=done.sheet, objects=[obj])
            delay = min(900, batch.delay(obj.attempts)) if after_failure else 0
            outgoing.append(Outgoing(message.to_body(), delay, tag=done.message_id))
        elif done.step is Step.CONTINUE:
            for follow in done.then:
                if isinstance(follow, TransferMessage) and len(follow.objects) == 1:
                    handed.setdefault((done.run_id, done.bucket, done.sheet, done.message_id), []).append(
                        follow.objects[0]
                    )
                else:
                    outgoing.append(Outgoing(follow.to_body(), 0, tag=done.message_id))
    for (run_id, bucket, sheet, message_id), objects in handed.items():  # handed-on objects, packed again
        for message in pack(run_id, bucket, objects, batch.settings.keys_per_message, sheet):
            outgoing.append(Outgoing(message.to_body(), 0, tag=message_id))
    if not outgoing:
        return set()
    failed = batch.deps.queue.send(outgoing)
    for _, reason in failed:
        logger.error("could not re-enqueue; the message will be delivered again", error=reason)
    return {str(message.tag) for message, _ in failed}


def _settle(batch: Batch) -> list[str]:
    """Settle the keys that reached an outcome, per run, each in its sheet's slot; the runs in which something
    settled now. A key of a message from before sheets settles nothing (its run's books cannot be read)."""
    per_run: dict[str, list[Settlement]] = {}
    for done in batch.done:
        outcome = done.step.outcome
        if outcome is None:
            continue
        if done.sheet is None or done.obj.slot is None:
            logger.warning("a message without a sheet settles nothing", key=done.obj.key, run_id=done.run_id)
            continue
        result = done.result
        settlement = Settlement(
            done.obj.key,
            outcome,
            bytes=result.bytes if result else done.landed_bytes,
            requests=result.requests if result else 0,
            copy_ms=round(done.seconds * 1000),
            sheet=done.sheet,
            slot=done.obj.slot,
        )
        per_run.setdefault(done.run_id, []).append(settlement)
    settled_in: list[str] = []
    for run_id, settlements in per_run.items():
        settled = batch.deps.books.settle(run_id, settlements)
        if len(settled) < len(settlements):
            duplicates = len(settlements) - len(settled)
            logger.info("keys already settled in their run (duplicate delivery)", run_id=run_id, duplicates=duplicates)
        if settled:
            settled_in.append(run_id)
    return settled_in


def _add_costs(batch: Batch) -> None:
    """What the calls of a copy that goes on cost (a large copy's earlier invocations, its parts messages); a
    settled key's cost moved with its settlement. A count that cannot be added is logged, not retried: it is
    a report, and redelivering the batch for it would cost more than it measures."""
    costs: dict[str, tuple[int, int]] = {}
    for done in batch.done:
        if done.step.outcome is None and (done.requests or done.seconds):
            requests, ms = costs.get(done.run_id, (0, 0))
            costs[done.run_id] = (requests + done.requests, ms + round(done.seconds * 1000))
    for run_id, (requests, copy_ms) in costs.items():
        try:
            batch.deps.books.add_costs(run_id, requests=requests, copy_ms=copy_ms)
        except Exception:
            logger.warning("could not count the cost of copies in progress", run_id=run_id, exc_info=True)


def _clear_ledger(batch: Batch) -> None:
    """A key that landed (or is gone) leaves the ledger, if its entry is for this version or an older one and
    is still the entry read at the start of the batch."""
    for done in batch.done:
        failure = batch.failures.get(done.obj.key)
        if failure is None or done.step not in (Step.TRANSFERRED, Step.SKIPPED, Step.VANISHED):
            continue
        landed = done.result.last_modified if done.result else done.obj.last_modified
        newer = done.step is Step.VANISHED or landed >= failure.last_modified
        if newer and batch.deps.ledger.clear(done.obj.key, failure.failed_at):
            logger.info("key left the failure ledger", key=done.obj.key)


def _close(batch: Batch, run_id: str, request_id: str) -> None:
    """Close the run if this batch settled its last key. The batch's own state is written by then: a close that
    fails (the marker cannot be written, say) is left to the finalizer's next pass."""
    try:
        run = batch.deps.runs.get(run_id)
        closed = close_if_balanced(run, batch.deps.closing, claimant=request_id)
    except HydrationError:  # a run that expired from the table: nothing to close
        return
    except Exception:
        logger.exception("could not close the run; the finalizer will", run_id=run_id)
        return
    if closed is not None:
        logger.info("run closed by the copier that settled its last key", run_id=run_id, status=closed.status)


def _contested(batch: Batch, landed: list[Done], contested: list[ManifestEntry], now: datetime) -> None:
    """Two copies of different versions of a key wrote the consumer object at the same time (a redelivery
    while the producer rewrote it): S3 kept one, nobody knows which. The key goes to the failure ledger,
    forced, so the next run copies it again (and the marker stays before it), and settles as failed: the
    books say what the ledger says (its copy's bytes and requests still count as cost)."""
    by_key = {d.obj.key: d for d in landed}
    for entry in contested:
        done = by_key[entry.key]
        done.step, done.error_code = Step.FAILED, "ConcurrentCopy"
        logger.warning("ConcurrentCopy", key=entry.key, run_id=done.run_id, etag=entry.etag)
        written = entry.last_modified or done.obj.last_modified
        # the version this copy wrote (not necessarily the listed one: the source may have changed since)
        version = done.obj.model_copy(
            update={"etag": entry.etag, "size": entry.size, "last_modified": written, "force": True}
        )
        batch.deps.ledger.record(
            FailureRecord.of(
                version,
                bucket=done.bucket,
                run_id=done.run_id,
                error_code="ConcurrentCopy",
                error_message="another copy of this key, of another version, wrote the consumer object at the same "
                "time: which one S3 kept is unknown; the next run copies it again",
                attempts=done.obj.attempts,
                failed_at=now,
            )
        )


def _archive(batch: Batch, done: Done, now: datetime) -> Archive | None:
    """An archived key's entry: where S3 keeps it, and whether a restore is in progress (then runs re-enqueue
    it until it lands: the restore's request time is kept). No restore running (never requested, or expired):
    runs leave it alone until `failures restore`."""
    found = done.archived
    if found is None:
        return None
    restoring_since: datetime | None = None
    if found.restoring:
        earlier = batch.failures.get(done.obj.key)
        restoring_since = earlier.restore_requested_at if earlier and earlier.restore_requested_at else now
    return Archive(found.storage_class, found.archive_status, restoring_since)


def _entry(done: Done, now: datetime, destination: str) -> ManifestEntry:
    assert done.result is not None
    return ManifestEntry(
        key=done.obj.key,
        etag=done.result.etag,
        last_modified=done.result.last_modified,
        size=done.result.bytes,
        version_id=done.obj.version_id,
        copied_at=now,
        checksum=done.result.checksum,
        run_id=done.run_id,
        destination=destination,
        written_after=done.written[0] if done.written else None,
        written_before=done.written[1] if done.written else None,
        replaces=done.replaces,
    )
