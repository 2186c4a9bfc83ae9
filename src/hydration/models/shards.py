"""A run's shards: the pieces of its selection that planner workers list, select and enqueue side by side.

A shard is a key range `(after, upto]` under one prefix (`hydration.keyspace`), or one data file of an S3
Inventory report, or the keys an operator named, or the failure ledger's keys that no range holds, or the
run's guarded deletions. It records its progress (`position`: the last key listed, the next listing's
`StartAfter`; `rows_done` for a report's file) and what it counted, each write conditional on the version
read, so a shard is worked by one worker at a time and a resumed shard starts exactly after what was
enqueued.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Field, Json

from hydration.keyspace import KeyRange
from hydration.models.common import S3Key, UtcDatetime
from hydration.models.runs import Bound, bound_for


class ShardStatus(StrEnum):
    OPEN = "OPEN"  # queued, or being worked (a lease names the worker)
    DONE = "DONE"
    FAILED = "FAILED"  # failed for good: the run fails, the marker stays


class ShardSource(StrEnum):
    LISTING = "listing"  # a key range of the producer bucket (reconcile: of both buckets, side by side)
    KEYS = "keys"  # keys an operator named (HEAD each)
    INVENTORY = "inventory"  # one data file of an S3 Inventory report
    LEDGER = "ledger"  # failure-ledger keys that no range of the run holds
    DELETES = "deletes"  # guarded delete propagation, once every listing shard is done


class InventoryFile(BaseModel):
    """One data file of an inventory report, as its manifest lists it."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    size: int = Field(ge=0)
    md5: str = Field(pattern=r"^[0-9a-f]{32}$")
    columns: list[str]  # the manifest's fileSchema: the CSV's columns, in order


class ShardCounts(BaseModel):
    """What a shard's worker counted; a run's planning totals are their sums."""

    keys_listed: int = 0  # listed (or read from the report) within the shard's range
    keys_selected: int = 0  # selected by the run's rule (a dry run counts these)
    bytes_selected: int = 0
    keys_unchanged: int = 0  # selected, but the consumer holds that version: not enqueued
    ledger_keys_enqueued: int = 0
    list_calls: int = 0  # ListObjectsV2 calls that listed the shard's keys (reconcile: both buckets')
    probes: int = 0  # one-key ListObjectsV2 calls made to split it
    splits: int = 0  # ranges it handed on while it ran
    hand_ons: int = 0  # times its worker checkpointed and handed it on before its deadline
    rows_read: int = 0  # inventory rows read (every row of the file, in scope or not)
    drift_missing: int = 0  # reconcile: listed in the producer, absent from the consumer
    drift_different: int = 0
    drift_extra: int = 0
    deletes_seen: int = 0  # consumer keys absent from the producer (delete candidates sighted)
    objects_deleted: int = 0
    deletes_kept: int = 0  # candidates the producer still answered for (HEAD 200): never deleted
    checkpoints: int = 0  # books transactions its workers opened with its checkpoint

    FIELDS: ClassVar[tuple[str, ...]] = (
        "keys_listed",
        "keys_selected",
        "bytes_selected",
        "keys_unchanged",
        "ledger_keys_enqueued",
        "list_calls",
        "probes",
        "splits",
        "hand_ons",
        "rows_read",
        "drift_missing",
        "drift_different",
        "drift_extra",
        "deletes_seen",
        "objects_deleted",
        "deletes_kept",
        "checkpoints",
    )

    def add(self, other: ShardCounts) -> None:
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class KeptCut(BaseModel):
    """What the last run over a set of prefixes left the next one: the boundaries where it found the key space
    dense enough to cut (`points`), and how many keys it listed under each prefix (`listed`; absent for a
    prefix it did not list, and in what runs before this was recorded kept)."""

    points: list[str] = Field(default_factory=list)
    listed: dict[str, int] = Field(default_factory=dict)

    def few(self, prefix: str, keys: int) -> bool:
        """The last run listed fewer than `keys` keys under the prefix."""
        return prefix in self.listed and self.listed[prefix] < keys


class Shard(ShardCounts):
    """One shard of a run, as the books table holds it."""

    run_id: str
    shard_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,200}$")
    source: ShardSource = ShardSource.LISTING
    prefix: str = ""
    after: str | None = None  # exclusive lower bound: the first listing's StartAfter (None: the prefix's start)
    upto: str | None = None  # inclusive upper bound (None: the prefix's end)
    position: str | None = None  # the last key listed: the next listing's StartAfter (None: from `after`)
    since: UtcDatetime | None = None  # the selection bound of its keys (None: every key)
    bounds: list[Bound] = Field(default_factory=list)  # parts with their own bound (the run's scope: a widened one)
    status: ShardStatus = ShardStatus.OPEN
    version: int = 0  # every write is conditional on the version read and moves it on
    owner: str | None = None  # the worker (its request id) holding the lease
    lease_until: UtcDatetime | None = None
    dispatched_at: UtcDatetime | None = None  # when a message for it was last sent
    keys: list[S3Key] = Field(default_factory=list)  # KEYS: the keys named
    file: InventoryFile | None = None  # INVENTORY: the data file
    rows_done: int = 0  # INVENTORY: rows of the file handled so far
    sample_keys: list[str] = Field(default_factory=list)  # a dry run's first selected keys
    first_drift: dict[str, list[str]] = Field(default_factory=dict)  # reconcile: the first keys of each kind
    error: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None

    SAMPLE: ClassVar[int] = 20

    def since_for(self, key: str) -> datetime | None:
        """A key's selection bound: that of the longest of `bounds` it falls under, else `since`."""
        return bound_for(key, self.since, self.bounds)

    @property
    def range(self) -> KeyRange:
        return KeyRange(self.prefix, self.after, self.upto)

    @property
    def remaining(self) -> KeyRange:
        """What is left to list: `(position, upto]`."""
        return KeyRange(self.prefix, self.position if self.position is not None else self.after, self.upto)

    @property
    def counts(self) -> ShardCounts:
        return ShardCounts(**{name: getattr(self, name) for name in ShardCounts.FIELDS})

    def leased(self, now: datetime) -> bool:
        return self.owner is not None and self.lease_until is not None and self.lease_until > now


class ShardMessage(BaseModel):
    """The planner queue's message: a shard for a planner worker (its state is in the books table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    kind: Literal["shard"] = "shard"
    run_id: str = Field(min_length=1)
    shard_id: str = Field(min_length=1)

    def to_body(self) -> str:
        return self.model_dump_json()


class ShardRecord(SqsRecordModel):
    """An SQS record whose body is a shard message (Powertools parser model)."""

    body: Json[ShardMessage]
