"""One batch of transfer messages: each object copied (or skipped) in a pool thread; what happened to it is
a `Done`, written to the state afterwards (copier.commit).

Per object (docs/architecture.md):
- a version the consumer already holds (manifest: same ETag and LastModified) is skipped, unless forced; held
  by a copy of the same run (an earlier delivery copied it and died before settling it), it settles as
  transferred;
- a source gone since listing settles as vanished; one changed since listing is copied in its current
  version (the transfer layer does it); one archived (a restore needed) settles as archived, not retried;
- a failure in a message of several keys re-enqueues that key alone (after its backoff); a failure in a
  one-key message is retried by SQS (after its backoff) and, on its final receive, written to the failure
  ledger and settled as failed (its multipart upload aborted) before the message moves to the DLQ;
- a message of several keys delivered again (its first attempt died) is split into one-key messages;
- no copy starts with less than DEADLINE_MARGIN_SECONDS of the invocation left (the time the batch needs to
  write its state): that key is handed on.
A large copy that stops before the deadline hands on its object; one above the fan-out threshold hands its
parts out as parts messages, which any copier takes; the one that records the last part completes the
upload and settles the key.
"""

from __future__ import annotations

import asyncio
import time
from threading import Lock
from typing import TYPE_CHECKING

from copier.steps import Done, Step
from hydration.copying import CopyRequest, Deadline, Handoff, HandoffReason, PartsOutcome
from hydration.errors import (
    ChecksumMismatchError,
    HydrationError,
    ObjectTransferError,
    SourceArchivedError,
    SourceVanishedError,
)
from hydration.models import ManifestEntry, ObjectRef, PartsMessage, TransferMessage, TransferRecord
from hydration.observability import MetricUnit, logger, metrics, traced_key

if TYPE_CHECKING:
    from copier.service import CopierDeps


class MessageNotSettledError(HydrationError):
    """Raised from a record handler so that SQS delivers the message again (Powertools reports it)."""


class Batch:
    def __init__(self, deps: CopierDeps, deadline: Deadline, keys: list[str]) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.deadline = deadline
        self._lock = Lock()
        self.done: list[Done] = []
        self.held, self.failures = deps.lookup(keys) if keys else ({}, {})

    # ------------------------------------------------------------------ one message (the event loop)

    async def handle(self, record: TransferRecord) -> str:
        body = record.body
        loop = asyncio.get_running_loop()
        if isinstance(body, PartsMessage):
            dones = [await loop.run_in_executor(self.deps.pool, self._parts, record)]
        elif len(body.objects) > 1 and int(record.attributes.ApproximateReceiveCount) > 1:
            # The first attempt at this message died (a crash, a timeout): go on one key per message, so that
            # a key that brings the copier down ends in the DLQ alone.
            logger.warning("message delivered again; splitting it", run_id=body.run_id, keys=len(body.objects))
            dones = [Done(record, obj, Step.REQUEUE) for obj in body.objects]
        else:
            futures = [loop.run_in_executor(self.deps.pool, self._objects, record, obj) for obj in body.objects]
            dones = list(await asyncio.gather(*futures))
        with self._lock:
            self.done += dones
        failed = [d for d in dones if d.alone and d.step in (Step.RETRY, Step.FAILED)]
        if failed:
            self._backoff(failed[0])
            raise MessageNotSettledError(f"{failed[0].error_code}: {failed[0].error}")
        return ",".join(d.step.value for d in dones)

    # ------------------------------------------------------------------ an object (a pool thread)

    def _objects(self, record: TransferRecord, obj: ObjectRef) -> Done:
        with traced_key(record.body.run_id, obj.key):
            return self._object(record, obj)

    def _object(self, record: TransferRecord, obj: ObjectRef) -> Done:
        self._log_keys(record)
        if self.deadline.remaining_seconds() <= 0:
            return Done(record, obj, Step.CONTINUE, then=[self._again(record, obj)])
        entry = self.held.get(obj.key)
        held = entry is not None and entry.holds(obj, self.settings.destination_prefix)
        if not obj.force and held and entry is not None:
            if entry.run_id == record.body.run_id:  # this run's copy; the delivery that made it did not settle it
                logger.info("copied by an earlier delivery of this run", key=obj.key, etag=obj.etag)
                return Done(record, obj, Step.TRANSFERRED, landed_bytes=entry.size)
            logger.debug("already in the consumer bucket", key=obj.key, etag=obj.etag)
            return Done(record, obj, Step.SKIPPED)
        started = time.perf_counter()
        request = self._request(record, obj, entry if obj.force and held else None)
        writing_from = self.deps.clock()  # the consumer object is written after this (the manifest's order)
        try:
            outcome = self.deps.copier.copy(request, self.deadline)
        except SourceVanishedError:
            logger.warning("ObjectVanished", key=obj.key, run_id=record.body.run_id)
            return Done(record, obj, Step.VANISHED)
        except SourceArchivedError as exc:
            return self._archived(record, obj, exc)
        except Exception as exc:
            return self._failed(record, obj, request, exc)
        seconds = time.perf_counter() - started
        if isinstance(outcome, Handoff):
            logger.info("copy handed on", key=obj.key, reason=outcome.reason, parts=len(outcome.parts_remaining))
            obj = self._progress(obj, outcome.progressed)
            if stuck := self._stuck(obj, outcome.upload_id):
                return self._failed(record, obj, request, stuck)
            then = self._handed_on(record, obj, outcome)
            return Done(record, obj, Step.CONTINUE, then=then, seconds=seconds, requests=outcome.requests)
        written = (writing_from, self.deps.clock())
        replaces = entry.token if entry is not None else None  # read before this copy began
        return Done(record, obj, Step.TRANSFERRED, result=outcome, seconds=seconds, written=written, replaces=replaces)

    def _parts(self, record: TransferRecord) -> Done:
        """Some parts of a fanned-out upload; the call that records the last one completes the copy."""
        self._log_keys(record)
        message = record.body
        assert isinstance(message, PartsMessage)
        obj = message.object
        request = self._request(record, obj)
        started = time.perf_counter()
        writing_from = self.deps.clock()
        try:
            outcome: PartsOutcome = self.deps.copier.copy_parts(
                request, message.upload_id, tuple(message.parts), self.deadline
            )
        except SourceVanishedError:
            logger.warning("ObjectVanished", key=obj.key, run_id=message.run_id)
            return Done(record, obj, Step.VANISHED)
        except SourceArchivedError as exc:
            return self._archived(record, obj, exc)
        except Exception as exc:
            return self._failed(record, obj, request, exc)
        seconds = time.perf_counter() - started
        if outcome.result is not None:
            written = (writing_from, self.deps.clock())
            return Done(record, obj, Step.TRANSFERRED, result=outcome.result, seconds=seconds, written=written)
        progressed = len(outcome.remaining) < len(set(message.parts)) or (
            outcome.handoff is not None and outcome.handoff.progressed
        )
        obj = self._progress(obj, progressed)
        if (outcome.remaining or outcome.handoff) and (stuck := self._stuck(obj, message.upload_id)):
            return self._failed(record, obj, request, stuck)
        then: list[TransferMessage | PartsMessage] = []
        if outcome.remaining:
            then.append(message.model_copy(update={"parts": list(outcome.remaining), "object": obj}))
        if outcome.handoff is not None:
            then += self._handed_on(record, obj, outcome.handoff)
        step = Step.CONTINUE if then else Step.PARTS_DONE
        return Done(record, obj, step, then=then, seconds=seconds, requests=outcome.requests)

    def _handed_on(
        self, record: TransferRecord, obj: ObjectRef, handoff: Handoff
    ) -> list[TransferMessage | PartsMessage]:
        """The messages that carry a handed-on copy forward, for the version it is copying."""
        request = handoff.request
        version = obj.model_copy(
            update={"etag": request.etag, "last_modified": request.last_modified, "size": request.size}
        )
        if handoff.reason is not HandoffReason.FANOUT:
            return [self._again(record, version)]
        parts = list(handoff.parts_remaining)
        size = self.settings.parts_per_message
        return [
            PartsMessage(
                run_id=record.body.run_id,
                bucket=record.body.bucket,
                sheet=record.body.sheet,
                object=version,
                upload_id=handoff.upload_id,
                parts=parts[start : start + size],
            )
            for start in range(0, len(parts), size)
        ]

    @staticmethod
    def _progress(obj: ObjectRef, progressed: bool) -> ObjectRef:
        """The object as its next message carries it: how many hand-ons in a row made no progress."""
        return obj.model_copy(update={"stalled": 0 if progressed else obj.stalled + 1})

    def _stuck(self, obj: ObjectRef, upload_id: str) -> ObjectTransferError | None:
        """A multipart copy that made no progress MAX_STALLED_HANDOFFS times in a row fails like any failed
        copy (retried, then the ledger, the DLQ and its upload aborted) instead of handing itself on forever."""
        if obj.stalled < self.settings.max_stalled_handoffs:
            return None
        return ObjectTransferError(
            obj.key,
            "NoProgress",
            f"the multipart copy (upload {upload_id}) was handed on {obj.stalled} times in a row without progress: "
            "no part or completion fits the copier's time (CopierTimeout, PartSizeBytes: docs/large-objects.md)",
        )

    def _again(self, record: TransferRecord, obj: ObjectRef) -> TransferMessage:
        """The object alone in a new message, with its sheet and slot."""
        body = record.body
        return TransferMessage(run_id=body.run_id, bucket=body.bucket, sheet=body.sheet, objects=[obj])

    def _request(self, record: TransferRecord, obj: ObjectRef, held: ManifestEntry | None = None) -> CopyRequest:
        """The copy of this object; `held`: the manifest's entry for this very version (copied again by force),
        whose checksum verifies the copy without reading the source's."""
        return CopyRequest(
            source_bucket=record.body.bucket,
            source_key=obj.key,
            etag=obj.etag,
            last_modified=obj.last_modified,
            size=obj.size,
            version_id=obj.version_id,
            dest_bucket=self.settings.consumer_bucket,
            dest_key=self.settings.destination_prefix + obj.key,
            kms_key_id=self.settings.consumer_kms_key_id,
            known_checksum=held.checksum if held is not None else None,
        )

    def _failed(self, record: TransferRecord, obj: ObjectRef, request: CopyRequest, exc: Exception) -> Done:
        code = exc.code if isinstance(exc, ObjectTransferError) else type(exc).__name__
        receive_count = int(record.attributes.ApproximateReceiveCount)
        done = Done(record, obj, Step.REQUEUE, error_code=code, error=str(exc))
        # A copy that did not match its source failed for good in a fan-out (its upload is gone); otherwise a
        # message standing for this object alone is retried by SQS until its final receive.
        final = done.alone and (
            receive_count >= self.settings.max_receive_count
            or (isinstance(record.body, PartsMessage) and isinstance(exc, ChecksumMismatchError))
        )
        done.step = Step.FAILED if final else Step.RETRY if done.alone else Step.REQUEUE
        logger.error(
            "ObjectTransferError",
            key=obj.key,
            run_id=record.body.run_id,
            error_code=code,
            error=str(exc),
            receive_count=receive_count,
            attempts=obj.attempts + 1,
            final_attempt=final,
        )
        if final:
            try:
                self.deps.copier.abort(request)  # nothing left behind by a key that failed for good
            except Exception:  # the bucket's lifecycle rule aborts it after a day
                logger.warning("could not abort the key's multipart upload", key=obj.key, exc_info=True)
        return done

    @staticmethod
    def _archived(record: TransferRecord, obj: ObjectRef, exc: SourceArchivedError) -> Done:
        """An archived source settles at once (no retry can read it before a restore): ledger, archived."""
        logger.warning(
            "ObjectArchived",
            key=obj.key,
            run_id=record.body.run_id,
            storage_class=exc.storage_class,
            archive_status=exc.archive_status,
            restore_in_progress=exc.restoring,
        )
        return Done(record, obj, Step.ARCHIVED, error_code="InvalidObjectState", error=str(exc), archived=exc)

    def _backoff(self, done: Done) -> None:
        """Bring a failed message back after its backoff; after its final attempt at once, so that SQS moves it
        to the DLQ on the next receive instead of after a whole visibility timeout."""
        seconds = 0 if done.step is Step.FAILED else self.delay(done.obj.attempts + done.receive_count)
        try:
            self.deps.queue.retry_later(done.record.receiptHandle, seconds)
        except Exception:  # the queue's visibility timeout still brings the message back
            logger.warning("could not shorten the retry delay", exc_info=True)

    def delay(self, attempt: int) -> int:
        settings = self.settings
        return min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(0, attempt - 1))

    @staticmethod
    def _log_keys(record: TransferRecord) -> None:
        # Keys of this thread only (a batch may mix runs: redriven messages keep theirs).
        logger.thread_safe_append_keys(run_id=record.body.run_id, correlation_id=record.body.run_id)

    # ------------------------------------------------------------------ metrics

    def report(self) -> None:
        counts = {step: sum(1 for d in self.done if d.step is step) for step in Step}
        for step, name in (
            (Step.TRANSFERRED, "ObjectsTransferred"),
            (Step.SKIPPED, "ObjectsSkipped"),
            (Step.VANISHED, "ObjectsVanished"),
            (Step.ARCHIVED, "ObjectsArchived"),
            (Step.FAILED, "ObjectsFailed"),
        ):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[step])
        metrics.add_metric(
            name="ObjectsRetried", unit=MetricUnit.Count, value=counts[Step.RETRY] + counts[Step.REQUEUE]
        )
        metrics.add_metric(
            name="BytesTransferred", unit=MetricUnit.Bytes, value=sum(d.result.bytes for d in self.done if d.result)
        )
        for done in self.done:
            if done.step is Step.TRANSFERRED and done.result is not None:  # copied by this invocation
                metrics.add_metric(name="CopyLatency", unit=MetricUnit.Milliseconds, value=done.seconds * 1000)
