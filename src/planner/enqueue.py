"""The planner's enqueue pipeline: keys into the run's books first, then onto the transfer queue.

A key is opened in the books (a task, counted in keys_enqueued, in one transaction) before its message is
sent, so a key can never be settled without having been counted. A key the run already has (listed and in
the ledger, or a listing resumed after a crash) is not opened or sent twice. A message that cannot be sent
(SQS refuses it, or keeps failing) fails its keys one by one: each goes to the failure ledger and settles
as failed, so the run goes on and the next run retries them. Chunks are opened and sent on a few threads.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING

from hydration.aws.queue import Outgoing, send_messages
from hydration.models import FailureRecord, ObjectRef, Origin, Outcome, Settlement, Task, pack
from hydration.observability import logger
from hydration.ports import Books, Ledger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

CHUNK = 99  # keys per books transaction


@dataclass
class Queue:
    client: SQSClient
    url: str
    keys_per_message: int
    attempts: int = 5


@dataclass
class EnqueueTotals:
    opened: int = 0
    bytes: int = 0
    failed: int = 0
    from_ledger: int = 0


class Enqueue:
    """Use as a context manager; `flush()` waits for everything put so far (call it before a checkpoint)."""

    def __init__(
        self,
        run_id: str,
        bucket: str,
        books: Books,
        ledger: Ledger,
        queue: Queue,
        *,
        concurrency: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._run_id = run_id
        self._bucket = bucket
        self._books = books
        self._ledger = ledger
        self._queue = queue
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="enqueue")
        self._max_in_flight = concurrency * 2
        self._in_flight: list[Future[None]] = []
        self._pending: list[Task] = []
        self._lock = Lock()
        self.totals = EnqueueTotals()

    def __enter__(self) -> Enqueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)

    def put(self, obj: ObjectRef, origin: Origin) -> None:
        self._pending.append(
            Task(
                run_id=self._run_id,
                bucket=self._bucket,
                origin=origin,
                enqueued_at=self._clock(),
                **obj.model_dump(exclude={"attempts"}),
            )
        )
        if len(self._pending) >= CHUNK:
            self._submit()

    def flush(self) -> None:
        if self._pending:
            self._submit()
        in_flight, self._in_flight = self._in_flight, []
        for future in in_flight:
            future.result()  # a books write that failed fails the planning (the invocation is retried)

    def _submit(self) -> None:
        chunk, self._pending = self._pending, []
        while len(self._in_flight) >= self._max_in_flight:
            self._in_flight.pop(0).result()
        self._in_flight.append(self._pool.submit(self._open_and_send, chunk))

    def _open_and_send(self, chunk: list[Task]) -> None:
        created = self._books.open(self._run_id, chunk)
        refs = [ObjectRef(**task.model_dump(include=set(ObjectRef.model_fields) - {"attempts"})) for task in created]
        messages = pack(self._run_id, self._bucket, refs, self._queue.keys_per_message)
        failed = send_messages(
            self._queue.client,
            self._queue.url,
            [Outgoing(body=m.to_body(), tag=m) for m in messages],
            attempts=self._queue.attempts,
        )
        by_key = {task.key: task for task in created}
        unsent = [(by_key[obj.key], reason) for outgoing, reason in failed for obj in outgoing.tag.objects]  # type: ignore[attr-defined]
        for task, reason in unsent:
            logger.error("EnqueueFailed", key=task.key, run_id=self._run_id, error=reason)
            self._ledger.record(
                FailureRecord.of(
                    task,
                    bucket=self._bucket,
                    run_id=self._run_id,
                    error_code="EnqueueFailed",
                    error_message=reason,
                    attempts=0,
                    failed_at=self._clock(),
                )
            )
        if unsent:
            self._books.settle(self._run_id, [Settlement(task.key, Outcome.FAILED) for task, _ in unsent])
        with self._lock:
            self.totals.opened += len(created)
            self.totals.bytes += sum(task.size for task in created)
            self.totals.failed += len(unsent)
            self.totals.from_ledger += sum(1 for task in created if task.origin is Origin.LEDGER)
