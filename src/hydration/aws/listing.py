"""Listing a bucket: ListObjectsV2 page by page after a key (with the next page in flight and a lean parse of
each page), probes and delimiter discovery (where to cut the key space), and the multipart uploads in
flight (the watermark)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote_plus
from xml.etree import ElementTree

from hydration.models import SourceObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Page:
    objects: list[SourceObject]
    truncated: bool  # more keys follow under the prefix (the next page starts after the last of these)

    @property
    def last_key(self) -> str | None:
        return self.objects[-1].key if self.objects else None


class Pager:
    """ListObjectsV2 under a prefix, page by page, each page starting after the last key of the one before
    (`StartAfter`: a position that a checkpoint can record and any worker can resume from, unlike a
    continuation token). The caller asks for the next page to be fetched while it works on the current one
    (`ahead`), and only when it will read it, so no page is listed for nothing. Pages are parsed by
    `_lean_listing` rather than botocore's model walk."""

    def __init__(self, client: S3Client, bucket: str, prefix: str, page_size: int = 1000) -> None:
        self._client = client
        self._params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="list")
        self._pending: tuple[str | None, Future[Page]] | None = None
        self.calls = 0

    def __enter__(self) -> Pager:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def ahead(self, start_after: str | None) -> None:
        """Start fetching the page after `start_after` (the next `page(start_after)` waits for it)."""
        if self._pending is None or self._pending[0] != start_after:
            self.calls += 1
            self._pending = (start_after, self._pool.submit(_list_page, self._client, self._params, start_after))

    def page(self, start_after: str | None) -> Page:
        """The page of keys after `start_after` (None: from the prefix's first key)."""
        self.ahead(start_after)
        assert self._pending is not None
        future = self._pending[1]
        self._pending = None
        return future.result()


def first_page(client: S3Client, bucket: str, prefix: str, page_size: int = 1000) -> Page:
    """The prefix's first page: whether it fits in one page (not truncated), and where that page ends."""
    return _list_page(client, {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}, None)


def first_key_after(client: S3Client, bucket: str, prefix: str, start_after: str | None) -> str | None:
    """A probe: the first key under the prefix after `start_after` (a one-key ListObjectsV2), or None."""
    page = _list_page(client, {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1}, start_after)
    return page.last_key


def first_keys_after(client: S3Client, bucket: str, prefix: str, points: list[str]) -> list[str | None]:
    """Probes side by side: the first key under the prefix after each point (None where there is none)."""
    if len(points) <= 1:
        return [first_key_after(client, bucket, prefix, point) for point in points]
    with ThreadPoolExecutor(max_workers=min(8, len(points)), thread_name_prefix="probe") as pool:
        return list(pool.map(lambda point: first_key_after(client, bucket, prefix, point), points))


def common_prefixes(client: S3Client, bucket: str, prefix: str, delimiter: str = "/") -> list[str]:
    """Delimiter discovery: the common prefixes one level below `prefix` (one ListObjectsV2 call, up to 1000
    of them, in S3's order)."""
    response: Any = client.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter=delimiter, MaxKeys=1000)
    return [item["Prefix"] for item in response.get("CommonPrefixes", [])]


def _list_page(client: S3Client, params: dict[str, Any], start_after: str | None) -> Page:
    lean = _lean_listing(client)
    call = dict(params, StartAfter=start_after) if start_after else params
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
    return Page(objects=objects, truncated=bool(response.get("IsTruncated")))


def _source_object(key: str, size: int, etag: str, last_modified: datetime) -> SourceObject:
    """A listed object as S3 described it: S3 has validated what the model would (a key of 1-1024 bytes, a
    size, an ETag, a time with its zone), so the model is built without validating again."""
    return SourceObject.model_construct(key=key, size=size, etag=etag, last_modified=last_modified, version_id=None)


# --------------------------------------------------------------------------- lean ListObjectsV2 parsing
#
# botocore parses a ListObjectsV2 page by walking the service model for every element and dateutil for every
# LastModified: about 0.1 ms per key, most of a listing's client CPU (py-spy on the planner). For the calls
# the Pager makes, `_parse_listing` reads the body once with ElementTree and takes the four fields the
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
    response_dict["body"] = b""  # botocore's parser has nothing left to walk


class InflightUpload(NamedTuple):
    key: str
    initiated: datetime
    upload_id: str


def inflight_uploads(client: S3Client, bucket: str, prefix: str) -> Iterator[InflightUpload]:
    """Every multipart upload in flight under a prefix (ListMultipartUploads, paged).

    S3 stamps a completed multipart upload with the time it was *initiated*: an upload in flight when a
    listing starts lands with a LastModified before that listing's start. The planner keeps the run's
    watermark at or before the oldest of them, so the next run still selects it."""
    paginator = client.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for upload in page.get("Uploads", []):
            yield InflightUpload(upload["Key"], upload["Initiated"], upload.get("UploadId", ""))
