"""Copier: copy a batch of transfer messages, settle each key once in its run's books, close a run when its
books balance, and report exactly the records SQS must deliver again (copier.batch: the rules per object;
copier.commit: the state written after the copies)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from copier.batch import Batch
from copier.commit import commit
from copier.steps import ContextDeadline
from copier.visibility import Heartbeat
from hydration.aws.queue import Outgoing
from hydration.closing import Closing
from hydration.copying import Transfer
from hydration.errors import HydrationError
from hydration.models import TransferMessage, TransferRecord, describe_validation_error, parse_message
from hydration.observability import logger, tracer
from hydration.ports import Books, Ledger, Lookup, ManifestWriter, Runs
from hydration.settings import CopierSettings


class TransferQueue(Protocol):
    """The transfer queue, as the copier uses it."""

    def send(self, messages: list[Outgoing]) -> list[tuple[Outgoing, str]]: ...
    def retry_later(self, receipt_handle: str, seconds: int) -> None: ...
    def delete(self, receipt_handles: list[str]) -> None: ...
    def hold(self, receipt_handles: list[str], seconds: int) -> list[str]: ...


@dataclass
class CopierDeps:
    settings: CopierSettings
    copier: Transfer
    lookup: Lookup
    manifest: ManifestWriter
    ledger: Ledger
    books: Books
    runs: Runs
    queue: TransferQueue
    closing: Closing
    pool: ThreadPoolExecutor
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@tracer.capture_method(capture_response=False)  # a batch's failures may be larger than a trace segment
def handle_batch(event: dict[str, Any], context: LambdaContext, deps: CopierDeps) -> dict[str, Any]:
    """Copy a batch; return `{"batchItemFailures": [...]}` naming exactly the records SQS must deliver again.

    Messages delivered again (an earlier attempt failed, or died: a crash, a timeout) are suspects: one of
    them may bring the copier down again. The fresh messages go first, and are deleted as soon as their state
    is written; then the suspects, one at a time, each deleted once done, in an order that turns around at
    every delivery (by message id, ascending on even receive counts, descending on odd ones): a suspect left
    behind the one that kills the copier comes before it next time. So a key that kills the copier reaches
    the DLQ alone, and its neighbours land.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise HydrationError("the copier's event must be an SQS event with a Records list")
    # The batch's messages stay invisible in short steps while it runs (copier.visibility): a crash costs a step.
    with Heartbeat(deps.queue, records, deps.settings.visibility_step_seconds) as heartbeat:
        failed = _batch(records, context, replace(deps, queue=heartbeat))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _batch(records: list[dict[str, Any]], context: LambdaContext, deps: CopierDeps) -> list[str]:
    suspects = [r for r in records if _receive_count(r) > 1]
    if not suspects or len(records) == 1:
        failed = _run(records, context, deps)
    else:
        fresh = [r for r in records if _receive_count(r) <= 1]
        failed = _run(fresh, context, deps) if fresh else []
        _delete_done(fresh, failed, deps)
        for record in sorted(suspects, key=_turn_order):
            alone = _run([record], context, deps)
            failed += alone
            _delete_done([record], alone, deps)
    return failed


def _run(records: list[dict[str, Any]], context: LambdaContext, deps: CopierDeps) -> list[str]:
    """Copy these records and write their state; the message ids SQS must deliver again."""
    batch = Batch(deps, ContextDeadline(context, deps.settings.deadline_margin_seconds), _keys_of(records))
    processor = AsyncBatchProcessor(event_type=EventType.SQS, model=TransferRecord, raise_on_entire_batch_failure=False)
    response = async_process_partial_response(
        event={"Records": records}, record_handler=batch.handle, processor=processor, context=context
    )
    try:
        again = commit(batch, context.aws_request_id)
    except Exception:
        # Copies may have landed but their state could not be written: deliver these records again. The copies
        # are byte-identical and the books count a key once, so a redelivery is harmless.
        logger.exception("state commit failed; every record of the batch is delivered again")
        return [r["messageId"] for r in records]
    batch.report()
    return [str(f["itemIdentifier"]) for f in response.get("batchItemFailures", [])] + sorted(again)


def _keys_of(records: list[dict[str, Any]]) -> list[str]:
    """Keys of the well-formed objects messages (read with the manifest up front). A malformed record is
    logged here, naming the problem; the processor then fails it, so SQS retries it and finally moves it to the
    DLQ, where it can be inspected."""
    keys = []
    for record in records:
        try:
            message = parse_message(record.get("body", ""))
        except ValidationError as exc:
            logger.error(
                "MalformedTransferMessage",
                message_id=record.get("messageId"),
                error=describe_validation_error(exc),
                body=str(record.get("body"))[:500],
            )
            continue
        except (TypeError, AttributeError):
            logger.error("MalformedTransferMessage", message_id=record.get("messageId"), error="no body")
            continue
        if isinstance(message, TransferMessage):
            keys += message.keys
    return keys


def _receive_count(record: Any) -> int:
    try:
        return int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError, AttributeError):
        return 1


def _turn_order(record: dict[str, Any]) -> int:
    rank = int(hashlib.sha256(str(record.get("messageId")).encode()).hexdigest()[:12], 16)
    return rank if _receive_count(record) % 2 == 0 else -rank


def _delete_done(records: list[dict[str, Any]], failed: list[str], deps: CopierDeps) -> None:
    """Delete the messages that are done now rather than when the invocation returns (which it may not)."""
    done = [r["receiptHandle"] for r in records if r.get("messageId") not in failed and "receiptHandle" in r]
    if done:
        try:
            deps.queue.delete(done)
        except Exception:  # the event source mapping deletes them when the invocation returns
            logger.warning("could not delete finished messages early", exc_info=True)
