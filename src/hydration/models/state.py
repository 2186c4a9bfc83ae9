"""What the state tables hold per key: the books' tasks, the failure ledger and the manifest."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel

from hydration.models.common import S3Key, UtcDatetime
from hydration.models.messages import ObjectRef, SourceObject


class Origin(StrEnum):
    """Why a run asked for a key."""

    LISTING = "listing"  # selected by the listing
    LEDGER = "ledger"  # re-enqueued from the failure ledger
    RECONCILE = "reconcile"  # missing or different in the consumer bucket
    REQUEST = "request"  # named by the operator (trigger --key)


class Outcome(StrEnum):
    """How a key settles in a run's books (exactly one of these, once)."""

    TRANSFERRED = "transferred"
    SKIPPED = "skipped"  # the consumer already holds this version
    VANISHED = "vanished"  # the source is gone
    FAILED = "failed"  # final: the key is in the failure ledger

    @property
    def counter(self) -> str:
        return f"objects_{self.value}"


class Settlement(NamedTuple):
    """A key's outcome in a run, with what its copy cost (counted in the run's books)."""

    key: str
    outcome: Outcome
    bytes: int = 0  # transferred
    requests: int = 0  # S3 requests the copy made
    copy_ms: int = 0  # time spent copying it


class Task(SourceObject):
    """One key of a run's books: enqueued once, settled once."""

    run_id: str
    bucket: str  # the producer bucket
    force: bool = False
    origin: Origin = Origin.LISTING
    enqueued_at: UtcDatetime | None = None
    outcome: Outcome | None = None
    settled_at: UtcDatetime | None = None


class FailureRecord(SourceObject):
    """A key in the failure ledger: it failed for good in a run; every later run re-enqueues it (with the
    `force` it was first asked with) until a copy of this version or a newer one lands."""

    bucket: str
    run_id: str
    force: bool = False
    origin: Origin = Origin.LISTING
    error_code: str
    error_message: str
    attempts: int
    failed_at: UtcDatetime
    first_failed_at: UtcDatetime | None = None

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
            **obj.model_dump(include=set(SourceObject.model_fields)),
        )

    def to_ref(self) -> ObjectRef:
        return ObjectRef(force=self.force, **self.model_dump(include=set(SourceObject.model_fields)))


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
