"""Which listed keys a run selects, and which key it never touches."""

from __future__ import annotations

from datetime import datetime, timedelta

from hydration import MARKER_KEY


def lower_bound(marker: datetime | None, lookback: timedelta) -> datetime | None:
    """Keys modified at or after this time are selected; None selects every key.

    The lookback absorbs clock skew between S3 and the functions. S3 keeps LastModified to the second, so the
    bound is rounded down to the whole second: an object written in the same second as the watermark, after
    the listing passed its key, has a LastModified a fraction of a second *before* the watermark and must
    still be selected. (Multipart uploads, stamped with their start, are covered by the watermark rule: the
    marker never passes the start of an upload that was in flight when the listing began.)
    """
    return None if marker is None else (marker - lookback).replace(microsecond=0)


def excluded_key(destination_prefix: str) -> str | None:
    """The one source key never copied: the marker's own name, when copying it would overwrite the
    consumer's marker (no destination prefix). Any other key, `a/_s3_hydration_last_sync` included, is data."""
    return MARKER_KEY if destination_prefix == "" else None


def is_selected(key: str, last_modified: datetime, bound: datetime | None, excluded: str | None) -> bool:
    if key == excluded:
        return False
    return bound is None or last_modified >= bound


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
