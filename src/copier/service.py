"""Copier: copy the objects of one SQS batch, settle each key once in its run's books, close the run when
its books balance, and report exactly the records SQS must deliver again.

Per object (docs/architecture.md):
- a version the consumer already holds (manifest: same ETag and LastModified) is skipped, unless forced;
- a source gone since listing (NoSuchKey) settles as vanished; one changed since listing is copied in its
  current version (the transfer layer does it);
- a failure in a message of several keys re-enqueues that key alone (after its backoff) and the message
  is done, so a key that keeps failing ends up alone in the DLQ; a failure in a one-key message is
  retried by SQS (after its backoff) and, on its final receive, written to the failure ledger and settled
  as failed before the message moves to the DLQ;
- a message delivered again (the previous attempt crashed or timed out) is split into one-key messages;
- no copy starts when too little of the invocation is left to finish it and write the batch's state:
  that key is handed on (re-enqueued), as is a large copy that stops before the deadline.
After the copies: re-enqueues, manifest entries, ledger entries, the books (one transaction per 99 keys
per run), ledger clears, and the close of any run whose books now balance.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from threading import Lock
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from hydration.aws.queue import Outgoing
from hydration.aws.transfer import CopyRequest, CopyResult, Deadline, Handoff
from hydration.closing import Closing, close_if_balanced
from hydration.errors import HydrationError, ObjectTransferError, SourceVanishedError
from hydration.models import (
    FailureRecord,
    ManifestEntry,
    ObjectRef,
    Outcome,
    TransferMessage,
    TransferRecord,
    describe_validation_error,
    pack,
)
from hydration.observability import MetricUnit, logger, metrics
from hydration.ports import Books, Ledger, Lookup, ManifestWriter, Runs
from hydration.settings import CopierSettings


class ObjectCopier(Protocol):
    def copy(self, request: CopyRequest, deadline: Deadline) -> CopyResult | Handoff: ...


class Requeue(Protocol):
    """The transfer queue, as the copier uses it."""

    def send(self, messages: list[Outgoing]) -> list[tuple[Outgoing, str]]: ...
    def retry_later(self, receipt_handle: str, seconds: int) -> None: ...


@dataclass
class CopierDeps:
    settings: CopierSettings
    copier: ObjectCopier
    lookup: Lookup
    manifest: ManifestWriter
    ledger: Ledger
    books: Books
    runs: Runs
    queue: Requeue
    closing: Closing
    pool: ThreadPoolExecutor
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class Step(StrEnum):
    """What happened to one object of one message in this invocation."""

    TRANSFERRED = "transferred"
    SKIPPED = "skipped"
    VANISHED = "vanished"
    FAILED = "failed"  # final: ledger, settled as failed, the message goes on to the DLQ
    RETRY = "retry"  # a one-key message SQS delivers again after its backoff
    REQUEUE = "requeue"  # re-enqueued alone (a failed key of a multi-key message, or a split)
    HANDOFF = "handoff"  # re-enqueued to continue (deadline, or a large copy handing on)

    @property
    def outcome(self) -> Outcome | None:
        return {
            Step.TRANSFERRED: Outcome.TRANSFERRED,
            Step.SKIPPED: Outcome.SKIPPED,
            Step.VANISHED: Outcome.VANISHED,
            Step.FAILED: Outcome.FAILED,
        }.get(self)


@dataclass
class Done:
    record: TransferRecord
    obj: ObjectRef
    step: Step
    result: CopyResult | None = None
    error_code: str = ""
    error: str = ""
    seconds: float = 0.0

    @property
    def message(self) -> TransferMessage:
        return self.record.body

    @property
    def receive_count(self) -> int:
        return int(self.record.attributes.ApproximateReceiveCount)


class ContextDeadline:
    """The invocation's deadline from the Lambda context."""

    def __init__(self, context: LambdaContext) -> None:
        self._context = context

    def remaining_seconds(self) -> float:
        return self._context.get_remaining_time_in_millis() / 1000


class MessageNotSettledError(HydrationError):
    """Raised from a record handler so that SQS delivers the message again (Powertools reports it)."""


class Batch:
    """One SQS batch: the manifest and ledger read up front, copies in threads, the state written once."""

    def __init__(self, deps: CopierDeps, deadline: Deadline, request_id: str, keys: list[str]) -> None:
        self._deps = deps
        self._settings = deps.settings
        self._deadline = deadline
        self._request_id = request_id
        self._lock = Lock()
        self.done: list[Done] = []
        self._held, self._failures = deps.lookup(keys) if keys else ({}, {})

    # ------------------------------------------------------------------ one message (event loop)

    async def handle(self, record: TransferRecord) -> str:
        message = record.body
        receive_count = int(record.attributes.ApproximateReceiveCount)
        if len(message.objects) > 1 and receive_count > 1:
            # The previous attempt at this message crashed or timed out: go on one key per message, so that a
            # key that brings the copier down ends in the DLQ alone.
            logger.warning("message delivered again; splitting it", run_id=message.run_id, keys=len(message.objects))
            self._add([Done(record, obj, Step.REQUEUE) for obj in message.objects])
            return "split"
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(self._deps.pool, self._process, record, obj) for obj in message.objects]
        dones = await asyncio.gather(*futures)
        self._add(dones)
        if len(message.objects) == 1 and dones[0].step in (Step.RETRY, Step.FAILED):
            self._backoff(dones[0])
            raise MessageNotSettledError(f"{dones[0].error_code}: {dones[0].error}")
        return ",".join(d.step.value for d in dones)

    def _add(self, dones: list[Done]) -> None:
        with self._lock:
            self.done += dones

    # ------------------------------------------------------------------ one object (a pool thread)

    def _process(self, record: TransferRecord, obj: ObjectRef) -> Done:
        message = record.body
        # Keys of this thread only (a batch may mix runs: redriven messages keep theirs).
        logger.thread_safe_append_keys(run_id=message.run_id, correlation_id=message.run_id)
        if self._deadline.remaining_seconds() < self._settings.deadline_margin_seconds:
            return Done(record, obj, Step.HANDOFF)
        entry = self._held.get(obj.key)
        if not obj.force and entry is not None and entry.holds(obj):
            logger.debug("already in the consumer bucket", key=obj.key, etag=obj.etag)
            return Done(record, obj, Step.SKIPPED)
        started = time.perf_counter()
        try:
            outcome = self._deps.copier.copy(self._request(message, obj), self._deadline)
        except SourceVanishedError:
            logger.warning("ObjectVanished", key=obj.key, run_id=message.run_id)
            return Done(record, obj, Step.VANISHED)
        except Exception as exc:
            return self._failed(record, obj, exc)
        if isinstance(outcome, Handoff):
            logger.info("copy handed on", key=obj.key, reason=outcome.reason)
            return Done(record, obj, Step.HANDOFF)
        return Done(record, obj, Step.TRANSFERRED, result=outcome, seconds=time.perf_counter() - started)

    def _request(self, message: TransferMessage, obj: ObjectRef) -> CopyRequest:
        return CopyRequest(
            source_bucket=message.bucket,
            source_key=obj.key,
            etag=obj.etag,
            last_modified=obj.last_modified,
            size=obj.size,
            version_id=obj.version_id,
            dest_bucket=self._settings.consumer_bucket,
            dest_key=self._settings.destination_prefix + obj.key,
            kms_key_id=self._settings.consumer_kms_key_id,
        )

    def _failed(self, record: TransferRecord, obj: ObjectRef, exc: Exception) -> Done:
        code = exc.code if isinstance(exc, ObjectTransferError) else type(exc).__name__
        receive_count = int(record.attributes.ApproximateReceiveCount)
        alone = len(record.body.objects) == 1
        final = alone and receive_count >= self._settings.max_receive_count
        step = Step.FAILED if final else Step.RETRY if alone else Step.REQUEUE
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
        return Done(record, obj, step, error_code=code, error=str(exc))

    def _backoff(self, done: Done) -> None:
        """Bring a failed one-key message back after its backoff; after its final attempt at once, so that SQS
        moves it to the DLQ on the next receive instead of after a whole visibility timeout."""
        seconds = 0 if done.step is Step.FAILED else self._delay(done.obj.attempts + done.receive_count)
        try:
            self._deps.queue.retry_later(done.record.receiptHandle, seconds)
        except Exception:  # the queue's visibility timeout still brings the message back
            logger.warning("could not shorten the retry delay", exc_info=True)

    def _delay(self, attempt: int) -> int:
        settings = self._settings
        return min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(0, attempt - 1))

    # ------------------------------------------------------------------ after the copies (main thread)

    def commit(self) -> set[str]:
        """Write the batch's state; returns the message ids that must be delivered again (a re-enqueue
        failed). Raises if the state cannot be written: then the whole batch is delivered again."""
        retry = self._requeue()
        now = self._deps.clock()
        transferred = [d for d in self.done if d.step is Step.TRANSFERRED and d.result is not None]
        if transferred:
            self._deps.manifest.put_many([_entry(d, now) for d in transferred])
        for done in (d for d in self.done if d.step is Step.FAILED):
            self._deps.ledger.record(
                FailureRecord.of(
                    done.obj,
                    bucket=done.message.bucket,
                    run_id=done.message.run_id,
                    error_code=done.error_code,
                    error_message=done.error,
                    attempts=done.obj.attempts + done.receive_count,
                    failed_at=now,
                )
            )
        runs_settled = self._settle()
        self._clear_ledger()
        for run_id in runs_settled:
            self._close(run_id)
        return retry

    def _requeue(self) -> set[str]:
        """Keys to continue in new messages: alone (failures, splits) or packed (handoffs)."""
        outgoing: list[Outgoing] = []
        by_run: dict[tuple[str, str, str], list[ObjectRef]] = {}
        for done in self.done:
            if done.step is Step.REQUEUE:
                after_failure = bool(done.error_code)
                obj = done.obj.model_copy(update={"attempts": done.obj.attempts + 1}) if after_failure else done.obj
                message = TransferMessage(run_id=done.message.run_id, bucket=done.message.bucket, objects=[obj])
                delay = min(900, self._delay(obj.attempts)) if after_failure else 0
                outgoing.append(Outgoing(message.to_body(), delay, tag=done.record.messageId))
            elif done.step is Step.HANDOFF:
                by_run.setdefault((done.message.run_id, done.message.bucket, done.record.messageId), []).append(
                    done.obj
                )
        for (run_id, bucket, message_id), objects in by_run.items():
            for message in pack(run_id, bucket, objects, self._settings.keys_per_message):
                outgoing.append(Outgoing(message.to_body(), 0, tag=message_id))
        if not outgoing:
            return set()
        failed = self._deps.queue.send(outgoing)
        for _, reason in failed:
            logger.error("could not re-enqueue; the message will be delivered again", error=reason)
        return {str(message.tag) for message, _ in failed}

    def _settle(self) -> list[str]:
        """Settle the keys that reached an outcome, per run; the runs in which something settled now."""
        per_run: dict[str, list[tuple[str, Outcome, int]]] = {}
        for done in self.done:
            outcome = done.step.outcome
            if outcome is not None:
                nbytes = done.result.bytes if done.result else 0
                per_run.setdefault(done.message.run_id, []).append((done.obj.key, outcome, nbytes))
        settled_in: list[str] = []
        for run_id, settlements in per_run.items():
            settled = self._deps.books.settle(run_id, settlements)
            if len(settled) < len(settlements):
                logger.info(
                    "keys already settled in their run (duplicate delivery)",
                    run_id=run_id,
                    duplicates=len(settlements) - len(settled),
                )
            if settled:
                settled_in.append(run_id)
        return settled_in

    def _clear_ledger(self) -> None:
        """A key that landed (or is gone) leaves the ledger, if its entry is for this version or an older one
        and is still the entry read at the start of the batch."""
        for done in self.done:
            failure = self._failures.get(done.obj.key)
            if failure is None or done.step not in (Step.TRANSFERRED, Step.SKIPPED, Step.VANISHED):
                continue
            landed = done.result.last_modified if done.result else done.obj.last_modified
            newer = done.step is Step.VANISHED or landed >= failure.last_modified
            if newer and self._deps.ledger.clear(done.obj.key, failure.failed_at):
                logger.info("key left the failure ledger", key=done.obj.key)

    def _close(self, run_id: str) -> None:
        try:
            run = self._deps.runs.get(run_id)
        except HydrationError:  # a run that expired from the table: nothing to close
            return
        closed = close_if_balanced(run, self._deps.closing, claimant=self._request_id)
        if closed is not None:
            logger.info("run closed by the copier that settled its last key", run_id=run_id, status=closed.status)

    def report(self) -> None:
        counts: Counter[Step] = Counter(d.step for d in self.done)
        for step, name in (
            (Step.TRANSFERRED, "ObjectsTransferred"),
            (Step.SKIPPED, "ObjectsSkipped"),
            (Step.VANISHED, "ObjectsVanished"),
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
            if done.step is Step.TRANSFERRED:
                metrics.add_metric(name="CopyLatency", unit=MetricUnit.Milliseconds, value=done.seconds * 1000)


def _entry(done: Done, now: datetime) -> ManifestEntry:
    assert done.result is not None
    return ManifestEntry(
        key=done.obj.key,
        etag=done.result.etag,
        last_modified=done.result.last_modified,
        size=done.result.bytes,
        version_id=done.obj.version_id,
        copied_at=now,
        checksum=done.result.checksum,
    )


def _keys_of(records: list[dict[str, Any]]) -> list[str]:
    """Keys of the well-formed records. A malformed one is logged here, naming the problem; the processor
    then fails it, so SQS retries it and finally moves it to the DLQ, where it can be inspected."""
    keys = []
    for record in records:
        try:
            keys += TransferMessage.model_validate_json(record.get("body", "")).keys
        except ValidationError as exc:
            logger.error(
                "MalformedTransferMessage",
                message_id=record.get("messageId"),
                error=describe_validation_error(exc),
                body=str(record.get("body"))[:500],
            )
        except (TypeError, AttributeError):
            logger.error("MalformedTransferMessage", message_id=record.get("messageId"), error="no body")
    return keys


def handle_batch(event: dict[str, Any], context: LambdaContext, deps: CopierDeps) -> dict[str, Any]:
    """Copy a batch; return `{"batchItemFailures": [...]}` naming exactly the records SQS must deliver again."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise HydrationError("the copier's event must be an SQS event with a Records list")
    batch = Batch(deps, ContextDeadline(context), context.aws_request_id, _keys_of(records))
    processor = AsyncBatchProcessor(event_type=EventType.SQS, model=TransferRecord, raise_on_entire_batch_failure=False)
    response = async_process_partial_response(
        event=event, record_handler=batch.handle, processor=processor, context=context
    )
    try:
        again = batch.commit()
    except Exception:
        # Copies may have landed but their state could not be written: deliver the whole batch again. The
        # copies are byte-identical and the books count a key once, so a redelivery is harmless.
        logger.exception("state commit failed; every record of the batch is delivered again")
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    batch.report()
    failures = list(response.get("batchItemFailures", []))
    failures += [{"itemIdentifier": message_id} for message_id in sorted(again)]
    return {"batchItemFailures": failures}
