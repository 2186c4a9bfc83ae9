"""The planner's enqueue pipeline: keys into the run's books first, then onto the transfer queue.

Keys are packed into sheets, one per transfer message (KEYS_PER_MESSAGE keys, 200 kB). Up to MAX_ACTIONS
sheets and claims are opened in one books transaction together with the checkpoint that covers them (a
planner worker's: its shard's position, the `StartAfter` of its next listing, and its counts, as of the last
key handed over: the walkers move them before they hand a key over). So a resumed shard starts exactly after
what was opened: no key is opened twice and none is skipped, without an item per key. The transactions go
one at a time, in order, each checkpoint expecting the one before (number `generation`; the sheets of
checkpoint n are named after it): another worker holding the shard stops this one (CheckpointMovedError)
before anything more is written or sent. The messages of opened sheets are sent on a
few threads; a message that cannot be sent (SQS refuses it, or keeps failing) fails its keys one by one: each
goes to the failure ledger and settles as failed, so the run goes on and the next run retries them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING, Any, Protocol

from hydration.aws.queue import Outgoing, send_messages
from hydration.models import FailureRecord, ObjectRef, Origin, Outcome, Settlement, Sheet, Task, body_cost
from hydration.models.messages import BODY_ROOM
from hydration.observability import logger
from hydration.ports import Books, Ledger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# sheets and claims per transaction (a put adds at most 2: with the counter and the checkpoint's 2 actions, 100)
MAX_ACTIONS = 96
MAX_TRANSACTION_BYTES = 3_000_000  # of sheets per transaction (DynamoDB's limit is 4 MB)
SEND_GROUP = 10  # messages per SendMessageBatch


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


class Checkpoint(Protocol):
    """What a checkpoint saves, and how (`books.open`'s `also`)."""

    @property
    def prefix(self) -> str:
        """Of the sheet ids: unique in the run."""
        ...

    def snapshot(self) -> Any:
        """Where the walk stands now (taken on the walker's thread when a checkpoint is cut)."""
        ...

    def actions(self, snapshot: Any, expected: int) -> list[Any]:
        """The write of `snapshot` as checkpoint number `expected + 1`, if number `expected` is the last one (and
        the conditions it needs: at most 2 actions)."""
        ...


class Enqueue:
    """Use as a context manager. `checkpoint()` cuts what was put so far with a checkpoint (without waiting);
    `flush()` does and waits for everything, raising what failed."""

    def __init__(
        self,
        run_id: str,
        bucket: str,
        books: Books,
        ledger: Ledger,
        queue: Queue,
        *,
        checkpoint: Checkpoint,
        generation: int,
        concurrency: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._run_id = run_id
        self._bucket = bucket
        self._books = books
        self._ledger = ledger
        self._queue = queue
        self._clock = clock
        self._checkpoint = checkpoint
        self.generation = generation  # the last checkpoint written
        self._opener = ThreadPoolExecutor(max_workers=1, thread_name_prefix="open")  # in order, one at a time
        self._senders = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="enqueue")
        self._max_in_flight = concurrency * 2
        self._opening: deque[Future[None]] = deque()
        self._sending: deque[Future[None]] = deque()
        self._sheets: list[list[Task]] = []
        self._sheet_bytes = 0
        self._claims: set[str] = set()  # keys claimed in what was put since the last checkpoint
        self._bytes = 0
        self._error: BaseException | None = None
        self._lock = Lock()
        self.totals = EnqueueTotals()

    def __enter__(self) -> Enqueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self._opener.shutdown(wait=True)
        self._senders.shutdown(wait=True)

    # ------------------------------------------------------------------ the walker's side

    def put(self, obj: ObjectRef, origin: Origin, *, claim: bool = False) -> None:
        """Hand a key over (after moving `progress` past it); `claim`: with a claim whatever its origin."""
        self._raise()
        claimed = claim or origin.claimed
        if claimed and obj.key in self._claims:
            return  # claimed already in this transaction (a listed ledger key, then the ledger's pass)
        task = Task.model_construct(
            run_id=self._run_id,
            bucket=self._bucket,
            key=obj.key,
            size=obj.size,
            etag=obj.etag,
            last_modified=obj.last_modified,
            version_id=obj.version_id,
            force=obj.force,
            origin=origin,
            enqueued_at=None,
            outcome=None,
            settled_at=None,
            sheet=None,
            slot=None,
            claim=claim,
        )
        cost = body_cost(obj)
        current = self._sheets[-1] if self._sheets else None
        if current is None or len(current) >= self._queue.keys_per_message or self._sheet_bytes + cost > BODY_ROOM:
            self._sheets.append([])
            self._sheet_bytes = 0
        self._sheets[-1].append(task)
        self._sheet_bytes += cost
        self._bytes += cost
        if claimed:
            self._claims.add(obj.key)
        if len(self._sheets) + len(self._claims) >= MAX_ACTIONS or self._bytes >= MAX_TRANSACTION_BYTES:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Open what was put so far, with a checkpoint at the current progress (in the order of the calls)."""
        self._raise()
        sheets, self._sheets, self._sheet_bytes, self._claims, self._bytes = self._sheets, [], 0, set(), 0
        while len(self._opening) >= 2:
            self._opening.popleft().result()
        self._opening.append(self._opener.submit(self._open, sheets, self._checkpoint.snapshot()))

    def flush(self) -> int:
        """Checkpoint, wait until everything is opened and sent; the last checkpoint's number. Raises what
        failed."""
        self.checkpoint()
        self.drain(raising=True)
        self._raise()
        return self.generation

    def drain(self, *, raising: bool = False) -> None:
        """Wait for what is in flight: the sheets opened are sent (a send whose failure could not be written
        down raises if `raising`; its keys stay unsettled, for the finalizer)."""
        while self._opening:
            self._opening.popleft().result()
        while self._sending:
            try:
                self._sending.popleft().result()
            except Exception:
                if raising:
                    raise
                logger.exception("a message could not be sent nor its keys failed", run_id=self._run_id)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    # ------------------------------------------------------------------ the opener's side (one thread)

    def _open(self, groups: list[list[Task]], snapshot: Any) -> None:
        if self._error is not None:
            return  # a checkpoint before this one failed: this one would not hold either
        expected = self.generation
        now = self._clock()
        run_id = self._run_id
        prefix = self._checkpoint.prefix
        sheets = [
            Sheet.of(run_id, f"{prefix}{expected + 1:08d}.{i:02d}", self._bucket, tasks, now)
            for i, tasks in enumerate(groups)
        ]
        try:
            opened = self._books.open(run_id, sheets, also=self._checkpoint.actions(snapshot, expected))
        except BaseException as exc:  # a books write that failed fails the shard (CheckpointMovedError: lost)
            self._error = exc
            return
        self.generation = expected + 1
        with self._lock:
            self.totals.opened += sum(len(sheet.tasks) for sheet in opened)
            self.totals.bytes += sum(task.size for sheet in opened for task in sheet.tasks)
            self.totals.from_ledger += sum(1 for s in opened for task in s.tasks if task.origin is Origin.LEDGER)
        for start in range(0, len(opened), SEND_GROUP):
            while len(self._sending) >= self._max_in_flight:
                self._sending.popleft().result()
            self._sending.append(self._senders.submit(self._send, opened[start : start + SEND_GROUP]))

    def _send(self, sheets: list[Sheet]) -> None:
        failed = send_messages(
            self._queue.client,
            self._queue.url,
            [Outgoing(body=sheet.message().to_body(), tag=sheet) for sheet in sheets],
            attempts=self._queue.attempts,
        )
        unsent = [(task, reason) for outgoing, reason in failed for task in outgoing.tag.tasks]  # type: ignore[attr-defined]
        for task, reason in unsent:
            logger.error("EnqueueFailed", key=task.key, run_id=task.run_id, error=reason)
            self._ledger.record(
                FailureRecord.of(
                    task,
                    bucket=task.bucket,
                    run_id=task.run_id,
                    error_code="EnqueueFailed",
                    error_message=reason,
                    attempts=0,
                    failed_at=self._clock(),
                )
            )
        if unsent:
            self._books.settle(
                self._run_id,
                [Settlement(task.key, Outcome.FAILED, sheet=task.sheet, slot=task.slot) for task, _ in unsent],
            )
        with self._lock:
            self.totals.failed += len(unsent)
