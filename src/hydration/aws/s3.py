"""S3 adapter: object heads and write attributes, small text objects, the sync marker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hydration import MARKER_KEY
from hydration.marker import Marker
from hydration.marker import parse as parse_marker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Headers that make up an object's identity for a reader, kept on every copy.
CONTENT_HEADERS = ("ContentType", "ContentEncoding", "ContentLanguage", "ContentDisposition", "CacheControl")

NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


# --------------------------------------------------------------------------- marker


def get_text(client: S3Client, bucket: str, key: str) -> str | None:
    """The object's body as text, or None if it does not exist."""
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise
    return response["Body"].read().decode("utf-8")


def put_text(client: S3Client, bucket: str, key: str, text: str, kms_key_id: str | None) -> None:
    extra: dict[str, Any] = {}
    if kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    client.put_object(
        Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="text/plain; charset=utf-8", **extra
    )


def delete(client: S3Client, bucket: str, key: str) -> None:
    client.delete_object(Bucket=bucket, Key=key)


def move_to_trash(client: S3Client, bucket: str, key: str, trash_key: str, kms_key_id: str | None) -> None:
    """A soft delete: the object copied under the trash prefix (SSE-KMS under the consumer key, its
    metadata kept; s3transfer's managed copy, in parts above its threshold), then deleted."""
    extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
    client.copy({"Bucket": bucket, "Key": key}, bucket, trash_key, ExtraArgs=extra)
    client.delete_object(Bucket=bucket, Key=key)


# --------------------------------------------------------------------------- object attributes


@dataclass(frozen=True)
class ObjectHead:
    etag: str
    size: int
    last_modified: datetime
    version_id: str | None
    headers: dict[str, Any]  # CONTENT_HEADERS present on the object, plus Expires
    metadata: dict[str, str]
    kms_key_id: str | None


def head(
    client: S3Client, bucket: str, key: str, version_id: str | None = None, if_match: str | None = None
) -> ObjectHead:
    extra: dict[str, Any] = {"VersionId": version_id} if version_id else {}
    if if_match:
        extra["IfMatch"] = if_match
    response = client.head_object(Bucket=bucket, Key=key, **extra)
    return object_head(response)


def head_if_exists(client: S3Client, bucket: str, key: str) -> ObjectHead | None:
    try:
        return head(client, bucket, key)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise


def object_head(response: Any) -> ObjectHead:
    headers = {name: response[name] for name in CONTENT_HEADERS if response.get(name)}
    expires = response.get("ExpiresString") or response.get("Expires")
    if expires:
        headers["Expires"] = expires
    return ObjectHead(
        etag=response["ETag"],
        size=response.get("ContentLength", 0),
        last_modified=response["LastModified"],
        version_id=response.get("VersionId"),
        headers=headers,
        metadata=dict(response.get("Metadata", {})),
        kms_key_id=response.get("SSEKMSKeyId"),
    )


def get_tagging(client: S3Client, bucket: str, key: str, version_id: str | None = None) -> str:
    """The object's tags as a URL-encoded tag set (the form PutObject and CreateMultipartUpload take)."""
    from urllib.parse import urlencode

    extra: dict[str, Any] = {"VersionId": version_id} if version_id else {}
    tags = client.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"]
    return urlencode([(tag["Key"], tag["Value"]) for tag in tags])


def _expires_param(headers: dict[str, Any]) -> dict[str, Any]:
    """botocore takes Expires as a datetime; ExpiresString (newer botocore) is the raw header."""
    value = headers.get("Expires")
    if value is None:
        return {}
    if isinstance(value, datetime):
        return {"Expires": value}
    from email.utils import parsedate_to_datetime

    try:
        return {"Expires": parsedate_to_datetime(str(value))}
    except (TypeError, ValueError):
        return {}  # an unparseable Expires header cannot be sent back; S3 ignores such values too


def write_attributes(head: ObjectHead, tagging: str) -> dict[str, Any]:
    """The PutObject/CreateMultipartUpload arguments that reproduce an object's headers, metadata, tags."""
    params: dict[str, Any] = {name: head.headers[name] for name in CONTENT_HEADERS if name in head.headers}
    params.update(_expires_param(head.headers))
    params["Metadata"] = head.metadata
    if tagging:
        params["Tagging"] = tagging
    return params


def sse(kms_key_id: str) -> dict[str, Any]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id, "BucketKeyEnabled": True}


class MarkerObject:
    """The sync marker `_s3_hydration_last_sync` at the consumer bucket's root (hydration.marker says what
    it holds); written under the consumer key."""

    def __init__(self, client: S3Client, bucket: str, kms_key_id: str | None) -> None:
        self._client = client
        self._bucket = bucket
        self._kms_key_id = kms_key_id

    def read(self) -> Marker | None:
        text = get_text(self._client, self._bucket, MARKER_KEY)
        return None if text is None else parse_marker(text)

    def write(self, marker: Marker) -> None:
        put_text(self._client, self._bucket, MARKER_KEY, marker.render(), self._kms_key_id)
