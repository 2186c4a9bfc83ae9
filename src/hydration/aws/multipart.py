"""S3 multipart uploads with full-object CRC checksums: create, list parts, complete, abort, list uploads.

An upload is created with `ChecksumType=FULL_OBJECT`, so S3 keeps a CRC of each part (computed by S3 for
UploadPartCopy, verified against ours for UploadPart) and, at completion, combines them into the CRC of the
whole object; when we pass that value ourselves, S3 checks the assembled object against it (BadDigest
otherwise). ListParts is the source of truth for what an upload holds (ETag, size and CRC of each part).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from hydration.aws.s3 import error_code
from hydration.checksums import Checksum, CrcAlgorithm

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

NO_SUCH_UPLOAD = "NoSuchUpload"


class UploadGoneError(Exception):
    """S3 no longer has the upload (completed, or aborted: by us, an operator or the lifecycle rule)."""


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    size: int
    checksum: Checksum | None  # None if S3 did not report one


@dataclass(frozen=True)
class InProgressUpload:
    key: str
    upload_id: str
    initiated: datetime


def checksum_in(response: Any, algorithm: CrcAlgorithm) -> Checksum | None:
    """The `Checksum<ALGORITHM>` field of a response (full-object form, without a `-N` part count)."""
    text = response.get(algorithm.field)
    if not text or "-" in text:
        return None
    return Checksum.from_base64(algorithm, text)


def create(writer: S3Client, bucket: str, key: str, algorithm: CrcAlgorithm, attributes: dict[str, Any]) -> str:
    """A new upload whose object gets a full-object `algorithm` checksum; `attributes` are the object's
    headers, metadata, tags and encryption (CreateMultipartUpload arguments)."""
    response = writer.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm.value, ChecksumType="FULL_OBJECT", **attributes
    )
    return response["UploadId"]


def parts(writer: S3Client, bucket: str, key: str, upload_id: str, algorithm: CrcAlgorithm) -> dict[int, UploadedPart]:
    """Every part in the upload, by number (ListParts, 1,000 a page)."""
    found: dict[int, UploadedPart] = {}
    try:
        for page in writer.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
            for part in page.get("Parts", []):
                number = part["PartNumber"]
                found[number] = UploadedPart(number, part["ETag"], part["Size"], checksum_in(part, algorithm))
    except ClientError as exc:
        if error_code(exc) == NO_SUCH_UPLOAD:
            raise UploadGoneError(upload_id) from exc
        raise
    return found


def complete(
    writer: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    uploaded: list[UploadedPart],
    algorithm: CrcAlgorithm,
    full: Checksum | None,
) -> Checksum | None:
    """Assemble the parts (in the given order); S3 checks the object against `full` when given (a mismatch
    is a ClientError BadDigest). Returns the object's full-object checksum as S3 reports it, if it does."""
    listed: list[dict[str, Any]] = []
    for part in uploaded:
        entry: dict[str, Any] = {"PartNumber": part.number, "ETag": part.etag}
        if part.checksum is not None:
            entry[algorithm.field] = part.checksum.base64
        listed.append(entry)
    extra: dict[str, Any] = {"ChecksumType": "FULL_OBJECT"}
    if full is not None:
        extra[algorithm.field] = full.base64
    try:
        response = writer.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": cast("list[CompletedPartTypeDef]", listed)},
            **extra,
        )
    except ClientError as exc:
        if error_code(exc) == NO_SUCH_UPLOAD:
            raise UploadGoneError(upload_id) from exc
        raise
    return checksum_in(response, algorithm)


def abort(writer: S3Client, bucket: str, key: str, upload_id: str) -> bool:
    """Abort the upload (its parts are deleted); False if S3 no longer had it."""
    try:
        writer.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as exc:
        if error_code(exc) == NO_SUCH_UPLOAD:
            return False
        raise
    return True


@dataclass(frozen=True)
class UploadsPage:
    uploads: list[InProgressUpload]
    next_after: tuple[str, str] | None  # (key, upload id) the next page starts after; None: this was the last


def uploads_page(client: S3Client, bucket: str, *, limit: int, after: tuple[str, str] | None = None) -> UploadsPage:
    """Up to `limit` multipart uploads in progress, in S3's order (by key, then by initiation), starting
    after the (key, upload id) a previous page ended on: ListMultipartUploads reads no more than asked."""
    uploads: list[InProgressUpload] = []
    while True:
        request: dict[str, Any] = {"Bucket": bucket, "MaxUploads": min(1000, limit - len(uploads))}
        if after is not None:
            request.update(KeyMarker=after[0], UploadIdMarker=after[1])
        page = client.list_multipart_uploads(**request)
        uploads += [
            InProgressUpload(key=upload["Key"], upload_id=upload["UploadId"], initiated=upload["Initiated"])
            for upload in page.get("Uploads", [])
        ]
        if not page.get("IsTruncated"):
            return UploadsPage(uploads, None)
        after = (page["NextKeyMarker"], page["NextUploadIdMarker"])
        if len(uploads) >= limit:
            return UploadsPage(uploads, after)
