"""Copier: copy the objects of one SQS batch, concurrently, and report exactly the records that failed.

Rules (docs/architecture.md):
- Idempotent: a key whose listed source version (ETag) is already in the consumer bucket, as the
  manifest records, is skipped; so are duplicate deliveries. The manifest is read once per batch
  (BatchGetItem) and written once per batch (BatchWriteItem), so a new object costs one S3 request
  (CopyObject) in server-side mode.
- A source that vanished (NoSuchKey) is counted (ObjectsVanished), logged, and not retried.
- A source that changed since listing (PreconditionFailed) is copied in its current version.
- Any other failure fails the record (SQS retries it). On its final attempt the key is written to the
  failure ledger before the message moves to the DLQ; a later success removes it.
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
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from hydration.aws.state import FailureLedger, Manifest, RunStore
from hydration.aws.transfer import Copier, CopyRequest, CopyResult
from hydration.errors import HydrationError, ObjectTransferError, SourceChangedError, SourceVanishedError
from hydration.models import (
    FailureRecord,
    ManifestEntry,
    TransferMessage,
    TransferRecord,
    describe_validation_error,
)
from hydration.observability import MetricUnit, logger, metrics
from hydration.settings import CopierSettings

CHANGED_RETRIES = 3


class Outcome(StrEnum):
    TRANSFERRED = "transferred"
    SKIPPED = "skipped"
    VANISHED = "vanished"
    FAILED = "failed"


@dataclass
class CopierDeps:
    copier: Copier
    manifest: Manifest
    ledger: FailureLedger
    runs: RunStore
    write_batch: Callable[[dict[str, list[dict[str, Any]]], dict[str, list[str]]], None]
    pool: ThreadPoolExecutor
    retry_later: Callable[[str, int], None] | None = None  # (receipt handle, seconds)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class _Settled:
    message: TransferMessage
    outcome: Outcome
    result: CopyResult | None = None
    etag: str | None = None  # the source version actually copied (differs from the listed one if it changed)
    seconds: float = 0.0
    final: bool = False  # a failure on the message's last attempt (the key went to the ledger and the DLQ)


class BatchSession:
    """One SQS batch: the manifest read up front, copies in threads, one state write at the end."""

    def __init__(self, settings: CopierSettings, deps: CopierDeps, records: list[dict[str, Any]]) -> None:
        self._settings = settings
        self._deps = deps
        self._lock = Lock()
        self.settled: list[_Settled] = []
        self._manifest, self._in_ledger = deps.manifest.get_with_failures(deps.ledger, _keys_of(records))

    # ------------------------------------------------------------------ one record (runs in a thread)

    def handle(self, record: TransferRecord) -> str:
        message = record.body
        receive_count = int(record.attributes.ApproximateReceiveCount)
        started = time.perf_counter()
        try:
            settled = self._copy(message)
        except Exception as exc:
            self._failed(message, exc, receive_count)
            self._backoff(record.receiptHandle, receive_count)
            raise
        settled.seconds = time.perf_counter() - started
        with self._lock:
            self.settled.append(settled)
        return settled.outcome.value

    def _copy(self, message: TransferMessage) -> _Settled:
        if message.key in self._settings.fault_keys:
            raise ObjectTransferError(message.key, "InjectedFault", "FAULT_KEYS names this key (test setting)")
        entry = self._manifest.get(message.key)
        if not message.force and entry is not None and entry.etag == message.etag:
            logger.debug("already in the consumer bucket", key=message.key, etag=message.etag)
            return _Settled(message, Outcome.SKIPPED)
        request = CopyRequest(
            source_bucket=message.bucket,
            source_key=message.key,
            etag=message.etag,
            size=message.size,
            version_id=message.version_id,
            dest_bucket=self._settings.consumer_bucket,
            dest_key=self._settings.destination_prefix + message.key,
            kms_key_id=self._settings.consumer_kms_key_id,
        )
        for attempt in range(CHANGED_RETRIES + 1):
            try:
                result = self._deps.copier.copy(request)
                return _Settled(message, Outcome.TRANSFERRED, result=result, etag=request.etag)
            except SourceVanishedError:
                logger.warning("ObjectVanished", key=message.key, run_id=message.run_id)
                return _Settled(message, Outcome.VANISHED)
            except SourceChangedError:
                if attempt == CHANGED_RETRIES:
                    raise
                try:
                    current = self._deps.copier.current(message.bucket, message.key)
                except SourceVanishedError:
                    logger.warning("ObjectVanished", key=message.key, run_id=message.run_id)
                    return _Settled(message, Outcome.VANISHED)
                logger.info(
                    "source changed since listing; copying its current version",
                    key=message.key,
                    listed_etag=request.etag,
                    current_etag=current.etag,
                )
                request = CopyRequest(**{**request.__dict__, "etag": current.etag, "size": current.size})
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, receipt_handle: str, receive_count: int) -> None:
        """Bring the record back after its backoff; after its final attempt at once, so that SQS moves it
        to the DLQ on the next receive instead of after a whole visibility timeout (which holds the run)."""
        if self._deps.retry_later is None:
            return
        settings = self._settings
        seconds = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (receive_count - 1))
        if receive_count >= settings.max_receive_count:
            seconds = 0
        try:
            self._deps.retry_later(receipt_handle, seconds)
        except Exception:  # the queue's visibility timeout still brings the message back
            logger.warning("could not shorten the retry delay", exc_info=True)

    def _failed(self, message: TransferMessage, exc: Exception, receive_count: int) -> None:
        code = exc.code if isinstance(exc, ObjectTransferError) else type(exc).__name__
        final = receive_count >= self._settings.max_receive_count
        logger.error(
            "ObjectTransferError",
            key=message.key,
            run_id=message.run_id,
            error_code=code,
            error=str(exc),
            receive_count=receive_count,
            final_attempt=final,
        )
        if final:
            # Written before the message moves to the DLQ: later runs re-enqueue it, the finalizer counts it.
            self._deps.ledger.record(
                FailureRecord.of(
                    message,
                    error_code=code,
                    error_message=str(exc),
                    attempts=receive_count,
                    failed_at=self._deps.clock(),
                )
            )
        with self._lock:
            self.settled.append(_Settled(message, Outcome.FAILED, final=final))

    # ------------------------------------------------------------------ after the batch (main thread)

    def commit(self) -> None:
        """Manifest entries for copies, ledger entries removed for settled keys: one BatchWriteItem call."""
        now = self._deps.clock()
        puts = [
            ManifestEntry(
                key=s.message.key,
                etag=s.etag or s.message.etag,
                size=s.result.bytes if s.result else s.message.size,
                version_id=s.message.version_id,
                copied_at=now,
                checksum=s.result.checksum if s.result else None,
            ).model_dump(mode="json", exclude_none=True)
            for s in self.settled
            if s.outcome is Outcome.TRANSFERRED
        ]
        # Only keys that are in the ledger need a delete (it is empty on a good day).
        cleared = [
            s.message.key for s in self.settled if s.outcome is not Outcome.FAILED and s.message.key in self._in_ledger
        ]
        self._deps.write_batch({self._deps.manifest.table: puts}, {self._deps.ledger.table: cleared})

    def report(self) -> None:
        """Metrics and run progress for the batch."""
        counts: Counter[Outcome] = Counter(s.outcome for s in self.settled)
        failed_finals = sum(1 for s in self.settled if s.final)
        transferred_bytes = sum(s.result.bytes for s in self.settled if s.result)
        metrics.add_metric(name="ObjectsTransferred", unit=MetricUnit.Count, value=counts[Outcome.TRANSFERRED])
        metrics.add_metric(name="ObjectsSkipped", unit=MetricUnit.Count, value=counts[Outcome.SKIPPED])
        metrics.add_metric(name="ObjectsVanished", unit=MetricUnit.Count, value=counts[Outcome.VANISHED])
        metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=failed_finals)
        metrics.add_metric(name="BytesTransferred", unit=MetricUnit.Bytes, value=transferred_bytes)
        for settled in self.settled:
            if settled.outcome is Outcome.TRANSFERRED:
                metrics.add_metric(name="CopyLatency", unit=MetricUnit.Milliseconds, value=settled.seconds * 1000)
        per_run: dict[str, Counter[str]] = {}
        for s in self.settled:
            counter = per_run.setdefault(s.message.run_id, Counter())
            counter[f"objects_{s.outcome.value}"] += 1
            if s.result:
                counter["bytes_transferred"] += s.result.bytes
            if s.final:
                counter["objects_failed_final"] += 1
        for run_id, counter in per_run.items():
            counter.pop("objects_failed", None)  # attempts that SQS retries are not failures of the run
            if "objects_failed_final" in counter:
                counter["objects_failed"] = counter.pop("objects_failed_final")
            self._deps.runs.add_progress(run_id, dict(counter))


def _keys_of(records: list[dict[str, Any]]) -> list[str]:
    """Keys of the well-formed records. A malformed one is logged here, naming the problem; the processor
    then fails it, so SQS retries it and finally moves it to the DLQ, where it can be inspected."""
    keys = []
    for record in records:
        try:
            keys.append(TransferMessage.model_validate_json(record.get("body", "")).key)
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


def handle_batch(
    event: dict[str, Any],
    context: LambdaContext,
    settings: CopierSettings,
    deps: CopierDeps,
) -> dict[str, Any]:
    """Copy a batch; return `{"batchItemFailures": [...]}` naming exactly the records that failed."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise HydrationError("the copier's event must be an SQS event with a Records list")
    session = BatchSession(settings, deps, records)
    loop_pool = deps.pool

    async def record_handler(record: TransferRecord) -> str:
        logger.set_correlation_id(record.body.run_id)
        return await asyncio.get_running_loop().run_in_executor(loop_pool, session.handle, record)

    processor = AsyncBatchProcessor(event_type=EventType.SQS, model=TransferRecord, raise_on_entire_batch_failure=False)
    response = async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    try:
        session.commit()
    except Exception:
        # The copies landed but the manifest/ledger could not be written: retry the whole batch. The
        # retried copies are byte-identical, so a redelivery is harmless, and nothing is reported done
        # that the state does not show.
        logger.exception("state commit failed; every record of the batch is retried")
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    session.report()
    return dict(response)
