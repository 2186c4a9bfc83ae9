"""SQS: depth, receive without consuming, send, delete, and message move tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hydration.aws.queue import depth
from hydration.models import QueueDepth

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef


@dataclass(frozen=True)
class Received:
    """One received message: what the commands need of it, without boto3's shapes."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int = 0
    sent_at: datetime | None = None
    message_attributes: dict[str, str] = field(default_factory=dict)  # name -> string value


@dataclass(frozen=True)
class MoveTaskStatus:
    task_handle: str | None
    status: str
    moved: int
    to_move: int | None
    failure_reason: str | None
    started_at: datetime | None


def _received(message: MessageTypeDef) -> Received:
    attributes = message.get("Attributes", {})
    sent_ms = attributes.get("SentTimestamp")
    return Received(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent_ms) / 1000, UTC) if sent_ms else None,
        message_attributes={
            name: value.get("StringValue", "") for name, value in message.get("MessageAttributes", {}).items()
        },
    )


class Queues:
    def __init__(self, client: SQSClient) -> None:
        self._client = client

    def depth(self, url: str) -> QueueDepth:
        return depth(self._client, url)

    def receive(self, url: str, *, max_messages: int, visibility: int) -> list[Received]:
        """Up to `max_messages` (1-10) messages, hidden for `visibility` seconds. Long polling (1 s) asks
        every server: a short poll may miss messages."""
        response = self._client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [_received(m) for m in response.get("Messages", [])]

    def release(self, url: str, receipt_handles: list[str]) -> None:
        """Make received messages visible again at once."""
        for start in range(0, len(receipt_handles), 10):
            self._client.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(receipt_handles[start : start + 10])
                ],
            )

    def send(self, url: str, body: str) -> None:
        self._client.send_message(QueueUrl=url, MessageBody=body)

    def delete(self, url: str, receipt_handle: str) -> None:
        self._client.delete_message(QueueUrl=url, ReceiptHandle=receipt_handle)

    def start_move_task(self, source_arn: str, destination_arn: str) -> str:
        """StartMessageMoveTask (server-side); returns the task handle."""
        return self._client.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)["TaskHandle"]

    def latest_move_task(self, source_arn: str) -> MoveTaskStatus | None:
        results = self._client.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        if not results:
            return None
        task = results[0]
        started = task.get("StartedTimestamp")
        return MoveTaskStatus(
            task_handle=task.get("TaskHandle"),
            status=task.get("Status", "UNKNOWN"),
            moved=int(task.get("ApproximateNumberOfMessagesMoved", 0)),
            to_move=task.get("ApproximateNumberOfMessagesToMove"),
            failure_reason=task.get("FailureReason"),
            started_at=datetime.fromtimestamp(started / 1000, UTC) if started else None,
        )
