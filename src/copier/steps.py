"""What happened to one object of one message in a copier invocation, and what has to follow from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from aws_lambda_powertools.utilities.typing import LambdaContext

from hydration.copying import CopyResult
from hydration.errors import SourceArchivedError
from hydration.models import ObjectRef, Outcome, PartsMessage, TransferMessage, TransferRecord


class Step(StrEnum):
    TRANSFERRED = "transferred"
    SKIPPED = "skipped"
    VANISHED = "vanished"
    ARCHIVED = "archived"  # the source needs a restore: ledger (marked archived), settled as archived
    FAILED = "failed"  # final: ledger, settled as failed
    RETRY = "retry"  # a one-key (or parts) message that SQS delivers again after its backoff
    REQUEUE = "requeue"  # re-enqueued alone: a failed key of a multi-key message, or a split
    CONTINUE = "continue"  # goes on in new messages (`then`): a large copy handed on, or its parts fanned out
    PARTS_DONE = "parts-done"  # a parts message done; the key settles when its upload completes

    @property
    def outcome(self) -> Outcome | None:
        return {
            Step.TRANSFERRED: Outcome.TRANSFERRED,
            Step.SKIPPED: Outcome.SKIPPED,
            Step.VANISHED: Outcome.VANISHED,
            Step.ARCHIVED: Outcome.ARCHIVED,
            Step.FAILED: Outcome.FAILED,
        }.get(self)


@dataclass
class Done:
    record: TransferRecord  # where it came from
    obj: ObjectRef  # the object (of a parts message: the version being copied)
    step: Step
    result: CopyResult | None = None
    error_code: str = ""
    error: str = ""
    seconds: float = 0.0
    requests: int = 0  # S3 requests of a copy that goes on (CONTINUE, PARTS_DONE); a settled copy's are in `result`
    landed_bytes: int = 0  # TRANSFERRED without a result: the size of a copy an earlier delivery made
    then: list[TransferMessage | PartsMessage] = field(default_factory=list)  # CONTINUE: the messages to send
    written: tuple[datetime, datetime] | None = None  # TRANSFERRED: the copy wrote the consumer object in between
    replaces: str | None = None  # TRANSFERRED: the manifest entry read before the copy began (its token)
    archived: SourceArchivedError | None = None  # ARCHIVED: where the source is, a restore in progress

    @property
    def run_id(self) -> str:
        return self.record.body.run_id

    @property
    def bucket(self) -> str:
        return self.record.body.bucket

    @property
    def sheet(self) -> str | None:
        """The object's sheet in its run's books (None: a message from before sheets, which settles nothing)."""
        return self.record.body.sheet

    @property
    def message_id(self) -> str:
        return self.record.messageId

    @property
    def receive_count(self) -> int:
        return int(self.record.attributes.ApproximateReceiveCount)

    @property
    def alone(self) -> bool:
        """The message stands for this object alone: SQS retries it (a one-key or a parts message)."""
        body = self.record.body
        return isinstance(body, PartsMessage) or len(body.objects) == 1


class ContextDeadline:
    """The time left for copying: the invocation's remaining time (Lambda context) minus what the batch needs
    afterwards to write its state (DEADLINE_MARGIN_SECONDS). A copy never starts, and a large copy stops and
    hands on, before it."""

    def __init__(self, context: LambdaContext, reserve_seconds: float) -> None:
        self._context = context
        self._reserve = reserve_seconds

    def remaining_seconds(self) -> float:
        return self._context.get_remaining_time_in_millis() / 1000 - self._reserve
