"""SQS adapter: send transfer messages (SendMessageBatch with retries, per-message failures), read a queue's depth,
change a message's visibility (one, or a batch's held by the copier's heartbeat), and read a dead-letter queue
without consuming it."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from hydration.models import QueueDepth, ShardMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch takes at most 10 entries


@dataclass(frozen=True)
class Outgoing:
    """A message to send: its body, a delay, and whatever the caller wants back if it cannot be sent."""

    body: str
    delay_seconds: int = 0
    tag: object = None


def send_messages(
    client: SQSClient, queue_url: str, messages: list[Outgoing], attempts: int = 5
) -> list[tuple[Outgoing, str]]:
    """Send messages 10 to a SendMessageBatch call; entries reported `Failed` (or calls that fail) are retried
    with backoff (botocore already retries throttling and 5xx per call). Returns the messages that still
    could not be sent, with the reason: per-message failures, never an exception for all of them."""
    failed: list[tuple[Outgoing, str]] = []
    for start in range(0, len(messages), BATCH):
        entries = {str(i): message for i, message in enumerate(messages[start : start + BATCH])}
        reasons: dict[str, str] = {}
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(0.1 * 2**attempt, 5) * random.uniform(0.5, 1.0))
            try:
                response = client.send_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": i, "MessageBody": m.body, "DelaySeconds": m.delay_seconds} for i, m in entries.items()
                    ],
                )
            except (ClientError, BotoCoreError) as exc:
                reasons = {i: f"{type(exc).__name__}: {exc}" for i in entries}
                continue
            for ok in response.get("Successful", []):
                entries.pop(ok["Id"], None)
            reasons = {f["Id"]: f"{f.get('Code')}: {f.get('Message', '')}" for f in response.get("Failed", [])}
            for f in response.get("Failed", []):
                if f.get("SenderFault") and f["Id"] in entries:  # the entry itself is at fault: retrying cannot help
                    failed.append((entries.pop(f["Id"]), reasons[f["Id"]]))
            if not entries:
                break
        failed += [(message, reasons.get(i, "unknown")) for i, message in entries.items()]
    return failed


class TransferQueue:
    """The copier's view of the transfer queue: re-enqueue keys, shorten a failed message's retry delay, keep the
    messages it works on invisible (copier.visibility)."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self._url = url

    def send(self, messages: list[Outgoing]) -> list[tuple[Outgoing, str]]:
        return send_messages(self._client, self._url, messages)

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        retry_later(self._client, self._url, receipt_handle, seconds)

    def hold(self, receipt_handles: list[str], seconds: int) -> list[str]:
        """Received messages invisible for `seconds` from now (ChangeMessageVisibilityBatch, 10 a call). Returns
        the handles SQS refused (the message was deleted, or received again by another consumer); raises if a
        call fails as a whole."""
        refused: list[str] = []
        for start in range(0, len(receipt_handles), BATCH):
            chunk = receipt_handles[start : start + BATCH]
            response = self._client.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds} for i, h in enumerate(chunk)],
            )
            refused += [chunk[int(failed["Id"])] for failed in response.get("Failed", [])]
        return refused

    def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), BATCH):
            chunk = receipt_handles[start : start + BATCH]
            self._client.delete_message_batch(
                QueueUrl=self._url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
            )


class ShardQueue:
    """The planner workers' queue: one message per shard (`Dispatch`); returns the shard ids not sent."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self._url = url

    def __call__(self, run_id: str, shard_ids: list[str]) -> list[str]:
        messages = [Outgoing(body=ShardMessage(run_id=run_id, shard_id=i).to_body(), tag=i) for i in shard_ids]
        return [str(message.tag) for message, _ in send_messages(self._client, self._url, messages)]

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        retry_later(self._client, self._url, receipt_handle, seconds)

    def depth(self) -> QueueDepth:
        return depth(self._client, self._url)


def depth(client: SQSClient, queue_url: str) -> QueueDepth:
    attributes = client.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return QueueDepth(
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def retry_later(client: SQSClient, queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Make a received message visible again after `seconds` (its retry backoff)."""
    client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)


def peek(client: SQSClient, queue_url: str, limit: int, hold_seconds: int = 30) -> Iterator[str]:
    """The bodies of up to `limit` messages of a queue, left in it: each is received (hidden for
    `hold_seconds` so that the next receive returns others) and made visible again at the end."""
    handles: list[str] = []
    seen = 0
    try:
        while seen < limit:
            got = client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, limit - seen),
                VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not got:
                return
            for message in got:
                handles.append(message["ReceiptHandle"])
                seen += 1
                yield message["Body"]
    finally:
        for start in range(0, len(handles), BATCH):
            chunk = handles[start : start + BATCH]
            with contextlib.suppress(ClientError, BotoCoreError):  # else they come back after hold_seconds
                client.change_message_visibility_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)],
                )
