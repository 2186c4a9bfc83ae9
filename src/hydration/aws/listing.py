"""Listing the producer bucket: ListObjectsV2 page by page (with the next page in flight and a lean parse of
each page), every object after a key (reconcile), and the multipart uploads in flight (the watermark)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
    next_token: str | None


def list_pages(
    client: S3Client, bucket: str, prefix: str, start_after: str | None = None, page_size: int = 1000
) -> Iterator[Page]:
    """ListObjectsV2, one page at a time (memory stays one page, plus the next one in flight), from the key
    after `start_after`.

    A caller checkpoints the last key it handled and resumes with it as `start_after` (S3's StartAfter: a
    position any invocation can resume from, unlike a continuation token, and one a listing can be split at).
    The request for the next page is sent while the caller works on the current one; pages are parsed by
    `_lean_listing` rather than botocore's model walk.
    """
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    if start_after:
        params["StartAfter"] = start_after
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="list") as prefetch:
        pending = prefetch.submit(_list_page, client, params, None)
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
