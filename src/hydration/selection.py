"""Which listed keys a run selects, and which keys it never touches."""

from __future__ import annotations

from datetime import datetime, timedelta

from hydration import MARKER_KEY


def lower_bound(marker: datetime | None, lookback: timedelta) -> datetime | None:
    """Keys modified at or after this time are selected; None selects every key.

    S3 stamps a multipart upload with the time it *started*: an upload still in flight when the last run
    listed has a LastModified before that run's watermark. The lookback re-selects such keys; the copier's
    manifest makes the overlap cheap. S3 keeps LastModified to the second, so the bound is rounded down to
    the whole second: an object written in the same second as the watermark, after the listing passed
    its key, has a LastModified a fraction of a second *before* the watermark and must still be selected.
    """
    return None if marker is None else (marker - lookback).replace(microsecond=0)


def is_selected(key: str, last_modified: datetime, bound: datetime | None) -> bool:
    if is_internal(key):
        return False
    return bound is None or last_modified >= bound


def is_internal(key: str) -> bool:
    """Keys of our own that are never copied (the sync marker)."""
    return key == MARKER_KEY or key.endswith("/" + MARKER_KEY)


def within_scope(prefix: str, configured: list[str]) -> bool:
    """A requested prefix must lie inside one of the configured transfer prefixes (if any are set)."""
    return not configured or any(prefix.startswith(scope) for scope in configured)


def minimal_prefixes(prefixes: list[str]) -> list[str]:
    """Drop prefixes that another one already covers (listing `a/` and `a/b/` would list `a/b/` twice)."""
    if not prefixes:
        return [""]
    ordered = sorted(set(prefixes))
    kept: list[str] = []
    for prefix in ordered:
        if not any(prefix.startswith(k) for k in kept):
            kept.append(prefix)
    return kept
