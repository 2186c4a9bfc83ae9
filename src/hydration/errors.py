"""Typed domain errors. Handlers map them to results in one place; nothing classifies errors by text."""

from __future__ import annotations


class HydrationError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidRequestError(HydrationError):
    """A payload, event or setting that cannot be acted upon. The message names the problem."""


class RunAlreadyActiveError(HydrationError):
    """A run is PLANNING or DRAINING: a new trigger starts nothing."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"run {run_id} is {status}; a new run starts once it has finished")
        self.run_id = run_id
        self.status = status


class RunNotFoundError(HydrationError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r}")
        self.run_id = run_id


class EnqueueError(HydrationError):
    """Keys that could not be enqueued after every retry: the run fails visibly."""

    def __init__(self, failed: list[tuple[str, str]]) -> None:
        keys = ", ".join(key for key, _ in failed[:5])
        super().__init__(f"{len(failed)} key(s) could not be enqueued after retries: {keys}")
        self.failed = failed


class MarkerFormatError(HydrationError):
    """The sync marker exists but its first line is not an ISO-8601 timestamp."""


class ObjectTransferError(HydrationError):
    """One object failed to copy. `code` is the S3/botocore error code (or our own)."""

    def __init__(self, key: str, code: str, message: str) -> None:
        super().__init__(f"{code}: {message} (key {key!r})")
        self.key = key
        self.code = code
        self.message = message


class ChecksumMismatchError(ObjectTransferError):
    """The copy's checksum differs from its source's: a failed copy, never a success."""

    def __init__(self, key: str, expected: str, actual: str) -> None:
        super().__init__(key, "ChecksumMismatch", f"the source has {expected}, the copy {actual}")
        self.expected = expected
        self.actual = actual


class SourceVanishedError(HydrationError):
    """The source object no longer exists (NoSuchKey): counted and logged, never retried forever."""

    def __init__(self, key: str) -> None:
        super().__init__(f"source object {key!r} no longer exists")
        self.key = key


class SourceArchivedError(HydrationError):
    """The source is in an archive storage class or access tier (S3: InvalidObjectState; moto:
    ObjectNotInActiveTierError): no copy can read it before a restore. Settled as archived, never retried."""

    def __init__(
        self, key: str, storage_class: str | None = None, archive_status: str | None = None, restoring: bool = False
    ) -> None:
        where = " ".join(part for part in (storage_class, archive_status) if part) or "an archive storage class"
        state = "its restore is still in progress" if restoring else "restore it to copy it (failures restore)"
        super().__init__(f"source object {key!r} is archived in {where}: {state}")
        self.key = key
        self.storage_class = storage_class
        self.archive_status = archive_status
        self.restoring = restoring


class SourceChangedError(HydrationError):
    """The source object's ETag no longer matches the listed one (PreconditionFailed)."""

    def __init__(self, key: str, expected_etag: str) -> None:
        super().__init__(f"source object {key!r} changed since it was listed (expected ETag {expected_etag})")
        self.key = key
        self.expected_etag = expected_etag


class CheckpointMovedError(HydrationError):
    """A planning checkpoint did not hold: the run left PLANNING (an operator cancelled it), or another
    invocation planning the same run moved its checkpoint. Nothing of the transaction was written; the
    invocation stops and sends nothing more."""
