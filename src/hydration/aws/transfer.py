"""The copy primitives: one object from the producer bucket to the consumer bucket.

Two modes (see `hydration.settings.CopyMode`):
- server-side: CopyObject (one request per object), or CreateMultipartUpload + UploadPartCopy above the
  multipart threshold, signed with the producer role's credentials. No object bytes pass through Lambda.
- stream: GetObject with the producer credentials and PutObject (or ranged GETs + UploadPart) with the
  function's own credentials; every part carries a CRC32C that S3 verifies.

Both write SSE-KMS under the consumer key, keep content headers, user metadata and tags, and pin the
source version with If-Match on the listed ETag so that a source that changes mid-copy is detected.
Multipart uploads are aborted on any failure.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from botocore.exceptions import ClientError

from hydration.aws import s3 as s3_adapter
from hydration.errors import ObjectTransferError, SourceChangedError, SourceVanishedError
from hydration.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

CHECKSUM_ALGORITHM: Final = "CRC32C"


CHANGED_RETRIES = 3


@dataclass(frozen=True)
class CopyRequest:
    source_bucket: str
    source_key: str
    etag: str
    last_modified: datetime
    size: int
    version_id: str | None
    dest_bucket: str
    dest_key: str
    kms_key_id: str


@dataclass(frozen=True)
class CopyResult:
    bytes: int
    requests: int
    etag: str  # the source version actually copied (the listed one, or the current one if it changed)
    last_modified: datetime
    checksum: str | None = None


class Deadline(Protocol):
    def remaining_seconds(self) -> float: ...


@dataclass(frozen=True)
class Handoff:
    """The copy is not finished: its progress is saved, the caller hands the rest on (re-enqueues it)."""

    reason: str


class ByteBudget:
    """Bounds the bytes a streamed copy holds in memory across all threads of the container."""

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


def _translate(exc: ClientError, request: CopyRequest) -> Exception:
    """S3 errors that have a documented rule become typed errors; the rest carry their code."""
    code = s3_adapter.error_code(exc)
    if code in s3_adapter.NOT_FOUND_CODES:
        return SourceVanishedError(request.source_key)
    if code in s3_adapter.PRECONDITION_CODES:
        return SourceChangedError(request.source_key, request.etag)
    return ObjectTransferError(request.source_key, code, str(exc.response.get("Error", {}).get("Message", exc)))


def _copy_source(request: CopyRequest) -> CopySourceTypeDef:
    source: CopySourceTypeDef = {"Bucket": request.source_bucket, "Key": request.source_key}
    if request.version_id:
        source["VersionId"] = request.version_id
    return source


def _part_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, first byte, last byte) for every part; S3 allows at most 10,000 parts."""
    part_size = max(part_size, -(-size // 10_000))
    return [
        (number, start, min(start + part_size, size) - 1)
        for number, start in enumerate(range(0, size, part_size), start=1)
    ]


class Copier:
    """Copies objects in the configured mode. Clients are injected; the instance is thread-safe."""

    def __init__(
        self,
        *,
        producer_s3: S3Client,
        consumer_s3: S3Client,
        server_side: bool,
        multipart_threshold: int,
        part_size: int,
        parts_in_flight: int,
        byte_budget: ByteBudget | None = None,
    ) -> None:
        self._producer = producer_s3
        self._consumer = consumer_s3
        self._server_side = server_side
        self._threshold = multipart_threshold
        self._part_size = part_size
        self._parts_in_flight = parts_in_flight
        self._budget = byte_budget or ByteBudget(max(multipart_threshold, part_size * parts_in_flight) * 4)

    def copy(self, request: CopyRequest, deadline: Deadline | None = None) -> CopyResult | Handoff:
        """Copy the listed version; if the source changed since listing, its current version (at most
        CHANGED_RETRIES times). Raises SourceVanishedError if it is gone, ObjectTransferError otherwise."""
        for attempt in range(CHANGED_RETRIES + 1):
            try:
                return self._copy(request)
            except SourceChangedError:
                if attempt == CHANGED_RETRIES:
                    raise
                current = self.current(request.source_bucket, request.source_key)
                logger.info(
                    "source changed since listing; copying its current version",
                    key=request.source_key,
                    listed_etag=request.etag,
                    current_etag=current.etag,
                )
                request = replace(request, etag=current.etag, size=current.size, last_modified=current.last_modified)
        raise AssertionError("unreachable")  # pragma: no cover

    def _copy(self, request: CopyRequest) -> CopyResult:
        try:
            if self._server_side:
                if request.size > self._threshold:
                    return self._multipart(request, self._copy_part)
                return self._server_side_single(request)
            if request.size > self._threshold:
                return self._multipart(request, self._stream_part)
            return self._stream_single(request)
        except ClientError as exc:
            raise _translate(exc, request) from exc

    def current(self, bucket: str, key: str) -> s3_adapter.ObjectHead:
        """The source object as it is now (used when it changed since listing)."""
        try:
            return s3_adapter.head(self._producer, bucket, key)
        except ClientError as exc:
            if s3_adapter.error_code(exc) in s3_adapter.NOT_FOUND_CODES:
                raise SourceVanishedError(key) from exc
            raise

    # ------------------------------------------------------------------ server-side

    def _server_side_single(self, request: CopyRequest) -> CopyResult:
        response = self._producer.copy_object(
            CopySource=_copy_source(request),
            CopySourceIfMatch=request.etag,
            Bucket=request.dest_bucket,
            Key=request.dest_key,
            MetadataDirective="COPY",
            TaggingDirective="COPY",
            ChecksumAlgorithm=CHECKSUM_ALGORITHM,
            **s3_adapter.sse(request.kms_key_id),
        )
        result = response.get("CopyObjectResult", {})
        return CopyResult(
            bytes=request.size,
            requests=1,
            etag=request.etag,
            last_modified=request.last_modified,
            checksum=result.get("ChecksumCRC32C"),
        )

    def _copy_part(self, request: CopyRequest, upload_id: str, number: int, first: int, last: int) -> dict[str, Any]:
        response = self._producer.upload_part_copy(
            CopySource=_copy_source(request),
            CopySourceIfMatch=request.etag,
            CopySourceRange=f"bytes={first}-{last}",
            Bucket=request.dest_bucket,
            Key=request.dest_key,
            UploadId=upload_id,
            PartNumber=number,
        )
        return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

    # ------------------------------------------------------------------ stream

    def _read(self, request: CopyRequest, first: int | None = None, last: int | None = None) -> tuple[Any, bytes]:
        """GET the pinned source version (whole, or one byte range) and check the length read.

        botocore validates the source's own checksum on a whole-object GET when the object has one."""
        extra: dict[str, Any] = {"VersionId": request.version_id} if request.version_id else {}
        if first is None or last is None:
            extra["ChecksumMode"] = "ENABLED"
            expected = request.size
        else:
            extra["Range"] = f"bytes={first}-{last}"
            expected = last - first + 1
        response = self._producer.get_object(
            Bucket=request.source_bucket, Key=request.source_key, IfMatch=request.etag, **extra
        )
        data = response["Body"].read()
        if len(data) != expected:
            where = f"bytes {first}-{last}" if first is not None else "object"
            raise ObjectTransferError(
                request.source_key, "SizeMismatch", f"{where}: read {len(data)} bytes, expected {expected}"
            )
        return response, data

    def _stream_single(self, request: CopyRequest) -> CopyResult:
        held = self._budget.acquire(max(request.size, 1))
        try:
            response, body = self._read(request)
            head = s3_adapter.object_head(response)
            tagging = ""
            if response.get("TagCount"):
                tagging = s3_adapter.get_tagging(
                    self._producer, request.source_bucket, request.source_key, request.version_id
                )
            put = self._consumer.put_object(
                Bucket=request.dest_bucket,
                Key=request.dest_key,
                Body=body,
                ChecksumAlgorithm=CHECKSUM_ALGORITHM,
                **s3_adapter.write_attributes(head, tagging),
                **s3_adapter.sse(request.kms_key_id),
            )
        finally:
            self._budget.release(held)
        return CopyResult(
            bytes=len(body),
            requests=3 if tagging else 2,
            etag=request.etag,
            last_modified=request.last_modified,
            checksum=put.get("ChecksumCRC32C"),
        )

    def _stream_part(self, request: CopyRequest, upload_id: str, number: int, first: int, last: int) -> dict[str, Any]:
        held = self._budget.acquire(last - first + 1)
        try:
            _, data = self._read(request, first, last)
            part = self._consumer.upload_part(
                Bucket=request.dest_bucket,
                Key=request.dest_key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ChecksumAlgorithm=CHECKSUM_ALGORITHM,
            )
        finally:
            self._budget.release(held)
        return {"PartNumber": number, "ETag": part["ETag"], "ChecksumCRC32C": part.get("ChecksumCRC32C")}

    # ------------------------------------------------------------------ multipart (both modes)

    def _multipart(
        self, request: CopyRequest, copy_part: Callable[[CopyRequest, str, int, int, int], dict[str, Any]]
    ) -> CopyResult:
        # UploadPartCopy and UploadPart do not carry headers, metadata or tags: read them from the source
        # version we copy (If-Match pins it) and set them on the new upload.
        try:
            head = s3_adapter.head(
                self._producer, request.source_bucket, request.source_key, request.version_id, if_match=request.etag
            )
        except ClientError as exc:
            # HEAD has no body, so a missing object answers a bare 404 and a changed one a bare 412.
            raise _translate(exc, request) from exc
        tagging = s3_adapter.get_tagging(self._producer, request.source_bucket, request.source_key, request.version_id)
        writer = self._producer if self._server_side else self._consumer
        create_extra: dict[str, Any] = {} if self._server_side else {"ChecksumAlgorithm": CHECKSUM_ALGORITHM}
        upload_id = writer.create_multipart_upload(
            Bucket=request.dest_bucket,
            Key=request.dest_key,
            **s3_adapter.write_attributes(head, tagging),
            **s3_adapter.sse(request.kms_key_id),
            **create_extra,
        )["UploadId"]
        ranges = _part_ranges(request.size, self._part_size)
        try:
            with ThreadPoolExecutor(max_workers=self._parts_in_flight, thread_name_prefix="part") as pool:
                parts = list(pool.map(lambda r: copy_part(request, upload_id, *r), ranges))
            parts = [{k: v for k, v in part.items() if v is not None} for part in parts]
            writer.complete_multipart_upload(
                Bucket=request.dest_bucket,
                Key=request.dest_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": cast("list[CompletedPartTypeDef]", parts)},
            )
        except BaseException:
            self._abort(writer, request, upload_id)
            raise
        return CopyResult(
            bytes=request.size,
            requests=4 + len(ranges) * (1 if self._server_side else 2),
            etag=request.etag,
            last_modified=request.last_modified,
        )

    @staticmethod
    def _abort(writer: S3Client, request: CopyRequest, upload_id: str) -> None:
        try:
            writer.abort_multipart_upload(Bucket=request.dest_bucket, Key=request.dest_key, UploadId=upload_id)
        except ClientError:
            # The bucket's lifecycle rule aborts incomplete uploads after a day if this call fails.
            logger.warning("abort_multipart_upload failed", key=request.dest_key, upload_id=upload_id)
