"""The source version a copy is pinned to, and the S3 requests of one copy.

Pinning. Every request for the source names the version asked for: its VersionId when given, else If-Match
on the ETag and If-Unmodified-Since on the LastModified (`Calls.head` and `Calls.get`, `copy_source` +
`copy_pin`). AWS ignores If-Unmodified-Since while If-Match holds (RFC 7232; LocalStack and moto do not), so
a metadata-only change (same ETag, later LastModified) is also caught by comparing the LastModified of every
HEAD and GET response with the pinned one. What identifies a version: `version_of`; whether a recorded
upload copies it: `copies`.

`Source` is the pinned version as a HEAD or GET answered, with its full-object CRC (or what it has instead);
`verdict` compares a copy's CRC with it, `result` is the CopyResult of a verified copy. `Calls` makes the S3
requests of one port call: counted, their errors typed (`translate`), the source read pinned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from hydration.aws import multipart
from hydration.aws import s3 as s3_adapter
from hydration.checksums import DEFAULT_ALGORITHM, Checksum, CrcAlgorithm
from hydration.copying import CopyRequest, CopyResult
from hydration.errors import (
    ChecksumMismatchError,
    ObjectTransferError,
    SourceArchivedError,
    SourceChangedError,
    SourceVanishedError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

    from hydration.aws.uploads import UploadRecord

SOURCE_GONE_CODES: Final = s3_adapter.NOT_FOUND_CODES | {"NoSuchVersion"}
# An archived source, not restored: S3 and LocalStack answer CopyObject, UploadPartCopy and GetObject with 403
# InvalidObjectState (its StorageClass and, in Intelligent-Tiering, AccessTier in the error); moto answers
# CopyObject with ObjectNotInActiveTierError, the code S3's API model documents for it.
SOURCE_ARCHIVED_CODES: Final = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})
RESTORE_IN_PROGRESS: Final = 'ongoing-request="true"'  # HeadObject's Restore (x-amz-restore) while restoring


@dataclass(frozen=True)
class Source:
    """The pinned source version as a HEAD or GET answered."""

    head: s3_adapter.ObjectHead
    checksum: Checksum | None  # its full-object CRC
    lacks: str  # what it has instead of one, when checksum is None

    @classmethod
    def of(cls, response: Any) -> Source:
        head = s3_adapter.object_head(response)
        for algorithm in CrcAlgorithm:
            text = response.get(algorithm.field)
            if not text:
                continue
            kind = response.get("ChecksumType") or ("COMPOSITE" if "-" in text else "FULL_OBJECT")
            if kind == "FULL_OBJECT" and "-" not in text:
                return cls(head, Checksum.from_base64(algorithm, text), "")
            return cls(head, None, f"a {kind} {algorithm} checksum")
        if response.get("ChecksumSHA256") or response.get("ChecksumSHA1"):
            return cls(head, None, "a SHA checksum only")
        return cls(head, None, "no checksum")

    @property
    def algorithm(self) -> CrcAlgorithm:
        """The CRC the copy gets: the source's, so that the two compare."""
        return self.checksum.algorithm if self.checksum else DEFAULT_ALGORITHM


def _pinned_source(request: CopyRequest) -> dict[str, Any]:
    """HeadObject/GetObject arguments naming the pinned source version."""
    where = {"Bucket": request.source_bucket, "Key": request.source_key}
    if request.version_id:
        return {**where, "VersionId": request.version_id}
    return {**where, "IfMatch": request.etag, "IfUnmodifiedSince": request.last_modified}


def copy_pin(request: CopyRequest) -> dict[str, Any]:
    if request.version_id:
        return {}  # in the copy source
    return {"CopySourceIfMatch": request.etag, "CopySourceIfUnmodifiedSince": request.last_modified}


def copy_source(request: CopyRequest) -> CopySourceTypeDef:
    source: CopySourceTypeDef = {"Bucket": request.source_bucket, "Key": request.source_key}
    if request.version_id:
        source["VersionId"] = request.version_id
    return source


def _check_version(request: CopyRequest, response: Any) -> None:
    """The response is of the pinned version (a metadata-only change keeps the ETag, moves LastModified)."""
    if request.version_id:
        return
    answered = request.pinned_to(response["ETag"], response["LastModified"], request.size)
    if version_of(answered) != version_of(request):
        raise SourceChangedError(request.source_key, request.etag)


def _version(
    bucket: str, key: str, size: int, version_id: str | None, etag: str, last_modified: datetime
) -> tuple[object, ...]:
    """What identifies a source version: its VersionId, else its ETag and LastModified (to the second)."""
    if version_id:
        return (bucket, key, size, version_id)
    return (bucket, key, size, etag.strip('"'), last_modified.replace(microsecond=0))


def version_of(request: CopyRequest) -> tuple[object, ...]:
    return _version(
        request.source_bucket, request.source_key, request.size, request.version_id, request.etag, request.last_modified
    )


def copies(record: UploadRecord, request: CopyRequest) -> bool:
    """The recorded upload copies the requested source version."""
    recorded = _version(
        record.source_bucket,
        record.source_key,
        record.size,
        record.source_version_id,
        record.source_etag,
        record.source_last_modified,
    )
    return recorded == version_of(request)


def translate(exc: ClientError, request: CopyRequest) -> Exception:
    """S3 errors that have a documented rule become typed errors; the rest carry their code."""
    code = s3_adapter.error_code(exc)
    if code in SOURCE_GONE_CODES:
        return SourceVanishedError(request.source_key)
    if code in s3_adapter.PRECONDITION_CODES:
        return SourceChangedError(request.source_key, request.etag)
    if code == multipart.NO_SUCH_UPLOAD:
        return multipart.UploadGoneError(request.dest_key)
    if code in SOURCE_ARCHIVED_CODES:
        answer: dict[str, Any] = {**exc.response.get("Error", {}), **exc.response}  # modeled fields: top level
        return SourceArchivedError(request.source_key, answer.get("StorageClass"), answer.get("AccessTier"))
    return ObjectTransferError(request.source_key, code, str(exc.response.get("Error", {}).get("Message", exc)))


def verdict(request: CopyRequest, source: Source, copy: Checksum | None, what: str) -> str:
    """What the copy was verified by; raises ChecksumMismatchError if its CRC differs from the source's."""
    if source.checksum is None:
        return f"size and pinned version (the source has {source.lacks})"
    if copy is None:
        return f"size and pinned version (S3 reported no {source.algorithm} for the copy)"
    if copy != source.checksum:
        raise ChecksumMismatchError(request.source_key, str(source.checksum), str(copy))
    return f"{what} equals the source's"


def result(source: Source, calls: Calls, checksum: Checksum | None, verified: str) -> CopyResult:
    return CopyResult(
        bytes=source.head.size,
        requests=calls.count,
        etag=source.head.etag,
        last_modified=source.head.last_modified,
        checksum=str(checksum) if checksum else None,
        verified=verified,
    )


class Calls:
    """The S3 requests one port call makes (its threads included): each counted, its errors typed; and the
    ones that read the source (`producer`: the producer role's client)."""

    def __init__(self, producer: S3Client) -> None:
        self._producer = producer
        self._lock = threading.Lock()
        self.count = 0

    def send(self, request: CopyRequest, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One S3 request, counted, its errors typed."""
        with self._lock:
            self.count += 1
        try:
            return call(*args, **kwargs)
        except ClientError as exc:
            raise translate(exc, request) from exc

    def head(self, request: CopyRequest) -> Source:
        """The pinned source version, with its full-object checksum."""
        return Source.of(self._pinned(request, self._producer.head_object, ChecksumMode="ENABLED"))

    def get(self, request: CopyRequest, **arguments: Any) -> Any:
        """GetObject of the pinned source version (`arguments`: a Range, a ChecksumMode)."""
        return self._pinned(request, self._producer.get_object, **arguments)

    def _pinned(self, request: CopyRequest, read: Callable[..., Any], **arguments: Any) -> Any:
        """A HEAD or GET that names the pinned version, its answer checked to be of it."""
        response = self.send(request, read, **arguments, **_pinned_source(request))
        _check_version(request, response)
        return response

    def tagging(self, request: CopyRequest) -> str:
        return self.send(
            request,
            s3_adapter.get_tagging,
            self._producer,
            request.source_bucket,
            request.source_key,
            request.version_id,
        )

    def archived(self, request: CopyRequest, refused: SourceArchivedError) -> SourceArchivedError:
        """An archived source as a HEAD describes it (HEAD reads any storage class): its StorageClass, its
        Intelligent-Tiering ArchiveStatus, and whether a restore is in progress (Restore). The refusal as it
        came if the HEAD fails."""
        extra = {"VersionId": request.version_id} if request.version_id else {}
        try:
            response = self.send(
                request, self._producer.head_object, Bucket=request.source_bucket, Key=request.source_key, **extra
            )
        except Exception:
            return refused
        return SourceArchivedError(
            request.source_key,
            response.get("StorageClass") or refused.storage_class,
            response.get("ArchiveStatus") or refused.archive_status,
            restoring=RESTORE_IN_PROGRESS in (response.get("Restore") or ""),
        )

    def current(self, request: CopyRequest) -> CopyRequest:
        """The request re-pinned to the source's current version."""
        extra = {"VersionId": request.version_id} if request.version_id else {}
        response = self.send(
            request, self._producer.head_object, Bucket=request.source_bucket, Key=request.source_key, **extra
        )
        return request.pinned_to(response["ETag"], response["LastModified"], response["ContentLength"])
