"""A run, as the runs table holds it: what it selects, where its listing stands, and its books."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from hydration.models.common import UtcDatetime
from hydration.models.requests import RunKind


class RunStatus(StrEnum):
    PLANNING = "PLANNING"
    DRAINING = "DRAINING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"
    INCOMPLETE = "INCOMPLETE"  # the books did not balance: the marker did not move
    CANCELLED = "CANCELLED"  # stopped by an operator: the marker did not move
    FAILED = "FAILED"  # planning failed: the marker did not move
    REFUSED = "REFUSED"  # asked for (under its own id) while another run was active: nothing started

    @property
    def active(self) -> bool:
        return self in (RunStatus.PLANNING, RunStatus.DRAINING)


TERMINAL = frozenset(status for status in RunStatus if not status.active)


class Drift(BaseModel):
    """What a reconcile run found."""

    missing: int = 0
    different: int = 0
    extra: int = 0
    first_missing: list[str] = Field(default_factory=list)
    first_different: list[str] = Field(default_factory=list)
    first_extra: list[str] = Field(default_factory=list)

    SAMPLE: ClassVar[int] = 10

    def note(self, kind: Literal["missing", "different", "extra"], key: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        sample: list[str] = getattr(self, f"first_{kind}")
        if len(sample) < self.SAMPLE:
            sample.append(key)


class Scope(BaseModel):
    """What the marker follows: the transfer prefixes (minimal: none inside another; `[""]` is the whole
    bucket) and the destination prefix. A run records the scope it covers and the marker it writes carries
    it, so the next run sees a scope changed since (hydration.scope)."""

    prefixes: list[str]
    destination_prefix: str = ""


class Bound(BaseModel):
    """Keys under `prefix` are selected from `since` on (None: every key), not from the run's `since`."""

    prefix: str
    since: UtcDatetime | None = None


def bound_for(key: str, since: datetime | None, bounds: list[Bound]) -> datetime | None:
    """The selection bound of `key`: that of the longest of `bounds` it falls under, else `since`."""
    if not bounds:
        return since
    found: Bound | None = None
    for bound in bounds:
        if key.startswith(bound.prefix) and (found is None or len(bound.prefix) > len(found.prefix)):
            found = bound
    return since if found is None else found.since


class Books(BaseModel):
    """A run's books: every key it enqueued is settled exactly once (counted by the books table's
    transactions, so duplicates and retries never count twice). Outcome counters are `objects_<outcome>`
    (`Outcome.counter`); the last five count the books' own writes (what they cost: `runs report`)."""

    keys_enqueued: int = 0
    bytes_enqueued: int = 0
    ledger_keys_enqueued: int = 0  # of keys_enqueued: re-enqueued from the failure ledger
    objects_transferred: int = 0
    objects_skipped: int = 0
    objects_vanished: int = 0
    objects_archived: int = 0  # settled archived: in the ledger, marked archived (not failures)
    objects_failed: int = 0
    bytes_transferred: int = 0
    s3_requests: int = 0  # made by the copies (what a run cost)
    copy_ms: int = 0  # time the copies took, summed
    sheets: int = 0  # books items opened (one per message)
    sheet_bytes: int = 0  # their sizes as DynamoDB counts them, summed
    sheet_settles: int = 0  # conditional updates that settled slots of a sheet
    claims: int = 0  # claim items (a ledger or requested key: opened once per run)
    book_transactions: int = 0  # transactions that moved the counters (each writes one counter item)

    COUNTERS: ClassVar[tuple[str, ...]]  # every field above: each is the sum of the run's counter items
    OUTCOME_PREFIX: ClassVar[str] = "objects_"  # `Outcome.counter`: one field per outcome, nothing else

    @property
    def keys_settled(self) -> int:
        return sum(getattr(self, name) for name in self.COUNTERS if name.startswith(self.OUTCOME_PREFIX))

    @property
    def keys_unsettled(self) -> int:
        return max(0, self.keys_enqueued - self.keys_settled)


Books.COUNTERS = tuple(Books.model_fields)


class RunRecord(Books):
    """A run, as stored in the runs table (its counters merged from the books' counter items)."""

    model_config = ConfigDict(validate_assignment=True)

    run_id: str
    status: RunStatus
    kind: RunKind
    watermark: UtcDatetime  # the marker moves here at most: listing start, or an in-flight upload's start
    since: UtcDatetime | None = None
    prefixes: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)  # kind "keys": the keys asked for
    force: bool = False
    dry_run: bool = False  # lists and counts, enqueues nothing (ends COMPLETED when its shards are done)
    inventory: str | None = None  # an inventory run: the report's manifest.json (s3://bucket/key)
    planning_complete: bool = False
    # Planning in shards (their totals are summed into the run when the last one is done).
    shards_cut: bool = False
    shards_open: int = 0
    shards_total: int = 0
    keys_listed: int = 0  # listed in scope (planner)
    keys_selected: int = 0  # selected by the run's rule (a dry run's count)
    bytes_selected: int = 0
    keys_unchanged: int = 0  # selected, but the consumer already holds that version: not enqueued
    ledger_keys_enqueued: int = 0
    list_calls: int = 0  # ListObjectsV2 calls that listed keys
    probes: int = 0  # ListObjectsV2 calls that found where to cut (discovery, probes)
    sample_keys: list[str] = Field(default_factory=list)  # a dry run's first selected keys
    previous_listing: str | None = None  # guarded deletes: the last run whose listing was complete
    deletes_seen: int = 0  # consumer keys found absent from the producer
    objects_deleted: int = 0
    deletes_refused: str | None = None  # why this run deleted nothing although it had candidates
    checkpoints: int = 0  # planning checkpoints written with sheets (summed from its shards)
    inflight_uploads: int = 0  # multipart uploads in flight in the producer bucket when the listing started
    held_back_by: str | None = None  # the key of the oldest of them, when it holds the watermark back
    scope: Scope | None = None  # the configured scope the run covers (None: a run started before it was recorded)
    bounds: list[Bound] = Field(default_factory=list)  # parts of the scope with their own selection bound
    previous_destination: str | None = None  # manifest entries recording no destination were written for it
    started_at: UtcDatetime
    heartbeat_at: UtcDatetime | None = None
    planned_by: str | None = None  # the planner request that created the run (its async retries resume it)
    ended_at: UtcDatetime | None = None
    drain_seen_empty_at: UtcDatetime | None = None
    failed_count: int | None = None  # keys in the failure ledger when the run ended
    unsettled_swept: int = 0  # keys that never settled, put in the ledger by the finalizer
    marker_written: UtcDatetime | None = None
    error: str | None = None
    drift: Drift | None = None
    ttl: int | None = None

    @property
    def balanced(self) -> bool:
        """Planning is done and every key it enqueued is settled: the run can close."""
        return self.planning_complete and self.keys_settled >= self.keys_enqueued

    def heartbeat(self) -> datetime:
        return self.heartbeat_at or self.started_at

    def since_for(self, key: str) -> datetime | None:
        """A key's selection bound: that of the longest of `bounds` it falls under, else the run's `since`."""
        return bound_for(key, self.since, self.bounds)

    def in_scope(self, key: str) -> bool:
        """The key lies within the configured scope the run covers (a narrowed scope leaves keys outside)."""
        return self.scope is None or any(key.startswith(prefix) for prefix in self.scope.prefixes)


class QueueDepth(BaseModel):
    visible: int
    in_flight: int
    delayed: int

    @property
    def empty(self) -> bool:
        return self.visible == 0 and self.in_flight == 0 and self.delayed == 0
