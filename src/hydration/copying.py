"""The transfer port: what the copier asks of the transfer layer and what it gets back (no AWS calls here).

`hydration.aws.transfer.Copier` implements `Transfer`; services are typed against this module, so they can
be tested with a fake.

copy(request, deadline) -> CopyResult | Handoff
    Copies one source version to the consumer bucket and verifies it (`CopyResult.verified` says what was
    compared). Objects up to the multipart threshold take one call whatever the deadline; server-side, so do
    objects up to 5 GiB when the deadline leaves time for one CopyObject. Larger ones are multipart uploads
    whose progress is kept in the uploads table: the call copies parts while the deadline leaves time for one
    more and returns `Handoff(reason="deadline")` when it stops; calling `copy` again
    for the same key (a later invocation, the same or the re-pinned request) continues the same upload.
    At or above the fan-out threshold the call that creates the upload only does that and returns
    `Handoff(reason="fanout")`: hand its `parts_remaining` out to `copy_parts` calls (any split, any order,
    duplicates allowed). A later `copy` of that key copies parts itself like any resumed copy (so a caller
    that re-enqueues every Handoff still finishes, one invocation at a time). A source that changed since
    listing is copied in its current version (the `request` in a Handoff, and `etag`/`last_modified` in a
    CopyResult, say which version). `Handoff.progressed` is False when the call put nothing in the upload:
    a caller that sees that several times in a row fails the key (and aborts the upload) instead of handing
    it on forever.
    Raises SourceVanishedError (the source is gone; any upload was aborted) and ObjectTransferError.

copy_parts(request, upload_id, part_numbers, deadline) -> PartsOutcome
    Copies some parts of a fanned-out upload (`request` and `upload_id` from the Handoff) and records each.
    The call that finds every part recorded completes the upload, verifies it and returns the CopyResult:
    exactly one call gets it. See PartsOutcome for the other answers.

abort(request, upload_id=None)
    Aborts the key's multipart upload (the given one, or whatever the uploads table records) and forgets it.
    Call it when giving up on a key (its last attempt failed): nothing is left behind.

Errors and what the caller does:
- SourceVanishedError: settle the key as vanished; its upload is already aborted.
- SourceArchivedError: the source needs a restore (its storage class, tier, and whether a restore is running
  are on the error); settle the key as archived, never retry it; its upload is already aborted.
- ChecksumMismatchError (an ObjectTransferError): the copy did not match its source; the upload is already
  aborted, so a retry starts afresh. From `copy_parts` it means the key failed: later calls for that upload
  answer `upload_gone`.
- any other ObjectTransferError: retry later (the upload is kept and resumed); on the last attempt call
  `abort`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Deadline(Protocol):
    """How long the caller can still wait (its invocation's remaining time, minus what it needs after)."""

    def remaining_seconds(self) -> float: ...


@dataclass(frozen=True)
class CopyRequest:
    """One source version and where it goes. The version is pinned by `version_id` when the producer bucket
    is versioned, else by `etag` and `last_modified` (a metadata-only change keeps the ETag of a single-part
    object but moves its LastModified)."""

    source_bucket: str
    source_key: str
    etag: str
    last_modified: datetime
    size: int
    version_id: str | None
    dest_bucket: str
    dest_key: str
    kms_key_id: str
    # This version's full-object checksum when it is already at hand ("CRC32:<base64>": the manifest's, for a
    # version copied before and copied again by force): no request is made only to read it.
    known_checksum: str | None = None

    def pinned_to(self, etag: str, last_modified: datetime, size: int) -> CopyRequest:
        """The same object in another (its current) version."""
        return dataclasses.replace(self, etag=etag, last_modified=last_modified, size=size, known_checksum=None)


@dataclass(frozen=True)
class CopyResult:
    bytes: int
    requests: int  # S3 requests made by this call
    etag: str  # the source version actually copied (differs from the request's if the source changed)
    last_modified: datetime
    checksum: str | None  # the copy's full-object checksum, "CRC64NVME:<base64>" (or CRC32/CRC32C)
    verified: str  # what was compared, in a few words (for logs and the manifest)


class HandoffReason(StrEnum):
    DEADLINE = "deadline"  # not finished in time: call `copy` again (the object's message, re-enqueued)
    FANOUT = "fanout"  # large: hand `parts_remaining` out to `copy_parts` calls


@dataclass(frozen=True)
class Handoff:
    """A multipart copy that goes on in other calls. Nothing failed; the progress is in the uploads table."""

    reason: HandoffReason
    request: CopyRequest  # the version being copied: pass it back unchanged
    upload_id: str
    part_size: int
    part_count: int
    parts_remaining: tuple[int, ...]  # not yet in the upload; empty for a deadline handoff before completing
    requests: int = 0  # S3 requests made by the call that handed on (what the run's books count as its cost)
    # The call created the upload or put parts in it. False: it made no progress (no part fitted the time
    # left, or only the completion was left and did not fit): a caller bounds how often in a row that happens.
    progressed: bool = True


@dataclass(frozen=True)
class PartsOutcome:
    """What a `copy_parts` call did with the parts it was given.

    - `done`: the given parts that are in the upload now (copied by this call or earlier).
    - `remaining`: the given parts not started for lack of time: hand them out again.
    - `result`: set for the one call that completed the upload: settle the key with it.
    - `handoff`: the source changed, or the upload was aborted outside this system, so a new upload was
      started (or the new version copied at once, then `result` is set instead): hand it out like the
      first one.
    - `upload_gone`: the upload no longer exists (completed, failed or replaced, and reported by the call
      that did it): nothing to do for these parts.
    """

    done: tuple[int, ...] = ()
    remaining: tuple[int, ...] = ()
    result: CopyResult | None = None
    handoff: Handoff | None = None
    upload_gone: bool = False
    requests: int = 0  # S3 requests made by this call, when it did not complete the copy (else in `result`)


class Transfer(Protocol):
    def copy(self, request: CopyRequest, deadline: Deadline) -> CopyResult | Handoff: ...

    def copy_parts(
        self, request: CopyRequest, upload_id: str, part_numbers: tuple[int, ...], deadline: Deadline
    ) -> PartsOutcome: ...

    def abort(self, request: CopyRequest, upload_id: str | None = None) -> None: ...
