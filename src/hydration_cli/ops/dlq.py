"""The transfer DLQ: peek without consuming, redrive per key/prefix (send first, then delete), or all of it
with an SQS message move task."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from hydration.models import FailureRecord, PartsMessage, TransferMessage
from hydration_cli.aws.queues import Queues, Received
from hydration_cli.deployment import Deployment
from hydration_cli.errors import WaitTimeoutError
from hydration_cli.ops import transfer_body
from hydration_cli.ops.failures import entries_for
from hydration_cli.outcome import ExitCode, Result

# Received messages stay hidden this long while we look at them, then we make them visible again at once.
# (Any receive, even with visibility 0, adds one to ApproximateReceiveCount; the DLQ has no redrive policy,
# so that count is informational only.)
PEEK_VISIBILITY = 30
REDRIVE_VISIBILITY = 60
MOVE_TASK_ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class DlqObject(BaseModel):
    """One object of a transfer message, with its failure ledger entry when it has one."""

    key: str
    size: int
    force: bool = False
    attempts: int = 0  # failed attempts in earlier messages
    failure: FailureRecord | None = None


class DlqMessage(BaseModel):
    message_id: str
    valid: bool
    problem: str | None = None  # why the body is not a transfer message
    run_id: str | None = None
    objects: list[DlqObject] = []
    receive_count: int = 0
    sent_at: datetime | None = None
    age_seconds: float | None = None


class QueuePeek(Result):
    """What a peek saw of a DLQ (exit 3 when it holds messages, visible or being looked at)."""

    queue_url: str
    visible: int
    in_flight: int

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.visible or self.in_flight else ExitCode.OK


class DlqPeek(QueuePeek):
    messages: list[DlqMessage]


class MoveTask(BaseModel):
    task_handle: str | None = None
    status: str
    moved: int = 0
    to_move: int | None = None
    failure_reason: str | None = None
    started_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.status in MOVE_TASK_ENDED


class RedriveReport(Result):
    mode: Literal["keys", "prefix", "all"]
    dry_run: bool
    selected: list[DlqMessage] = []  # sent back (in a dry run: would be), with the selected objects only
    split: int = 0  # several-object messages of which only some keys were selected: the rest stays in the DLQ
    invalid: list[DlqMessage] = []  # not transfer messages: reported, left in the DLQ
    left: int = 0  # valid messages not selected, left in the DLQ
    missing_keys: list[str] = []  # --key values with no message in the DLQ
    move_task: MoveTask | None = None  # --all (None: the DLQ was empty)

    @property
    def exit_code(self) -> ExitCode:
        if self.missing_keys or (self.move_task is not None and self.move_task.status == "FAILED"):
            return ExitCode.FAILURE
        pending = self.selected or (self.move_task is not None and self.move_task.to_move)
        return ExitCode.FOUND if self.dry_run and pending else ExitCode.OK


class QueueScan:
    """Receive every visible message of a queue once (hidden for `visibility` seconds), and make the ones
    still held visible again at the end (`release`), even if interrupted."""

    def __init__(self, queues: Queues, url: str, visibility: int) -> None:
        self._queues = queues
        self._url = url
        self._visibility = visibility
        self._held: dict[str, str] = {}

    def messages(self, expected: int, limit: int | None = None) -> Iterator[Received]:
        seen: set[str] = set()
        while len(seen) < expected and (limit is None or len(seen) < limit):
            want = 10 if limit is None else min(10, limit - len(seen))
            batch = self._queues.receive(self._url, max_messages=want, visibility=self._visibility)
            if not batch:
                return
            for message in batch:
                self._held[message.message_id] = message.receipt_handle
                if message.message_id in seen:
                    continue
                seen.add(message.message_id)
                yield message

    def delete(self, message: Received) -> None:
        self._queues.delete(self._url, self._held.pop(message.message_id))

    def release(self) -> None:
        handles = list(self._held.values())
        self._held.clear()
        self._queues.release(self._url, handles)


def _describe(message: Received, now: datetime) -> tuple[DlqMessage, TransferMessage | PartsMessage | None]:
    base = DlqMessage(
        message_id=message.message_id,
        valid=False,
        receive_count=message.receive_count,
        sent_at=message.sent_at,
        age_seconds=(now - message.sent_at).total_seconds() if message.sent_at else None,
    )
    try:
        body = transfer_body.parse(message.body)
    except transfer_body.InvalidBodyError as exc:
        return base.model_copy(update={"problem": str(exc)}), None
    objects = [DlqObject(key=o.key, size=o.size, force=o.force, attempts=o.attempts) for o in body.objects]
    return base.model_copy(update={"valid": True, "run_id": body.run_id, "objects": objects}), body


def _with_ledger(deployment: Deployment, messages: list[DlqMessage]) -> list[DlqMessage]:
    failures = entries_for(deployment, [o.key for m in messages for o in m.objects])
    for message in messages:
        for obj in message.objects:
            obj.failure = failures.get(obj.key)
    return messages


def peek(deployment: Deployment, max_messages: int, now: datetime) -> DlqPeek:
    """Up to `max_messages` DLQ messages with their keys and last errors; none is consumed."""
    current = deployment.queues.depth(deployment.dlq_url)
    scan = QueueScan(deployment.queues, deployment.dlq_url, PEEK_VISIBILITY)
    items: list[DlqMessage] = []
    try:
        for message in scan.messages(expected=current.visible, limit=max_messages):
            items.append(_describe(message, now)[0])
    finally:
        scan.release()
    return DlqPeek(
        queue_url=deployment.dlq_url,
        visible=current.visible,
        in_flight=current.in_flight,
        messages=_with_ledger(deployment, items),
    )


def redrive(
    deployment: Deployment,
    *,
    keys: list[str] | None = None,
    prefix: str | None = None,
    dry_run: bool = False,
    now: datetime,
) -> RedriveReport:
    """Only the selected keys go back to the transfer queue: each message is sent there first and deleted
    from the DLQ after, so an interruption leaves a duplicate (harmless: the copier is idempotent), never a
    loss. A several-object message with only some keys selected is split: the selected objects go to the
    transfer queue, the others back to the DLQ as a new message, then the original is deleted."""
    wanted = set(keys or [])

    def selected(key: str) -> bool:
        return key in wanted if keys else key.startswith(prefix or "")

    queues = deployment.queues
    visible = queues.depth(deployment.dlq_url).visible
    report = RedriveReport(mode="keys" if keys else "prefix", dry_run=dry_run)
    found: set[str] = set()
    scan = QueueScan(queues, deployment.dlq_url, PEEK_VISIBILITY if dry_run else REDRIVE_VISIBILITY)
    try:
        for message in scan.messages(expected=visible):
            item, body = _describe(message, now)
            if body is None:
                report.invalid.append(item)
                continue
            chosen = {key for key in body.keys if selected(key)}
            if not chosen:
                report.left += 1
                continue
            found |= chosen
            rest = set(body.keys) - chosen
            if not dry_run:
                queues.send(deployment.transfer_queue_url, transfer_body.only(body, chosen) if rest else message.body)
                if rest:
                    queues.send(deployment.dlq_url, transfer_body.only(body, rest))
                scan.delete(message)
            report.split += bool(rest)
            report.selected.append(item.model_copy(update={"objects": [o for o in item.objects if o.key in chosen]}))
    finally:
        scan.release()
    report.missing_keys = sorted(wanted - found)
    return report


# --------------------------------------------------------------------------- --all: SQS message move task


def redrive_all(deployment: Deployment, *, dry_run: bool) -> RedriveReport:
    """Every DLQ message back to the transfer queue with StartMessageMoveTask (server-side)."""
    visible = deployment.queues.depth(deployment.dlq_url).visible
    report = RedriveReport(mode="all", dry_run=dry_run)
    if not visible:
        return report
    if dry_run:
        report.move_task = MoveTask(status="DRY_RUN", to_move=visible)
        return report
    handle = deployment.queues.start_move_task(deployment.dlq_arn, deployment.transfer_queue_arn)
    report.move_task = MoveTask(task_handle=handle, status="RUNNING", to_move=visible)
    return report


def move_task_status(deployment: Deployment) -> MoveTask | None:
    task = deployment.queues.latest_move_task(deployment.dlq_arn)
    return MoveTask.model_validate(task, from_attributes=True) if task else None


def wait_move_task(
    deployment: Deployment,
    task: MoveTask,
    *,
    timeout: timedelta,
    interval: float,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    on_progress: Callable[[MoveTask], None] = lambda _: None,
) -> MoveTask:
    deadline = clock() + timeout
    while True:
        current = move_task_status(deployment) or task
        if task.task_handle and current.task_handle not in (None, task.task_handle):
            current = task  # a newer task on the same source: not ours
        on_progress(current)
        if current.ended:
            return current
        if clock() >= deadline:
            raise WaitTimeoutError(
                f"the move task is still {current.status} after {timeout} ({current.moved} moved); "
                f"it goes on: aws sqs list-message-move-tasks --source-arn {deployment.dlq_arn}"
            )
        sleep(interval)
