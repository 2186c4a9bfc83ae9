"""The sync marker `_s3_hydration_last_sync`: what it says, and how it is written.

Its body stays readable with `aws s3 cp s3://<bucket>/_s3_hydration_last_sync -`: the first line is the
ISO-8601 UTC time up to which every changed key has landed; a JSON line of detail may follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hydration.errors import MarkerFormatError
from hydration.models.common import as_utc


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Marker:
    synced_to: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        return format_time(self.synced_to) + "\n" + json.dumps(self.detail, sort_keys=True) + "\n"


def parse(text: str) -> Marker:
    lines = text.strip().splitlines()
    if not lines:
        raise MarkerFormatError("the sync marker is empty; its first line must be an ISO-8601 UTC time")
    try:
        synced_to = as_utc(lines[0].strip())
    except ValueError as exc:
        raise MarkerFormatError(f"the sync marker's first line {lines[0][:60]!r} is not an ISO-8601 time") from exc
    detail: dict[str, Any] = {}
    if len(lines) > 1:
        try:
            loaded = json.loads("\n".join(lines[1:]))
            detail = loaded if isinstance(loaded, dict) else {"detail": loaded}
        except json.JSONDecodeError:
            detail = {"text": "\n".join(lines[1:])}
    return Marker(synced_to=synced_to, detail=detail)
