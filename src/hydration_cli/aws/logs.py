"""CloudWatch Logs: FilterLogEvents over one log group, every page (or up to a limit)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient


class LogGroupNotFoundError(Exception):
    """The log group does not exist (its function has never run)."""


@dataclass(frozen=True)
class RawLogEvent:
    event_id: str
    timestamp_ms: int
    message: str
    log_stream: str | None


class LogGroups:
    def __init__(self, client: CloudWatchLogsClient) -> None:
        self._client = client

    def events(
        self, group: str, *, start_ms: int, end_ms: int | None = None, pattern: str = ""
    ) -> Iterator[RawLogEvent]:
        """Events of `group` from `start_ms` (to `end_ms`), matching `pattern` (server-side), page by page."""
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
        if end_ms is not None:
            kwargs["endTime"] = end_ms
        if pattern:
            kwargs["filterPattern"] = pattern
        try:
            for page in self._client.get_paginator("filter_log_events").paginate(**kwargs):
                for raw in page.get("events", []):
                    yield RawLogEvent(
                        event_id=raw.get("eventId", ""),
                        timestamp_ms=raw.get("timestamp", 0),
                        message=raw.get("message", ""),
                        log_stream=raw.get("logStreamName"),
                    )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise LogGroupNotFoundError(group) from exc
            raise
