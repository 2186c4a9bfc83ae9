"""ListObjectsV2 in time that does not grow with the bucket, as on S3.

LocalStack 2026.3.0 answers every ListObjectsV2 call by copying and sorting *all* of the bucket's objects
(``sorted(s3_bucket.objects.values())``), then skipping up to ``StartAfter`` or the continuation token: in a
bucket of 50,000 keys, a one-key listing costs about 50 ms of CPU and a page of 1,000 keys 100-200 ms, in
one process. On S3 a call's cost does not depend on how many keys the bucket holds, and the planner's
sharded listing (many workers, each listing its own key range after its own ``StartAfter``) is measured
against that (``bench/planning.py``). This keeps, per key store, the sorted list of its keys (built on the
first listing, then kept up to date by ``set``/``pop``), and, while a ListObjectsV2 call runs, makes the
store's ``values()`` give the call only the objects it can answer with: from its start (``StartAfter``,
the continuation token, the prefix) to the end of the prefix, and without a delimiter at most
``MaxKeys + 1`` of them. The listing code itself runs unchanged over that window, so its answers are the
same. Python's ``str`` order is the keys' code point order, which is UTF-8 binary order: S3's.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

_LOCK = threading.RLock()  # the sorted key lists against concurrent writes
_ACTIVE = threading.local()  # the window of the ListObjectsV2 call running on this thread


@dataclass(frozen=True)
class Window:
    prefix: str
    start: str  # the first key that may be listed is >= start (inclusive) or > start
    inclusive: bool
    limit: int | None  # at most this many objects (None: up to the end of the prefix)


def install() -> None:
    from localstack.services.s3.models import KeyStore, VersionedKeyStore
    from localstack.services.s3.provider import S3Provider

    for store in (KeyStore, VersionedKeyStore):
        if not getattr(store.values, "s3h_patched", False):
            _patch_store(store)
    install_page_writer()
    original = S3Provider.list_objects_v2
    if getattr(original, "s3h_indexed", False):
        return

    @functools.wraps(original)
    def list_objects_v2(self: Any, context: Any, bucket: str, *args: Any, **kwargs: Any) -> Any:
        _ACTIVE.serializer = context.request.headers.get(SERIALIZER_HEADER) == "localstack"  # a test compares
        if args or kwargs.get("encoding_type"):  # encoded comparisons: leave them to LocalStack (see plugins)
            return original(self, context, bucket, *args, **kwargs)
        _ACTIVE.window = _window(kwargs)
        try:
            return original(self, context, bucket, **kwargs)
        finally:
            _ACTIVE.window = None

    list_objects_v2.s3h_indexed = True  # type: ignore[attr-defined]
    S3Provider.list_objects_v2 = list_objects_v2  # type: ignore[method-assign]


def _window(request: dict[str, Any]) -> Window | None:
    from localstack.services.s3.utils import decode_continuation_token

    prefix = request.get("prefix") or ""
    token = request.get("continuation_token")
    if token == "":
        return None  # LocalStack refuses it
    if token:
        start, inclusive = decode_continuation_token(token), True
    else:
        start, inclusive = request.get("start_after") or "", False
    if start < prefix:
        start, inclusive = prefix, True
    limit = None if request.get("delimiter") else (request.get("max_keys") or 1000) + 1
    return Window(prefix, start, inclusive, limit)


def _patch_store(store: type) -> None:
    original_set, original_pop, original_values = store.set, store.pop, store.values
    versioned = store.__name__ == "VersionedKeyStore"

    @functools.wraps(original_set)
    def set_(self: Any, object_key: str, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            new = object_key not in self._store
            result = original_set(self, object_key, *args, **kwargs)
            keys = self.__dict__.get("_s3h_keys")
            if new and keys is not None:
                bisect.insort(keys, object_key)
            return result

    @functools.wraps(original_pop)
    def pop(self: Any, object_key: str, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            result = original_pop(self, object_key, *args, **kwargs)
            keys = self.__dict__.get("_s3h_keys")
            if keys is not None and object_key not in self._store:
                at = bisect.bisect_left(keys, object_key)
                if at < len(keys) and keys[at] == object_key:
                    del keys[at]
            return result

    @functools.wraps(original_values)
    def values(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
        window: Window | None = getattr(_ACTIVE, "window", None)
        if window is None or args or kwargs:
            return original_values(self, *args, **kwargs)
        _ACTIVE.window = None  # one call's window serves one values()
        with _LOCK:
            keys = self.__dict__.get("_s3h_keys")
            if keys is None:
                keys = self._s3h_keys = sorted(self._store)
            at = (bisect.bisect_left if window.inclusive else bisect.bisect_right)(keys, window.start)
            found: list[Any] = []
            while at < len(keys) and keys[at].startswith(window.prefix):
                if window.limit is not None and len(found) >= window.limit:
                    break
                current = _current(self, keys[at], versioned)
                if current is not None:
                    found.append(current)
                at += 1
            return found

    set_.s3h_patched = pop.s3h_patched = values.s3h_patched = True  # type: ignore[attr-defined]
    store.set, store.pop, store.values = set_, pop, values


def _current(store: Any, key: str, versioned: bool) -> Any:
    """What ``values()`` gives for a key: the object (unversioned), or the current version unless it is a
    delete marker (versioned)."""
    if not versioned:
        return store._store.get(key)
    from localstack.services.s3.models import S3DeleteMarker

    versions = store._store.get(key)
    if not versions:
        return None
    current = versions[next(reversed(versions))]
    return None if isinstance(current, S3DeleteMarker) else current


# --------------------------------------------------------------------------- a ListObjectsV2 page's XML
#
# With the index, a page of 1,000 keys costs LocalStack about 30 ms of CPU, 83 % of it in its generic XML
# serializer (an ElementTree built by walking the service model for every element, then written out by
# ElementTree's pure-Python writer: py-spy on LocalStack serving pages back to back). LocalStack is one
# process: that serial time caps how many listings run side by side, which on S3 is not a bound at all, and
# the planner's parallel listing is measured against it (`bench/planning.py`). So a page is written
# straight from the provider's answer, member by member in the output shape's order, as the serializer would
# write it; an answer holding anything else (a member not written here, a control character that needs
# LocalStack's own escaping), or a request with `x-s3h-serializer: localstack`, goes to the serializer.

SERIALIZER_HEADER = "x-s3h-serializer"  # "localstack": this page by LocalStack's serializer (tests compare)
_OUTPUT = ("IsTruncated", "Contents", "Name", "Prefix", "Delimiter", "MaxKeys", "CommonPrefixes", "EncodingType",
           "KeyCount", "ContinuationToken", "NextContinuationToken", "StartAfter")  # fmt: skip
_OBJECT = ("Key", "LastModified", "ETag", "ChecksumAlgorithm", "ChecksumType", "Size", "StorageClass")
_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def install_page_writer() -> None:
    from localstack.aws.protocol.serializer import S3ResponseSerializer

    original = S3ResponseSerializer._serialize_body_params
    if getattr(original, "s3h_pages", False):
        return

    @functools.wraps(original)
    def serialize_body_params(
        self: Any, params: dict[str, Any], shape: Any, operation_model: Any, mime_type: str, request_id: str
    ) -> Any:
        own, _ACTIVE.serializer = getattr(_ACTIVE, "serializer", False), False
        if operation_model.name == "ListObjectsV2" and mime_type in ("application/xml", "text/xml") and not own:
            written = page_xml(params)
            if written is not None:
                return written
        return original(self, params, shape, operation_model, mime_type, request_id)

    serialize_body_params.s3h_pages = True  # type: ignore[attr-defined]
    S3ResponseSerializer._serialize_body_params = serialize_body_params  # type: ignore[method-assign]


def page_xml(answer: dict[str, Any]) -> bytes | None:
    """The ListBucketResult document of a ListObjectsV2 answer, or None if it holds what only LocalStack's
    serializer writes."""
    if any(name not in _OUTPUT and value is not None for name, value in answer.items()):
        return None
    parts = ["<?xml version='1.0' encoding='utf-8'?>\n", f'<ListBucketResult xmlns="{_NAMESPACE}">']
    for name in _OUTPUT:
        value = answer.get(name)
        if value is None:
            continue
        if name == "Contents":
            for obj in value:
                if any(field not in _OBJECT and item is not None for field, item in obj.items()):
                    return None
                parts.append("<Contents>")
                for field in _OBJECT:
                    item = obj.get(field)
                    if item is None:
                        continue
                    if field == "ChecksumAlgorithm":
                        parts += [f"<ChecksumAlgorithm>{_text(a)}</ChecksumAlgorithm>" for a in item]
                    else:
                        parts.append(f"<{field}>{_text(item)}</{field}>")
                parts.append("</Contents>")
        elif name == "CommonPrefixes":
            for common in value:
                if set(common) - {"Prefix"}:
                    return None
                parts.append(f"<CommonPrefixes><Prefix>{_text(common.get('Prefix', ''))}</Prefix></CommonPrefixes>")
        else:
            parts.append(f"<{name}>{_text(value)}</{name}>")
    parts.append("</ListBucketResult>")
    document = "".join(parts)
    if _NEEDS_ESCAPING.search(document):
        return None
    return document.encode()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # as LocalStack's S3 serializer writes it
    return escape(str(value), {'"': "&quot;"})


_NEEDS_ESCAPING = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\r]")  # LocalStack's serializer marks these itself
