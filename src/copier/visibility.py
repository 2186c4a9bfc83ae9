"""A visibility heartbeat: the messages a copier invocation works on stay invisible in short steps, so that a
crash (or a timeout) costs at most one step before SQS delivers them again, not the queue's visibility timeout.

Lambda's SQS event source mapping needs the queue's visibility timeout to be at least the function timeout
(it validates this), and AWS advises six times it, so that a batch Lambda is still retrying against throttling
does not come back meanwhile. That timeout is what a crashed invocation's messages wait for: with the template's
defaults (a 300 s copier), 35 minutes. So the queue keeps its long timeout for the time before the copier runs,
and the copier, first thing in its batch, sets its messages' visibility to `VISIBILITY_STEP_SECONDS` and extends
it by that step every third of a step while it works (ChangeMessageVisibilityBatch). When the process dies the
beats stop, and SQS delivers the messages again within a step.

A message leaves the heartbeat when the batch gives it a visibility of its own (a retry's backoff) or deletes it
(done early): both go through this object, under the same lock as a beat, so a beat never lands after them and
overwrites the backoff or touches a deleted message. The heartbeat stops (and its thread is joined) before the
invocation returns: Lambda freezes a returned process, and a beat thawed in a later invocation must not touch
this batch's messages.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Protocol, Self

from hydration.aws.queue import Outgoing
from hydration.observability import logger


class HeldQueue(Protocol):
    """The transfer queue as the heartbeat uses it (the copier's own calls pass through)."""

    def hold(self, receipt_handles: list[str], seconds: int) -> list[str]: ...
    def send(self, messages: list[Outgoing]) -> list[tuple[Outgoing, str]]: ...
    def retry_later(self, receipt_handle: str, seconds: int) -> None: ...
    def delete(self, receipt_handles: list[str]) -> None: ...


class Heartbeat:
    """Holds a batch's messages invisible in steps of `step_seconds`, beating every `interval_seconds` (a third
    of a step by default) on a thread of its own. Use it as the batch's queue: `send` passes through,
    `retry_later` and `delete` take the message out of the heartbeat first."""

    def __init__(
        self, queue: HeldQueue, records: Iterable[dict[str, Any]], step_seconds: int, interval_seconds: float = 0
    ) -> None:
        self._queue = queue
        self._step = step_seconds
        self._interval = interval_seconds or max(1.0, step_seconds / 3)
        self._lock = threading.Lock()  # held during a beat's calls and during the batch's own calls
        self._held: dict[str, str] = {}  # receipt handle -> message id, in the order received
        for record in records:
            if isinstance(record, dict) and isinstance(record.get("receiptHandle"), str):
                self._held[record["receiptHandle"]] = str(record.get("messageId"))
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """The first beat (before any copy starts), then the beats on a thread until `stop`."""
        self.beat()
        if self._held:
            self._thread = threading.Thread(target=self._beats, name="visibility-heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _beats(self) -> None:
        while not self._stopped.wait(self._interval):
            self.beat()

    # ------------------------------------------------------------------ the beat

    @property
    def held(self) -> list[str]:
        """The receipt handles the heartbeat still holds."""
        with self._lock:
            return list(self._held)

    def beat(self) -> None:
        """Every held message invisible for one more step from now. A message SQS refuses (deleted, or delivered
        to someone else since) is no longer held; a call that fails is tried again at the next beat (until then
        the previous step, or the queue's timeout, still holds the message)."""
        with self._lock:
            if self._stopped.is_set() or not self._held:
                return
            try:
                refused = self._queue.hold(list(self._held), self._step)
            except Exception:
                logger.warning("visibility heartbeat: could not extend the batch's messages", exc_info=True)
                return
            for handle in refused:
                message_id = self._held.pop(handle, None)
                logger.warning("visibility heartbeat: SQS refused to extend a message", message_id=message_id)

    # ------------------------------------------------------------------ the batch's own calls

    def send(self, messages: list[Outgoing]) -> list[tuple[Outgoing, str]]:
        return self._queue.send(messages)

    def hold(self, receipt_handles: list[str], seconds: int) -> list[str]:
        with self._lock:
            return self._queue.hold(receipt_handles, seconds)

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        with self._lock:
            self._held.pop(receipt_handle, None)
            self._queue.retry_later(receipt_handle, seconds)

    def delete(self, receipt_handles: list[str]) -> None:
        with self._lock:
            for handle in receipt_handles:
                self._held.pop(handle, None)
            self._queue.delete(receipt_handles)
