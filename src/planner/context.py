"""What a planning invocation works with: its dependencies, and its budget (when to checkpoint, when to
show it is alive)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hydration.closing import Closing
from hydration.ports import Books, Continuation, Held, Ledger, Lookup, Runs
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
    ledger: Ledger
    lookup: Lookup
    queue: Queue
    closing: Closing
    continuation: Continuation
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    held: Held | None = None  # the manifest alone; without it `lookup` reads the ledger too, every page


class Budget:
    """When to checkpoint (too little invocation time left, or, in tests, a page budget spent), and a
    heartbeat every `heartbeat_seconds` of listing (`beat`: the enqueue writes a checkpoint with what it has):
    it shows the planner is alive, and a checkpoint that no longer holds tells it the run was cancelled."""

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
        self._max_pages = max_pages
        self._heartbeat_seconds = heartbeat_seconds
        self._last_beat = time.monotonic()
        self.beat: Callable[[], None] | None = None
        self.pages = 0

    def page_done(self) -> None:
        self.pages += 1
        if self.beat is not None and time.monotonic() - self._last_beat >= self._heartbeat_seconds:
            self._last_beat = time.monotonic()
            self.beat()

    @classmethod
    def of(cls, settings: PlannerSettings, remaining_ms: Callable[[], int]) -> Budget:
        return cls(
            remaining_ms,
            settings.checkpoint_margin_seconds,
            settings.max_pages_per_invocation,
            heartbeat_seconds=settings.heartbeat_seconds,
        )

    @property
    def exhausted(self) -> bool:
        if self._max_pages and self.pages >= self._max_pages:
            return True
        return self._remaining_ms is not None and self._remaining_ms() < self._margin_ms
