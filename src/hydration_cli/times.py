"""Times on the command line: `30m`, `1h`, `2d`, `1w` (ago) or an ISO-8601 time/date (UTC if naive)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from hydration.models import UtcDatetime

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_utc = TypeAdapter(UtcDatetime)


def parse_duration(text: str) -> timedelta:
    """`90` or `90s`, `15m`, `1h`, `2d`, `1w`. ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (like 90s, 15m, 1h, 2d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_time(text: str, now: datetime) -> datetime:
    """A duration means that long before `now`; otherwise an ISO-8601 time or date (UTC)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return _utc.validate_python(text)
    except ValidationError as exc:
        raise ValueError(
            f"{text!r} is not a time: use a duration like 30m, 1h, 2d or an ISO-8601 time like 2024-05-01T06:00:00Z"
        ) from exc
