"""What the services need from the outside world, as small protocols.

The planner, copier and finalizer services are typed against these; the DynamoDB, S3, SQS and EventBridge
adapters in `hydration.aws` satisfy them, and the unit tests pass in-memory fakes (`tests/fakes.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from hydration.marker import Marker
from hydration.models import FailureRecord, ManifestEntry, RunRecord, RunStatus, Settlement, Sheet, Task


class Runs(Protocol):
    def get(self, run_id: str) -> RunRecord: ...
    def active(self) -> RunRecord | None: ...
    def create(self, run: RunRecord) -> None: ...
    def record_unstarted(self, run: RunRecord) -> bool: ...
    def checkpoint_action(self, run: RunRecord, expected: int) -> Any: ...  # an `also` for Books.open
    def finish_planning(self, run: RunRecord) -> bool: ...
    def fail(self, run_id: str, error: str) -> bool: ...
    def set_drain_seen(self, run_id: str, seen: datetime | None) -> None: ...
    def claim(self, run_id: str, claimant: str, stale_after: timedelta) -> bool: ...
    def release_claim(self, run_id: str, claimant: str) -> None: ...
    def close(
        self,
        run_id: str,
        claimant: str,
        status: RunStatus,
        failed_count: int,
        marker: datetime | None,
        unsettled_swept: int = 0,
    ) -> None: ...


class Books(Protocol):
    """A run's books: sheets opened once (with the caller's `also` actions, in one transaction: raises
    CheckpointMovedError if one does not hold), each slot settled once."""

    def open(self, run_id: str, sheets: Sequence[Sheet], *, also: Sequence[Any] = ()) -> list[Sheet]: ...
    def settle(self, run_id: str, settlements: Sequence[Settlement]) -> list[Settlement]: ...
    def add_costs(self, run_id: str, *, requests: int, copy_ms: int) -> None: ...
    def unsettled(self, run_id: str) -> Iterator[Task]: ...


class Ledger(Protocol):
    def record(self, failure: FailureRecord) -> None: ...
    def ensure(self, failure: FailureRecord) -> bool: ...
    def clear(self, key: str, seen_failed_at: datetime) -> bool: ...
    def __iter__(self) -> Iterator[FailureRecord]:
        """The entries runs re-enqueue and the marker stays before: failures, and archived keys whose restore
        was requested (`FailureRecord.retryable`); archived keys without one are listed by `archived`."""
        ...

    def archived(self) -> Iterator[FailureRecord]: ...


class Lookup(Protocol):
    """The manifest and ledger entries of some keys, in one read."""

    def __call__(self, keys: Iterable[str]) -> tuple[dict[str, ManifestEntry], dict[str, FailureRecord]]: ...


class Held(Protocol):
    """The manifest entries of some keys (for a caller that has read the failure ledger already)."""

    def __call__(self, keys: Iterable[str]) -> dict[str, ManifestEntry]: ...


class ManifestWriter(Protocol):
    def put_many(self, entries: list[ManifestEntry]) -> list[ManifestEntry]:
        """Write each entry where it says what the consumer holds (`ManifestEntry.precedence`); the entries
        contested by a copy of another version that wrote at the same time."""
        ...


class MarkerStore(Protocol):
    def read(self) -> Marker | None: ...
    def write(self, marker: Marker) -> None: ...


class RunEvents(Protocol):
    def run_ended(self, run: RunRecord) -> None: ...


class Continuation(Protocol):
    """Continues a planning run in a new planner invocation."""

    def continue_run(self, run_id: str) -> None: ...
