"""What the state tables hold per key: the books' sheets and their tasks, the failure ledger and the manifest."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, Field

from hydration.models.common import S3Key, UtcDatetime, iso
from hydration.models.messages import ObjectRef, SourceObject, TransferMessage


class Origin(StrEnum):
    """Why a run asked for a key."""

    LISTING = "listing"  # selected by the listing
    LEDGER = "ledger"  # re-enqueued from the failure ledger
    RECONCILE = "reconcile"  # missing or different in the consumer bucket
    REQUEST = "request"  # named by the operator (trigger --key)

    @property
    def claimed(self) -> bool:
        """Opened with a claim on the key in the run's books (one small item), so that the run opens it once
        whichever of its passes reaches it: the failure ledger's keys (the listing may reach them too) and an
        operator's keys (a list without a position to resume from). The listing's and reconcile's own keys
        need none: the checkpoint that commits with their sheets says where to resume."""
        return self in (Origin.LEDGER, Origin.REQUEST)


class Outcome(StrEnum):
    """How a key settles in a run's books (exactly one of these, once)."""

    TRANSFERRED = "transferred"
    SKIPPED = "skipped"  # the consumer already holds this version
    VANISHED = "vanished"  # the source is gone
    ARCHIVED = "archived"  # the source is in an archive storage class or tier: in the ledger, marked archived
    FAILED = "failed"  # final: the key is in the failure ledger

    @property
    def counter(self) -> str:
        return f"objects_{self.value}"


class Settlement(NamedTuple):
    """A key's outcome in a run, with what its copy cost (counted in the run's books); `sheet` and `slot` say
    where the run's books hold the key (its message names them)."""

    key: str
    outcome: Outcome
    bytes: int = 0  # transferred
    requests: int = 0  # S3 requests the copy made
    copy_ms: int = 0  # time spent copying it
    sheet: str | None = None
    slot: int | None = None


class Archive(NamedTuple):
    """Where an archived source is, as S3 answered, for its ledger entry (`FailureRecord.of`)."""

    storage_class: str | None
    archive_status: str | None
    restore_requested_at: datetime | None  # a restore is in progress (requested then, or found running)
    archived: bool = True


class Task(SourceObject):
    """One key of a run's books (a slot of a sheet): enqueued once, settled once."""

    run_id: str
    bucket: str  # the producer bucket
    force: bool = False
    origin: Origin = Origin.LISTING
    enqueued_at: UtcDatetime | None = None
    outcome: Outcome | None = None
    settled_at: UtcDatetime | None = None
    sheet: str | None = None
    slot: int | None = None
    claim: bool = False  # opened with a claim whatever its origin (not stored: it matters when opened)

    @property
    def claimed(self) -> bool:
        return self.claim or self.origin.claimed

    def ref(self) -> ObjectRef:
        """The task as a message entry (its slot included), without validating again."""
        return ObjectRef.model_construct(
            key=self.key,
            size=self.size,
            etag=self.etag,
            last_modified=self.last_modified,
            version_id=self.version_id,
            force=self.force,
            attempts=0,
            slot=self.slot,
        )


class Sheet(BaseModel):
    """One transfer message's keys in a run's books: opened once with its keys (their slots are their places
    in `tasks`), each slot settled once; `pending` slots are not settled yet."""

    run_id: str
    id: str
    bucket: str  # the producer bucket
    tasks: list[Task]
    enqueued_at: UtcDatetime
    outcomes: dict[int, Outcome] = {}
    settled_at: UtcDatetime | None = None

    @classmethod
    def of(cls, run_id: str, sheet_id: str, bucket: str, tasks: list[Task], enqueued_at: datetime) -> Sheet:
        slotted = [
            task.model_copy(update={"sheet": sheet_id, "slot": slot, "run_id": run_id, "bucket": bucket})
            for slot, task in enumerate(tasks)
        ]
        return cls(run_id=run_id, id=sheet_id, bucket=bucket, tasks=slotted, enqueued_at=enqueued_at)

    @property
    def pending(self) -> int:
        return len(self.tasks) - len(self.outcomes)

    def without(self, keys: set[str]) -> Sheet | None:
        """The sheet without these keys (slots numbered again), or None if nothing is left."""
        kept = [task for task in self.tasks if task.key not in keys]
        if len(kept) == len(self.tasks):
            return self
        return Sheet.of(self.run_id, self.id, self.bucket, kept, self.enqueued_at) if kept else None

    def unsettled(self) -> list[Task]:
        return [task for task in self.tasks if task.slot not in self.outcomes]

    def settled_tasks(self) -> list[Task]:
        """Every task with its outcome (None: not settled) and the sheet's last settle time."""
        return [
            task.model_copy(
                update={
                    "outcome": self.outcomes.get(slot),
                    "settled_at": self.settled_at if slot in self.outcomes else None,
                }
            )
            for slot, task in enumerate(self.tasks)
        ]

    def message(self) -> TransferMessage:
        return TransferMessage(
            run_id=self.run_id, bucket=self.bucket, sheet=self.id, objects=[t.ref() for t in self.tasks]
        )


class FailureRecord(SourceObject):
    """A key in the failure ledger: it failed for good in a run; every later run re-enqueues it (with the
    `force` it was first asked with) until a copy of this version or a newer one lands.

    An archived entry (`archived`: the source is in GLACIER, DEEP_ARCHIVE or an Intelligent-Tiering archive
    tier, which no copy can read before a restore) is listed, not retried: runs re-enqueue it only once a
    restore was requested (`restore_requested_at`, `failures restore`), and it never holds the marker."""

    bucket: str
    run_id: str
    force: bool = False
    origin: Origin = Origin.LISTING
    error_code: str
    error_message: str
    attempts: int
    failed_at: UtcDatetime
    first_failed_at: UtcDatetime | None = None
    archived: bool = False
    storage_class: str | None = None  # archived: S3's StorageClass (GLACIER, DEEP_ARCHIVE, INTELLIGENT_TIERING)
    archive_status: str | None = None  # archived in Intelligent-Tiering: ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS
    restore_requested_at: UtcDatetime | None = None  # archived: a restore is requested or in progress

    @property
    def retryable(self) -> bool:
        """Runs re-enqueue it: a failure, or an archived key whose restore was requested."""
        return not self.archived or self.restore_requested_at is not None

    @classmethod
    def of(
        cls,
        obj: ObjectRef | Task,
        *,
        bucket: str,
        run_id: str,
        error_code: str,
        error_message: str,
        attempts: int,
        failed_at: datetime,
        origin: Origin = Origin.LISTING,
        archive: Archive | None = None,
    ) -> FailureRecord:
        return cls(
            bucket=bucket,
            run_id=run_id,
            force=obj.force,
            origin=obj.origin if isinstance(obj, Task) else origin,
            error_code=error_code,
            error_message=error_message[:1000],
            attempts=attempts,
            failed_at=failed_at,
            **(archive._asdict() if archive is not None else {}),
            **obj.model_dump(include=set(SourceObject.model_fields)),
        )

    def to_ref(self) -> ObjectRef:
        return ObjectRef(force=self.force, **self.model_dump(include=set(SourceObject.model_fields)))


class Precedence(StrEnum):
    """What a manifest write does to the entry already there (`ManifestEntry.precedence`)."""

    WRITE = "write"  # no entry, the same version, or this copy wrote the consumer object after the entry's
    KEEP = "keep"  # the entry's copy wrote the consumer object after this one did: this copy is superseded
    CONTESTED = "contested"  # two copies of different versions wrote at once: which one S3 kept is unknown


# Two copiers' clocks (Amazon Time Sync) agree to well under this; windows closer than it count as overlapping.
WRITE_CLOCK_MARGIN = timedelta(seconds=1)


class ManifestEntry(BaseModel):
    """What the consumer bucket holds for a key: the source version it was copied from."""

    key: S3Key
    etag: str
    last_modified: UtcDatetime | None = None
    size: int
    version_id: str | None = None
    copied_at: UtcDatetime
    checksum: str | None = None
    run_id: str | None = None  # the run whose copy wrote it (None: written before it was recorded)
    destination: str | None = None  # the DESTINATION_PREFIX it was copied under (None: before it was recorded)
    # The consumer object was written between these (the copier's clock around the call that wrote it).
    written_after: UtcDatetime | None = None
    written_before: UtcDatetime | None = None
    # Not stored: the `copied_at` of the entry this copy read before it began (None: there was none). Still
    # there when this entry is written, it was written before this copy began: replaced, whatever the clocks.
    replaces: str | None = Field(default=None, exclude=True)

    @property
    def token(self) -> str:
        """What a later copy remembers of this entry (`replaces`)."""
        return iso(self.copied_at)

    def same_version(self, other: ManifestEntry) -> bool:
        return self.etag == other.etag and _second(self.last_modified) == _second(other.last_modified)

    def precedence(self, old: ManifestEntry | None) -> Precedence:
        """Whether this entry may replace `old`. The manifest must say what the consumer bucket holds, which
        is what the *later write to the consumer object* left (S3: last writer wins), not the newer source
        version: a copy of an older version that was slow can land after a copy of the newer one. So entries
        are ordered by their write windows; two copies of different versions whose windows overlap leave the
        consumer holding either, and the entry cannot say which (the key is copied again: CONTESTED). The
        entry this copy read before it began is replaced without comparing clocks (its copy wrote before).
        An entry written before windows were recorded is ordered by source version."""
        if old is None or self.same_version(old) or (self.replaces is not None and self.replaces == old.token):
            return Precedence.WRITE
        mine, theirs = self._window(), old._window()
        if mine is None or theirs is None:  # written before windows were recorded: the source version decides
            if old.last_modified is None or self.last_modified is None or old.last_modified <= self.last_modified:
                return Precedence.WRITE
            return Precedence.CONTESTED
        if theirs[1] + WRITE_CLOCK_MARGIN < mine[0]:
            return Precedence.WRITE
        if mine[1] + WRITE_CLOCK_MARGIN < theirs[0]:
            return Precedence.KEEP
        return Precedence.CONTESTED

    def _window(self) -> tuple[datetime, datetime] | None:
        if self.written_after is None or self.written_before is None:
            return None
        return self.written_after, self.written_before

    def holds(self, obj: SourceObject, destination: str, previous_destination: str | None = None) -> bool:
        """The consumer holds this object under `destination`: an entry written for another destination
        prefix holds nothing; an entry recording none was written for `previous_destination` (the one the
        sync marker was made for, when the configuration changed since) or else for `destination`. Then the
        same object as a user sees it: same bytes (ETag) and same version (LastModified, which any rewrite
        moves, headers-only changes included). An entry without LastModified (written before it was
        recorded) holds nothing: the key is copied once more."""
        made_for = self.destination
        if made_for is None:
            made_for = destination if previous_destination is None else previous_destination
        if made_for != destination:
            return False
        if self.etag != obj.etag or self.last_modified is None:
            return False
        # S3 keeps LastModified to the second; listings and HEAD may render it with or without milliseconds.
        return self.last_modified.replace(microsecond=0) == obj.last_modified.replace(microsecond=0)


def _second(moment: datetime | None) -> datetime | None:
    """S3 keeps LastModified to the second; listings and HEAD may render it with or without milliseconds."""
    return None if moment is None else moment.replace(microsecond=0)
