"""SQS adapter: enqueue transfer messages (SendMessageBatch, in parallel) and read the queue's depth."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from hydration.errors import EnqueueError
from hydration.models import QueueDepth, TransferMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch takes at most 10 entries


class Enqueuer:
    """Sends messages 10 to a call, several calls in flight; entries reported `Failed` are retried.

    Use as a context manager; `flush()` waits for everything sent so far (call it before a checkpoint).
    A key that still fails after every attempt is collected and raised as EnqueueError by `flush()`.
    """

    def __init__(self, client: SQSClient, queue_url: str, *, concurrency: int = 8, attempts: int = 5) -> None:
        self._client = client
        self._queue_url = queue_url
        self._attempts = attempts
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="enqueue")
        self._max_in_flight = concurrency * 4
        self._in_flight: deque[Future[list[tuple[str, str]]]] = deque()
        self._pending: list[TransferMessage] = []
        self._failed: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.sent = 0
        self.bytes = 0

    def __enter__(self) -> Enqueuer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)

    def put(self, message: TransferMessage) -> None:
        self._pending.append(message)
        if len(self._pending) == BATCH:
            self._submit()

    def flush(self) -> None:
        if self._pending:
            self._submit()
        while self._in_flight:
            self._collect(self._in_flight.popleft())
        if self._failed:
            failed, self._failed = self._failed, []
            raise EnqueueError(failed)

    def _submit(self) -> None:
        batch, self._pending = self._pending, []
        while len(self._in_flight) >= self._max_in_flight:  # bound memory: wait for the oldest calls
            done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                self._in_flight.remove(future)
                self._collect(future)
        self._in_flight.append(self._pool.submit(self._send, batch))

    def _collect(self, future: Future[list[tuple[str, str]]]) -> None:
        self._failed.extend(future.result())

    def _send(self, batch: list[TransferMessage]) -> list[tuple[str, str]]:
        """Send one batch; returns (key, reason) for entries that failed every attempt."""
        entries = {str(i): message for i, message in enumerate(batch)}
        reasons: dict[str, str] = {}
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(min(0.1 * 2**attempt, 5) * random.uniform(0.5, 1.0))
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": i, "MessageBody": m.to_body()} for i, m in entries.items()],
                )
            except (ClientError, BotoCoreError) as exc:  # botocore already retried throttling and 5xx
                reasons = {i: type(exc).__name__ + ": " + str(exc) for i in entries}
                continue
            for ok in response.get("Successful", []):
                message = entries.pop(ok["Id"])
                with self._lock:
                    self.sent += 1
                    self.bytes += message.size
            reasons = {f["Id"]: f"{f.get('Code')}: {f.get('Message', '')}" for f in response.get("Failed", [])}
            if not entries:
                return []
        return [(entries[i].key, reasons.get(i, "unknown")) for i in entries]


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
