"""The transfer DLQ: peek without consuming, redrive per key/prefix (send first, then delete), or all of it
with an SQS message move task."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from hydration.aws.queue import depth
from hydration.models import TransferMessage, describe_validation_error
from hydration_cli.deployment import Deployment
from hydration_cli.errors import EmptyQueueError, NoMatchError, WaitTimeoutError

# Received messages stay hidden this long while we look at them, then we make them visible again at once.
# (Any receive, even with visibility 0, adds one to ApproximateReceiveCount; the DLQ has no redrive policy,
# so that count is informational only.)
PEEK_VISIBILITY = 30
REDRIVE_VISIBILITY = 60
MOVE_TASK_ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class DlqMessage(BaseModel):
    message_id: str
    valid: bool
    problem: str | None = None  # why the body is not a transfer message
    key: str | None = None
    run_id: str | None = None
    size: int | None = None
    receive_count: int = 0
    sent_at: datetime | None = None
    age_seconds: float | None = None
    # from the failure ledger (the copier writes the key there on its final attempt)
    error_code: str | None = None
    error_message: str | None = None
    attempts: int | None = None
    failed_at: datetime | None = None


class DlqPeek(BaseModel):
    queue_url: str
    visible: int
    in_flight: int
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


class RedriveReport(BaseModel):
    mode: Literal["keys", "prefix", "all"]
    dry_run: bool
    selected: list[DlqMessage] = []  # sent back to the transfer queue (or would be, in a dry run)
    invalid: list[DlqMessage] = []  # not transfer messages: reported, left in the DLQ
    left: int = 0  # valid messages not selected, left in the DLQ
    missing_keys: list[str] = []  # --key values with no message in the DLQ
    move_task: MoveTask | None = None  # --all


class _Scan:
    """Receive every visible message once (hidden for `visibility` seconds), and make the ones we keep
    visible again at the end (`release`), even if interrupted."""

    def __init__(self, sqs: Any, url: str, visibility: int) -> None:
        self._sqs = sqs
        self._url = url
        self._visibility = visibility
        self._held: dict[str, str] = {}

    def messages(self, expected: int, limit: int | None = None) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        while len(seen) < expected and (limit is None or len(seen) < limit):
            want = 10 if limit is None else min(10, limit - len(seen))
            batch = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=want,
                VisibilityTimeout=self._visibility,
                WaitTimeSeconds=1,  # long polling asks every server: short polls may miss messages
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return
            for message in batch:
                self._held[message["MessageId"]] = message["ReceiptHandle"]
                if message["MessageId"] in seen:
                    continue
                seen.add(message["MessageId"])
                yield message

    def delete(self, message: dict[str, Any]) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=self._held.pop(message["MessageId"]))

    def release(self) -> None:
        handles = list(self._held.values())
        self._held.clear()
        for start in range(0, len(handles), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(handles[start : start + 10])
                ],
            )


def _describe(message: dict[str, Any], now: datetime) -> tuple[DlqMessage, TransferMessage | None]:
    attributes = message.get("Attributes", {})
    sent_ms = attributes.get("SentTimestamp")
    sent_at = datetime.fromtimestamp(int(sent_ms) / 1000, UTC) if sent_ms else None
    base: dict[str, Any] = {
        "message_id": message["MessageId"],
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        "sent_at": sent_at,
        "age_seconds": (now - sent_at).total_seconds() if sent_at else None,
    }
    try:
        body = TransferMessage.model_validate_json(message.get("Body", ""))
    except ValidationError as exc:
        return DlqMessage(valid=False, problem=describe_validation_error(exc), **base), None
    size = sum(obj.size for obj in body.objects)
    return DlqMessage(valid=True, key=" ".join(body.keys), run_id=body.run_id, size=size, **base), body


def _with_ledger(deployment: Deployment, item: DlqMessage) -> DlqMessage:
    failure = deployment.ledger.get(item.key) if item.key else None
    if failure is None:
        return item
    return item.model_copy(
        update={
            "error_code": failure.error_code,
            "error_message": failure.error_message,
            "attempts": failure.attempts,
            "failed_at": failure.failed_at,
        }
    )


def _nonempty(deployment: Deployment) -> tuple[Any, int, int]:
    sqs = deployment.client("sqs")
    current = depth(sqs, deployment.dlq_url)
    if current.visible == 0:
        busy = f" ({current.in_flight} in flight: being looked at; try again in a minute)" if current.in_flight else ""
        raise EmptyQueueError(f"the transfer DLQ is empty{busy}")
    return sqs, current.visible, current.in_flight


def peek(deployment: Deployment, max_messages: int, now: datetime) -> DlqPeek:
    """Up to `max_messages` DLQ messages with their key and last error; none is consumed."""
    sqs, visible, in_flight = _nonempty(deployment)
    scan = _Scan(sqs, deployment.dlq_url, PEEK_VISIBILITY)
    items: list[DlqMessage] = []
    try:
        for message in scan.messages(expected=visible, limit=max_messages):
            item, _ = _describe(message, now)
            items.append(_with_ledger(deployment, item))
    finally:
        scan.release()
    return DlqPeek(queue_url=deployment.dlq_url, visible=visible, in_flight=in_flight, messages=items)


def redrive(
    deployment: Deployment,
    *,
    keys: list[str] | None = None,
    prefix: str | None = None,
    dry_run: bool = False,
    now: datetime,
) -> RedriveReport:
    """Only the selected messages go back to the transfer queue: each is sent there first and deleted from
    the DLQ after, so an interruption leaves a duplicate (harmless: the copier is idempotent), never a loss."""
    wanted = set(keys or [])

    def selected(key: str) -> bool:
        return key in wanted if keys else key.startswith(prefix or "")

    sqs, visible, _ = _nonempty(deployment)
    report = RedriveReport(mode="keys" if keys else "prefix", dry_run=dry_run)
    found: set[str] = set()
    scan = _Scan(sqs, deployment.dlq_url, PEEK_VISIBILITY if dry_run else REDRIVE_VISIBILITY)
    try:
        for message in scan.messages(expected=visible):
            item, body = _describe(message, now)
            if body is None:
                report.invalid.append(item)
                continue
            if not any(selected(key) for key in body.keys):
                report.left += 1
                continue
            found.update(body.keys)
            if not dry_run:
                sqs.send_message(QueueUrl=deployment.transfer_queue_url, MessageBody=message["Body"])
                scan.delete(message)
            report.selected.append(item)
    finally:
        scan.release()
    report.missing_keys = sorted(wanted - found)
    if not report.selected:
        what = f"--key {', '.join(sorted(wanted))}" if keys else f"--prefix {prefix!r}"
        raise NoMatchError(
            f"no message in the transfer DLQ matches {what} ({report.left} other message(s), "
            f"{len(report.invalid)} not valid transfer message(s))"
        )
    return report


# --------------------------------------------------------------------------- --all: SQS message move task


def _move_task(result: dict[str, Any]) -> MoveTask:
    started = result.get("StartedTimestamp")
    return MoveTask(
        task_handle=result.get("TaskHandle"),
        status=result.get("Status", "UNKNOWN"),
        moved=int(result.get("ApproximateNumberOfMessagesMoved", 0)),
        to_move=result.get("ApproximateNumberOfMessagesToMove"),
        failure_reason=result.get("FailureReason"),
        started_at=datetime.fromtimestamp(started / 1000, UTC) if started else None,
    )


def redrive_all(deployment: Deployment, *, dry_run: bool) -> RedriveReport:
    """Every DLQ message back to the transfer queue with StartMessageMoveTask (server-side)."""
    sqs, visible, _ = _nonempty(deployment)
    if dry_run:
        return RedriveReport(mode="all", dry_run=True, move_task=MoveTask(status="DRY_RUN", to_move=visible))
    handle = sqs.start_message_move_task(SourceArn=deployment.dlq_arn, DestinationArn=deployment.transfer_queue_arn)[
        "TaskHandle"
    ]
    return RedriveReport(
        mode="all", dry_run=False, move_task=MoveTask(task_handle=handle, status="RUNNING", to_move=visible)
    )


def move_task_status(deployment: Deployment) -> MoveTask | None:
    results = deployment.client("sqs").list_message_move_tasks(SourceArn=deployment.dlq_arn, MaxResults=1)
    tasks = results.get("Results", [])
    return _move_task(tasks[0]) if tasks else None


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
