"""The copy primitives: one object from the producer bucket to the consumer bucket, verified against its
source. The port this implements, and its contract for callers: `hydration.copying`.

Modes (`hydration.settings.CopyMode`):
- server-side: CopyObject, or CreateMultipartUpload + UploadPartCopy, signed by the producer role; no object
  bytes pass through Lambda.
- stream: GetObject (ranged, per part) with the producer role, PutObject/UploadPart with the copier's own
  role; the bytes held at once are bounded by a ByteBudget, whatever the object size.
Both write SSE-KMS under the consumer key (bucket key on) and keep content headers, metadata and tags.

Pinning. Every request for the source names the version asked for: its VersionId when given, else If-Match
on the ETag and If-Unmodified-Since on the LastModified. AWS ignores If-Unmodified-Since while If-Match
holds (RFC 7232; LocalStack and moto do not), so a metadata-only change (same ETag, later LastModified) is
also caught by comparing the LastModified of every HEAD and GET response with the pinned one, and by a HEAD
just before a multipart upload is completed. A source that changed is copied in its current version (HEAD,
re-pin, at most CHANGED_RETRIES times); one that vanished raises SourceVanishedError.

Integrity. A copy carries a full-object CRC in the algorithm of its source's full-object checksum, so that
the two compare (CRC64NVME, S3's default, when the source has none); a difference is a ChecksumMismatchError,
raised before anything is written or completed wherever that is possible:
- server-side, single: CopyObject with ChecksumAlgorithm (S3 computes the copy's CRC), compared with the
  source's from a pinned HEAD.
- stream, single: the CRC computed while reading, compared before the PUT and sent with it (S3 verifies).
- multipart, both modes: the part CRCs S3 holds (computed by S3 for UploadPartCopy; ours, verified by S3,
  for UploadPart) are combined into the object's CRC, compared with the source's, and passed to
  CompleteMultipartUpload, where S3 checks the assembled object against it.
Where the source has no full-object CRC (none, a COMPOSITE multipart checksum, SHA only), the size and the
pinned version are what is verified. `CopyResult.verified` says what was compared.

Large objects. Above the multipart threshold a copy is a multipart upload recorded in the uploads table
(`hydration.aws.uploads`), so that it goes on across invocations: a part starts only while the deadline
leaves time to finish and record it; a later call continues the same upload (ListParts is the truth); at the
fan-out threshold the parts are handed out to `copy_parts` calls. An upload whose source changed or vanished,
or whose copy failed verification, is aborted; one that failed otherwise is kept for the retry, and the
caller aborts it when it gives up (`Copier.abort`). Completion is claimed in the uploads table, so it happens
once.
"""

from __future__ import annotations

import io
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError, FlexibleChecksumError

from hydration.aws import multipart
from hydration.aws import s3 as s3_adapter
from hydration.aws.uploads import UploadRecord, UploadStore
from hydration.checksums import DEFAULT_ALGORITHM, Checksum, CrcAlgorithm, RunningCrc, combine_parts
from hydration.copying import CopyRequest, CopyResult, Deadline, Handoff, HandoffReason, PartsOutcome
from hydration.errors import (
    ChecksumMismatchError,
    InvalidRequestError,
    ObjectTransferError,
    SourceChangedError,
    SourceVanishedError,
)
from hydration.observability import logger
from hydration.parts import MIB, PartPlan
from hydration.settings import CopyMode

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

CHANGED_RETRIES: Final = 3
# A completion (ListParts, a HEAD, CompleteMultipartUpload: up to minutes for an upload of thousands of parts
# on AWS) starts only with this much time left: 5 s, plus 50 ms a part, at most 60 s. Its claim outlives any
# invocation, so a completer that died frees it.
COMPLETE_SECONDS: Final = 60.0
COMPLETION_LEASE: Final = timedelta(minutes=15)
# A part starts only if the longest part of this call so far (before the first: its size at this pace)
# plus the time to record it still fit in the deadline.
ASSUMED_BYTES_PER_SECOND: Final = 10 * MIB
RECORD_SECONDS: Final = 1.0  # a DynamoDB write, with room to spare
READ_CHUNK: Final = 8 * MIB  # a GET body is read in chunks of this size

SOURCE_GONE_CODES: Final = s3_adapter.NOT_FOUND_CODES | {"NoSuchVersion"}


def _complete_seconds(part_count: int) -> float:
    return min(COMPLETE_SECONDS, 5.0 + 0.05 * part_count)


class ByteBudget:
    """Bounds the bytes streamed copies hold in memory across all threads of the container. A request
    larger than the whole budget waits until it can take all of it."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, amount: int) -> int:
        amount = min(amount, self._limit)
        with self._cond:
            self._cond.wait_for(lambda: self._used + amount <= self._limit)
            self._used += amount
        return amount

    def release(self, amount: int) -> None:
        with self._cond:
            self._used -= amount
            self._cond.notify_all()


class _Buffer(io.RawIOBase):
    """A read-only, seekable file over bytes in memory, without copying them: a request body (botocore
    rewinds it to retry)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        count = min(len(target), len(self._view) - self._position)
        target[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


class _RecordGoneError(Exception):
    """The uploads table no longer names this upload: another call completed, replaced or aborted it."""


class _Calls:
    """The S3 requests one port call makes (its threads included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


@dataclass(frozen=True)
class _Source:
    """The pinned source version as a HEAD or GET answered."""

    head: s3_adapter.ObjectHead
    checksum: Checksum | None  # its full-object CRC
    lacks: str  # what it has instead of one, when checksum is None

    @classmethod
    def of(cls, response: Any) -> _Source:
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


# --------------------------------------------------------------------------- pinning


def _pinned_source(request: CopyRequest) -> dict[str, Any]:
    """HeadObject/GetObject arguments naming the pinned source version."""
    where = {"Bucket": request.source_bucket, "Key": request.source_key}
    if request.version_id:
        return {**where, "VersionId": request.version_id}
    return {**where, "IfMatch": request.etag, "IfUnmodifiedSince": request.last_modified}


def _copy_pin(request: CopyRequest) -> dict[str, Any]:
    if request.version_id:
        return {}  # in the copy source
    return {"CopySourceIfMatch": request.etag, "CopySourceIfUnmodifiedSince": request.last_modified}


def _copy_source(request: CopyRequest) -> CopySourceTypeDef:
    source: CopySourceTypeDef = {"Bucket": request.source_bucket, "Key": request.source_key}
    if request.version_id:
        source["VersionId"] = request.version_id
    return source


def _check_version(request: CopyRequest, response: Any) -> None:
    """The response is of the pinned version (a metadata-only change keeps the ETag, moves LastModified)."""
    if request.version_id:
        return
    answered = request.pinned_to(response["ETag"], response["LastModified"], request.size)
    if _version_of(answered) != _version_of(request):
        raise SourceChangedError(request.source_key, request.etag)


def _version(
    bucket: str, key: str, size: int, version_id: str | None, etag: str, last_modified: datetime
) -> tuple[object, ...]:
    """What identifies a source version: its VersionId, else its ETag and LastModified (to the second)."""
    if version_id:
        return (bucket, key, size, version_id)
    return (bucket, key, size, etag.strip('"'), last_modified.replace(microsecond=0))


def _version_of(request: CopyRequest) -> tuple[object, ...]:
    return _version(
        request.source_bucket, request.source_key, request.size, request.version_id, request.etag, request.last_modified
    )


def _copies(record: UploadRecord, request: CopyRequest) -> bool:
    """The recorded upload copies the requested source version."""
    recorded = _version(
        record.source_bucket,
        record.source_key,
        record.size,
        record.source_version_id,
        record.source_etag,
        record.source_last_modified,
    )
    return recorded == _version_of(request)


def _translate(exc: ClientError, request: CopyRequest) -> Exception:
    """S3 errors that have a documented rule become typed errors; the rest carry their code."""
    code = s3_adapter.error_code(exc)
    if code in SOURCE_GONE_CODES:
        return SourceVanishedError(request.source_key)
    if code in s3_adapter.PRECONDITION_CODES:
        return SourceChangedError(request.source_key, request.etag)
    if code == multipart.NO_SUCH_UPLOAD:
        return multipart.UploadGoneError(request.dest_key)
    return ObjectTransferError(request.source_key, code, str(exc.response.get("Error", {}).get("Message", exc)))


def _verdict(request: CopyRequest, source: _Source, copy: Checksum | None, what: str) -> str:
    """What the copy was verified by; raises ChecksumMismatchError if its CRC differs from the source's."""
    if source.checksum is None:
        return f"size and pinned version (the source has {source.lacks})"
    if copy is None:
        return f"size and pinned version (S3 reported no {source.algorithm} for the copy)"
    if copy != source.checksum:
        raise ChecksumMismatchError(request.source_key, str(source.checksum), str(copy))
    return f"{what} equals the source's"


class Copier:
    """Implements `hydration.copying.Transfer`. Clients and the upload store are injected; thread-safe."""

    def __init__(
        self,
        *,
        producer_s3: S3Client,
        consumer_s3: S3Client,
        uploads: UploadStore,
        server_side: bool,
        multipart_threshold: int,
        fanout_threshold: int,
        part_size: int,
        parts_in_flight: int,
        byte_budget: ByteBudget | None = None,
    ) -> None:
        self._producer = producer_s3
        self._consumer = consumer_s3
        self._uploads = uploads
        self._mode = CopyMode.SERVER_SIDE if server_side else CopyMode.STREAM
        self._threshold = multipart_threshold
        self._fanout_threshold = fanout_threshold
        self._part_size = part_size
        self._parts_in_flight = parts_in_flight
        self._budget = byte_budget or ByteBudget(max(multipart_threshold, part_size * parts_in_flight) * 4)

    # ------------------------------------------------------------------ the port

    def copy(self, request: CopyRequest, deadline: Deadline) -> CopyResult | Handoff:
        calls = _Calls()
        for _ in range(CHANGED_RETRIES + 1):
            try:
                if request.size <= self._threshold:
                    return self._copy_single(request, calls)
                return self._copy_multipart(request, deadline, calls)
            except SourceChangedError:
                listed, request = request, self._current(request, calls)
                logger.info(
                    "source changed since listing; copying its current version",
                    key=request.source_key,
                    listed_etag=listed.etag,
                    current_etag=request.etag,
                )
        raise ObjectTransferError(
            request.source_key, "SourceKeepsChanging", f"changed {CHANGED_RETRIES + 1} times while being copied"
        )

    def copy_parts(
        self, request: CopyRequest, upload_id: str, part_numbers: tuple[int, ...], deadline: Deadline
    ) -> PartsOutcome:
        calls = _Calls()
        record = self._uploads.get(request.dest_key)
        if record is None or record.upload_id != upload_id:
            return PartsOutcome(upload_gone=True)
        request = request.pinned_to(record.source_etag, record.source_last_modified, record.size)
        wanted = tuple(sorted(set(part_numbers)))
        if not set(wanted) <= set(range(1, record.part_count + 1)):
            raise InvalidRequestError(f"{request.dest_key}: the upload has parts 1..{record.part_count}, not {wanted}")
        try:
            remaining, recorded = self._copy_parts(
                request, record, [n for n in wanted if n not in record.parts], deadline, calls
            )
            done = tuple(n for n in wanted if n not in remaining)
            if remaining or len(recorded or record.parts) < record.part_count:
                return PartsOutcome(done=done, remaining=remaining)
            result = self._complete(request, record, deadline, calls)
            if result is None and deadline.remaining_seconds() < _complete_seconds(record.part_count):
                # every part is in, but not the time to complete: `copy` finishes it in a later invocation
                return PartsOutcome(done=done, handoff=self._handoff(HandoffReason.DEADLINE, request, record, ()))
            return PartsOutcome(done=done, result=result)
        except _RecordGoneError:
            return PartsOutcome(upload_gone=True)
        except SourceChangedError:
            if not self._discard(record):
                return PartsOutcome(upload_gone=True)  # another call saw it first and restarted the copy
            return self._restarted(self._current(request, calls), deadline)
        except multipart.UploadGoneError:
            if not self._uploads.delete(record.key, record.upload_id):
                return PartsOutcome(upload_gone=True)
            logger.warning("multipart upload aborted outside the copier; starting again", key=request.dest_key)
            return self._restarted(request, deadline)
        except SourceVanishedError:
            self._discard(record)
            raise

    def abort(self, request: CopyRequest, upload_id: str | None = None) -> None:
        record = self._uploads.get(request.dest_key)
        if record is not None and upload_id in (None, record.upload_id):
            self._discard(record)
        elif upload_id is not None:
            multipart.abort(self._writer(self._mode), request.dest_bucket, request.dest_key, upload_id)

    # ------------------------------------------------------------------ source

    def _s3(self, calls: _Calls, request: CopyRequest, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One S3 request, counted, its errors typed."""
        calls.add()
        try:
            return call(*args, **kwargs)
        except ClientError as exc:
            raise _translate(exc, request) from exc

    def _head(self, request: CopyRequest, calls: _Calls) -> _Source:
        """The pinned source version, with its full-object checksum."""
        response = self._s3(
            calls, request, self._producer.head_object, ChecksumMode="ENABLED", **_pinned_source(request)
        )
        _check_version(request, response)
        return _Source.of(response)

    def _tagging(self, request: CopyRequest, calls: _Calls) -> str:
        return self._s3(
            calls,
            request,
            s3_adapter.get_tagging,
            self._producer,
            request.source_bucket,
            request.source_key,
            request.version_id,
        )

    def _current(self, request: CopyRequest, calls: _Calls) -> CopyRequest:
        """The request re-pinned to the source's current version."""
        extra = {"VersionId": request.version_id} if request.version_id else {}
        response = self._s3(
            calls, request, self._producer.head_object, Bucket=request.source_bucket, Key=request.source_key, **extra
        )
        return request.pinned_to(response["ETag"], response["LastModified"], response["ContentLength"])

    def _read(
        self, request: CopyRequest, response: Any, expected: int, algorithm: CrcAlgorithm
    ) -> tuple[_Buffer, Checksum]:
        """A GET's body, in chunks into one buffer (no second copy), and its CRC computed on the way."""
        buffer = bytearray(expected)
        view = memoryview(buffer)
        crc = RunningCrc(algorithm)
        filled = 0
        try:
            while chunk := response["Body"].read(READ_CHUNK):
                if filled + len(chunk) > expected:
                    raise ObjectTransferError(request.source_key, "SizeMismatch", f"more than {expected} bytes")
                view[filled : filled + len(chunk)] = chunk
                crc.update(chunk)
                filled += len(chunk)
        except FlexibleChecksumError as exc:  # botocore checked a whole object against its stored checksum
            raise ChecksumMismatchError(request.source_key, "its stored checksum", "different bytes") from exc
        if filled != expected:
            raise ObjectTransferError(request.source_key, "SizeMismatch", f"read {filled} bytes, expected {expected}")
        return _Buffer(view), crc.checksum

    def _writer(self, mode: str) -> S3Client:
        """Who signs the writes of an upload: the producer role (server-side) or the copier's own role."""
        return self._producer if mode == CopyMode.SERVER_SIDE else self._consumer

    @staticmethod
    def _result(source: _Source, calls: _Calls, checksum: Checksum | None, verified: str) -> CopyResult:
        return CopyResult(
            bytes=source.head.size,
            requests=calls.count,
            etag=source.head.etag,
            last_modified=source.head.last_modified,
            checksum=str(checksum) if checksum else None,
            verified=verified,
        )

    # ------------------------------------------------------------------ single requests

    def _copy_single(self, request: CopyRequest, calls: _Calls) -> CopyResult:
        if self._mode is CopyMode.SERVER_SIDE:
            return self._copy_object(request, calls)
        return self._get_and_put(request, calls)

    def _copy_object(self, request: CopyRequest, calls: _Calls) -> CopyResult:
        source = self._head(request, calls)
        algorithm = source.algorithm
        response = self._s3(
            calls,
            request,
            self._producer.copy_object,
            CopySource=_copy_source(request),
            Bucket=request.dest_bucket,
            Key=request.dest_key,
            MetadataDirective="COPY",
            TaggingDirective="COPY",
            ChecksumAlgorithm=algorithm.value,
            **_copy_pin(request),
            **s3_adapter.sse(request.kms_key_id),
        )
        copied = multipart.checksum_in(response.get("CopyObjectResult", {}), algorithm)
        verified = _verdict(request, source, copied, f"the {algorithm} S3 computed for the copy")
        return self._result(source, calls, copied, verified)

    def _get_and_put(self, request: CopyRequest, calls: _Calls) -> CopyResult:
        held = self._budget.acquire(max(request.size, 1))
        try:
            response = self._s3(
                calls, request, self._producer.get_object, ChecksumMode="ENABLED", **_pinned_source(request)
            )
            _check_version(request, response)
            source = _Source.of(response)
            body, local = self._read(request, response, source.head.size, source.algorithm)
            verified = _verdict(request, source, local, f"the {source.algorithm} computed while streaming")
            tagging = self._tagging(request, calls) if response.get("TagCount") else ""
            self._s3(
                calls,
                request,
                self._consumer.put_object,
                Bucket=request.dest_bucket,
                Key=request.dest_key,
                Body=body,
                ChecksumAlgorithm=local.algorithm.value,
                **{local.algorithm.field: local.base64},
                **s3_adapter.write_attributes(source.head, tagging),
                **s3_adapter.sse(request.kms_key_id),
            )
        finally:
            self._budget.release(held)
        return self._result(source, calls, local, f"{verified}; S3 verified the upload against it")

    # ------------------------------------------------------------------ multipart

    def _copy_multipart(self, request: CopyRequest, deadline: Deadline, calls: _Calls) -> CopyResult | Handoff:
        request, record, in_upload = self._open_upload(request, calls)
        plan = PartPlan(record.size, record.part_size)
        if in_upload is None and request.size >= self._fanout_threshold:
            return self._handoff(HandoffReason.FANOUT, request, record, tuple(plan.numbers()))
        # A recorded upload goes on here, fanned out or not: a copy is never only waiting for parts messages.
        remaining = tuple(n for n in plan.numbers() if n not in (in_upload or ()))
        try:
            remaining, _ = self._copy_parts(request, record, list(remaining), deadline, calls)
            if remaining:
                return self._handoff(HandoffReason.DEADLINE, request, record, remaining)
            result = self._complete(request, record, deadline, calls)
        except (SourceChangedError, SourceVanishedError):
            self._discard(record)
            raise
        except multipart.UploadGoneError as exc:
            self._uploads.delete(record.key, record.upload_id)
            raise ObjectTransferError(
                request.source_key, multipart.NO_SUCH_UPLOAD, "the multipart upload was aborted while it was copied"
            ) from exc
        except _RecordGoneError as exc:
            raise ObjectTransferError(
                request.source_key, "UploadSuperseded", "another invocation completed or replaced this upload"
            ) from exc
        return result or self._handoff(HandoffReason.DEADLINE, request, record, ())

    def _open_upload(
        self, request: CopyRequest, calls: _Calls
    ) -> tuple[CopyRequest, UploadRecord, frozenset[int] | None]:
        """The recorded upload of this key if it copies the source's current version, with the parts it holds;
        else a new one (and None for its parts)."""
        record = self._uploads.get(request.dest_key)
        if record is not None and not _copies(record, request):
            current = self._current(request, calls)
            if _copies(record, current):
                request = current  # the request was listed before the version being copied
            else:
                self._discard(record)
                record = None
                if _version_of(current) != _version_of(request):
                    raise SourceChangedError(request.source_key, request.etag)
        if record is not None:
            writer = self._writer(record.mode)
            algorithm = CrcAlgorithm(record.checksum_algorithm)
            try:
                held = self._s3(
                    calls, request, multipart.parts, writer, record.bucket, record.key, record.upload_id, algorithm
                )
                return request, record, frozenset(held) | record.parts
            except multipart.UploadGoneError:
                logger.warning("multipart upload aborted outside the copier; starting again", key=request.dest_key)
                self._uploads.delete(record.key, record.upload_id)
        return (request, *self._create_upload(request, calls))

    def _create_upload(self, request: CopyRequest, calls: _Calls) -> tuple[UploadRecord, frozenset[int] | None]:
        """A new upload, recorded (and None for its parts); or the one another invocation recorded meanwhile."""
        source = self._head(request, calls)
        tagging = self._tagging(request, calls)
        plan = PartPlan.for_object(request.size, self._part_size)
        writer = self._writer(self._mode)
        attributes = {**s3_adapter.write_attributes(source.head, tagging), **s3_adapter.sse(request.kms_key_id)}
        upload_id = self._s3(
            calls,
            request,
            multipart.create,
            writer,
            request.dest_bucket,
            request.dest_key,
            source.algorithm,
            attributes,
        )
        now = self._uploads.clock()
        record = UploadRecord(
            bucket=request.dest_bucket,
            key=request.dest_key,
            upload_id=upload_id,
            mode=self._mode.value,
            source_bucket=request.source_bucket,
            source_key=request.source_key,
            source_etag=source.head.etag,
            source_last_modified=source.head.last_modified,
            source_version_id=request.version_id,
            size=request.size,
            part_size=plan.part_size,
            part_count=plan.count,
            checksum_algorithm=source.algorithm.value,
            source_checksum=str(source.checksum) if source.checksum else None,
            created_at=now,
            updated_at=now,
        )
        if self._uploads.create(record):
            logger.info("multipart upload started", key=request.dest_key, upload_id=upload_id, parts=plan.count)
            return record, None
        # Another invocation recorded an upload for this key first: ours goes, theirs is used if it fits.
        self._s3(calls, request, multipart.abort, writer, request.dest_bucket, request.dest_key, upload_id)
        existing = self._uploads.get(request.dest_key)
        if existing is None or not _copies(existing, request):
            raise ObjectTransferError(
                request.source_key, "UploadConflict", "another invocation started an upload of this key meanwhile"
            )
        return existing, existing.parts

    def _discard(self, record: UploadRecord) -> bool:
        """Abort the upload and forget it; False if another call had already forgotten it."""
        try:
            multipart.abort(self._writer(record.mode), record.bucket, record.key, record.upload_id)
        except ClientError as exc:
            # The consumer bucket's lifecycle rule aborts it a day after it started; `s3-hydration uploads`
            # lists it meanwhile.
            logger.warning("AbortMultipartUpload failed", key=record.key, upload_id=record.upload_id, error=str(exc))
        return self._uploads.delete(record.key, record.upload_id)

    @staticmethod
    def _handoff(
        reason: HandoffReason, request: CopyRequest, record: UploadRecord, remaining: tuple[int, ...]
    ) -> Handoff:
        logger.info(
            "multipart copy handed off",
            key=request.dest_key,
            reason=reason.value,
            upload_id=record.upload_id,
            parts_remaining=len(remaining),
            part_count=record.part_count,
        )
        return Handoff(
            reason=reason,
            request=request,
            upload_id=record.upload_id,
            part_size=record.part_size,
            part_count=record.part_count,
            parts_remaining=remaining,
        )

    def _restarted(self, request: CopyRequest, deadline: Deadline) -> PartsOutcome:
        """A fanned-out copy whose upload is gone, started again (or done at once if now small)."""
        outcome = self.copy(request, deadline)
        if isinstance(outcome, Handoff):
            return PartsOutcome(handoff=outcome)
        return PartsOutcome(result=outcome)

    def _copy_parts(
        self, request: CopyRequest, record: UploadRecord, numbers: list[int], deadline: Deadline, calls: _Calls
    ) -> tuple[tuple[int, ...], frozenset[int] | None]:
        """Copy parts in order, `parts_in_flight` at a time, each recorded as it lands, while the deadline
        leaves time for one more. Returns the parts not started and the parts recorded after the last one.
        After a failure no part starts, the ones in flight finish (and are recorded), and it is raised."""
        part_size = record.part_size
        copy_part = self._copy_part if record.mode == CopyMode.SERVER_SIDE else self._stream_part
        queue = deque(numbers)
        pending: dict[Future[float], int] = {}
        longest: float | None = None
        recorded: frozenset[int] | None = None
        failure: BaseException | None = None

        def timed(number: int) -> float:
            started = time.monotonic()
            copy_part(request, record, number, calls)
            return time.monotonic() - started

        with ThreadPoolExecutor(max_workers=self._parts_in_flight, thread_name_prefix="part") as pool:
            while True:
                while queue and failure is None and len(pending) < self._parts_in_flight:
                    expected = longest if longest is not None else part_size / ASSUMED_BYTES_PER_SECOND
                    if deadline.remaining_seconds() < expected + RECORD_SECONDS:
                        break
                    number = queue.popleft()
                    pending[pool.submit(timed, number)] = number
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                landed = set()
                for future in finished:
                    number = pending.pop(future)
                    try:
                        seconds = future.result()
                    except Exception as exc:
                        failure = failure or exc
                        continue
                    longest = max(longest or 0.0, seconds)
                    landed.add(number)
                if landed:  # one write for the parts that landed together (the item is written often)
                    recorded = self._uploads.add_parts(record.key, record.upload_id, landed)
                    if recorded is None:
                        failure = failure or _RecordGoneError(record.upload_id)
        if failure is not None:
            raise failure
        return tuple(queue), recorded

    def _copy_part(self, request: CopyRequest, record: UploadRecord, number: int, calls: _Calls) -> None:
        """UploadPartCopy: S3 copies the byte range and keeps its CRC (the upload's algorithm)."""
        first, last = PartPlan(record.size, record.part_size).byte_range(number)
        self._s3(
            calls,
            request,
            self._producer.upload_part_copy,
            CopySource=_copy_source(request),
            CopySourceRange=f"bytes={first}-{last}",
            Bucket=request.dest_bucket,
            Key=request.dest_key,
            UploadId=record.upload_id,
            PartNumber=number,
            **_copy_pin(request),
        )

    def _stream_part(self, request: CopyRequest, record: UploadRecord, number: int, calls: _Calls) -> None:
        """Ranged GET + UploadPart with the part's CRC computed here (S3 verifies it)."""
        algorithm = CrcAlgorithm(record.checksum_algorithm)
        first, last = PartPlan(record.size, record.part_size).byte_range(number)
        held = self._budget.acquire(last - first + 1)
        try:
            response = self._s3(
                calls, request, self._producer.get_object, Range=f"bytes={first}-{last}", **_pinned_source(request)
            )
            _check_version(request, response)
            data, crc = self._read(request, response, last - first + 1, algorithm)
            self._s3(
                calls,
                request,
                self._consumer.upload_part,
                Bucket=request.dest_bucket,
                Key=request.dest_key,
                UploadId=record.upload_id,
                PartNumber=number,
                Body=data,
                ChecksumAlgorithm=algorithm.value,
                **{algorithm.field: crc.base64},
            )
        finally:
            self._budget.release(held)

    def _complete(
        self, request: CopyRequest, record: UploadRecord, deadline: Deadline, calls: _Calls
    ) -> CopyResult | None:
        """Complete and verify the upload, once: None if there is no time for it or another call holds the
        claim (or no longer records the upload)."""
        if deadline.remaining_seconds() < _complete_seconds(record.part_count):
            return None
        if not self._uploads.claim_completion(record.key, record.upload_id, COMPLETION_LEASE):
            return None
        try:
            return self._verify_and_complete(request, record, calls)
        except BaseException:
            self._uploads.release_completion(record.key, record.upload_id)
            raise

    def _verify_and_complete(self, request: CopyRequest, record: UploadRecord, calls: _Calls) -> CopyResult:
        writer = self._writer(record.mode)
        algorithm = CrcAlgorithm(record.checksum_algorithm)
        plan = PartPlan(record.size, record.part_size)
        held = self._s3(calls, request, multipart.parts, writer, record.bucket, record.key, record.upload_id, algorithm)
        ordered = []
        for number in plan.numbers():
            part = held.get(number)
            if part is None or part.size != plan.length(number):
                found = "missing" if part is None else f"{part.size} bytes, expected {plan.length(number)}"
                raise ObjectTransferError(request.source_key, "PartMismatch", f"part {number}: {found}")
            ordered.append(part)
        source = self._head(request, calls)  # still the pinned version, metadata included
        combined = None
        if all(part.checksum is not None for part in ordered):
            combined = combine_parts(algorithm, [(part.checksum.value, part.size) for part in ordered if part.checksum])
            if source.checksum is not None and combined != source.checksum:
                self._discard(record)
                raise ChecksumMismatchError(request.source_key, str(source.checksum), str(combined))
        try:
            stored = self._s3(
                calls,
                request,
                multipart.complete,
                writer,
                record.bucket,
                record.key,
                record.upload_id,
                ordered,
                algorithm,
                combined,
            )
        except ObjectTransferError as exc:
            if exc.code != "BadDigest":
                raise
            # S3's CRC of the assembled parts is not the one combined from their CRCs
            self._discard(record)
            raise ChecksumMismatchError(request.source_key, f"S3's {algorithm} of the parts", str(combined)) from exc
        self._uploads.delete(record.key, record.upload_id)
        copy_checksum = stored or combined
        if combined is not None:
            what = f"the {algorithm} of the {len(ordered)} parts, combined and checked by S3 at completion,"
        else:
            what = f"the {algorithm} S3 computed at completion"
        logger.info("multipart upload completed", key=request.dest_key, upload_id=record.upload_id)
        return self._result(source, calls, copy_checksum, _verdict(request, source, copy_checksum, what))
