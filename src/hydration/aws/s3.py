"""S3 adapter: listing, the sync marker and the copy primitives (server-side and streamed)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus
from xml.etree import ElementTree

from botocore.exceptions import ClientError

from hydration import MARKER_KEY
from hydration.marker import Marker
from hydration.marker import parse as parse_marker
from hydration.models import SourceObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Headers that make up an object's identity for a reader, kept on every copy.
CONTENT_HEADERS = ("ContentType", "ContentEncoding", "ContentLanguage", "ContentDisposition", "CacheControl")

NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@dataclass(frozen=True)
class Page:
    objects: list[SourceObject]
    next_token: str | None


def list_pages(
    client: S3Client, bucket: str, prefix: str, start_token: str | None = None, page_size: int = 1000
) -> Iterator[Page]:
    """ListObjectsV2, one page at a time (memory stays one page, plus the next one in flight).

    Each page carries the continuation token of the next one, so a caller can checkpoint between pages
    and resume later with `start_token`. The request for the next page is sent while the caller works on
    the current one; pages are parsed by `_lean_listing` rather than botocore's model walk.
    """
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="list") as prefetch:
        pending = prefetch.submit(_list_page, client, params, start_token)
        while True:
            page = pending.result()
            if page.next_token:
                pending = prefetch.submit(_list_page, client, params, page.next_token)
            yield page
            if not page.next_token:
                return


def _list_page(client: S3Client, params: dict[str, Any], token: str | None) -> Page:
    lean = _lean_listing(client)
    call = dict(params, ContinuationToken=token) if token else params
    _LEAN.active = lean
    try:
        response: Any = client.list_objects_v2(**call)
    finally:
        _LEAN.active = False
    objects = response.get(_LEAN_OBJECTS)
    if objects is None:  # botocore's parse (a client without botocore's events, or a body we left alone)
        objects = [
            _source_object(i["Key"], i["Size"], i["ETag"], i["LastModified"]) for i in response.get("Contents", [])
        ]
    truncated = response.get("IsTruncated")
    return Page(objects=objects, next_token=response.get("NextContinuationToken") if truncated else None)


def _source_object(key: str, size: int, etag: str, last_modified: datetime) -> SourceObject:
    """A listed object as S3 described it: S3 has validated what the model would (a key of 1-1024 bytes, a
    size, an ETag, a time with its zone), so the model is built without validating again."""
    return SourceObject.model_construct(key=key, size=size, etag=etag, last_modified=last_modified, version_id=None)


# --------------------------------------------------------------------------- lean ListObjectsV2 parsing
#
# botocore parses a ListObjectsV2 page by walking the service model for every element and dateutil for every
# LastModified: about 0.1 ms per key, most of a listing's client CPU (py-spy on the planner). For the calls
# list_pages makes, `_parse_listing` reads the body once with ElementTree and takes the four fields the
# planner needs, then hands botocore an empty body (nothing left to walk); the rest of the call (signing,
# retries, errors, botocore's check for an error in a 200 answer) is botocore's. Any other call on the same
# client, and any body that is not a ListBucketResult, is parsed by botocore as usual.

_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_LEAN_OBJECTS = "S3hObjects"  # where the lean parse puts the page's objects in the parsed response
_LEAN = threading.local()
_LEAN_CLIENTS: weakref.WeakSet[Any] = weakref.WeakSet()
_LEAN_LOCK = threading.Lock()


def _lean_listing(client: Any) -> bool:
    """Register the lean parse on this client's events (once); False for a client without botocore events."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return False
    with _LEAN_LOCK:
        if client not in _LEAN_CLIENTS:
            events.register("before-parse.s3.ListObjectsV2", _parse_listing, unique_id="s3h-lean-listing")
            _LEAN_CLIENTS.add(client)
    return True


def _parse_listing(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if not getattr(_LEAN, "active", False) or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes | bytearray) or not body:
        return
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - S3's answer, read with the parser botocore uses
    except ElementTree.ParseError:
        return  # botocore's turn: it treats a broken 200 body as an error to retry
    if root.tag != _S3_NS + "ListBucketResult":
        return
    decode = unquote_plus if root.findtext(_S3_NS + "EncodingType") == "url" else None
    objects = []
    for item in root.iterfind(_S3_NS + "Contents"):
        key = item.findtext(_S3_NS + "Key") or ""
        objects.append(
            _source_object(
                decode(key) if decode else key,
                int(item.findtext(_S3_NS + "Size") or 0),
                item.findtext(_S3_NS + "ETag") or "",
                datetime.fromisoformat(item.findtext(_S3_NS + "LastModified") or ""),
            )
        )
    customized_response_dict[_LEAN_OBJECTS] = objects
    customized_response_dict["IsTruncated"] = root.findtext(_S3_NS + "IsTruncated") == "true"
    token = root.findtext(_S3_NS + "NextContinuationToken")
    if token:
        customized_response_dict["NextContinuationToken"] = token
    response_dict["body"] = b""  # botocore's parser has nothing left to walk


def inflight_uploads(client: S3Client, bucket: str, prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, initiated) of every multipart upload in flight under a prefix (ListMultipartUploads, paged).

    S3 stamps a completed multipart upload with the time it was *initiated*: an upload in flight when a
    listing starts lands with a LastModified before that listing's start. The planner keeps the run's
    watermark at or before the oldest of them, so the next run still selects it."""
    paginator = client.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for upload in page.get("Uploads", []):
            yield upload["Key"], upload["Initiated"]


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


def iter_objects(client: S3Client, bucket: str, prefix: str, start_after: str | None = None) -> Iterator[SourceObject]:
    """Every object under a prefix in key order, starting after a key (a reconcile checkpoint)."""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        params["StartAfter"] = start_after
    token: str | None = None
    while True:
        page = _list_page(client, params, token)
        yield from page.objects
        if not page.next_token:
            return
        token = page.next_token


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
