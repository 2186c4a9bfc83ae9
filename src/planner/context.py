"""What the planner's coordinator and workers work with: their dependencies, and a worker's budget (when to
checkpoint, when to hand its shard on)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hydration.closing import Closing
from hydration.errors import HydrationError
from hydration.ports import Books, Continuation, Deletions, Dispatch, Held, Ledger, Lookup, Runs, Shards
from hydration.settings import PlannerSettings
from planner.enqueue import Queue

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class PlannerDeps:
    settings: PlannerSettings
    producer_s3: S3Client
    consumer_s3: S3Client
    runs: Runs
    books: Books
    shards: Shards
    ledger: Ledger
    held: Held  # the manifest's entries (the ledger is read per shard)
    lookup: Lookup  # the manifest's and the ledger's entries (an inventory file's rows: not a key range)
    queue: Queue  # the transfer queue
    dispatch: Dispatch  # the planner workers' queue
    closing: Closing
    continuation: Continuation
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    deletions: Deletions | None = None  # guarded delete propagation (DELETE_MODE soft or hard)


class ShardLostError(HydrationError):
    """This worker can no longer write its shard (its lease passed to another worker, or the run stopped
    planning: an operator cancelled it, or another shard failed)."""


class Budget:
    """A worker's invocation: it hands its shard on when too little time is left (or, in tests, after a page
    budget), and checkpoints every `heartbeat_seconds` of work (which renews its lease).

    Too little is the configured margin, but never more than a quarter of the time the invocation started
    with: a margin as long as the function's timeout (60 s each: an allowed PlannerWorkerTimeout) would hand
    the shard on after every page, each hand-on a trip through the planner queue, and a shard handed on
    after every page never lists the pages a split needs."""

    def __init__(
        self,
        remaining_ms: Callable[[], int] | None,
        margin_seconds: int,
        max_pages: int = 0,
        *,
        heartbeat_seconds: float = 20.0,
    ) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_seconds * 1000
        if remaining_ms is not None:
            self._margin_ms = min(self._margin_ms, remaining_ms() // 4)
        self._max_pages = max_pages
        self._heartbeat_seconds = heartbeat_seconds
        self._last_beat = time.monotonic()
        self.beat: Callable[[], None] | None = None
        self.pages = 0

    @classmethod
    def of(cls, settings: PlannerSettings, remaining_ms: Callable[[], int]) -> Budget:
        return cls(
            remaining_ms,
            settings.checkpoint_margin_seconds,
            settings.max_pages_per_invocation,
            heartbeat_seconds=settings.heartbeat_seconds,
        )

    def page_done(self) -> None:
        self.pages += 1

    @property
    def exhausted(self) -> bool:
        if self._max_pages and self.pages >= self._max_pages:
            return True
        return self._remaining_ms is not None and self._remaining_ms() < self._margin_ms

    @property
    def room_for_another(self) -> bool:
        """The page after this one will be worked here (so fetching it ahead is not wasted)."""
        if self._max_pages and self.pages + 1 >= self._max_pages:
            return False
        return not self.exhausted

    def beat_due(self) -> bool:
        """Time to checkpoint (and renew the lease)."""
        if time.monotonic() - self._last_beat < self._heartbeat_seconds:
            return False
        self._last_beat = time.monotonic()
        return True
