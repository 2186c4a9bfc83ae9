"""`logs`: the functions' log groups (planner, planner workers, copier, finalizer) through FilterLogEvents, by
run (correlation id), level and S3 key; once over a window, or followed (`--follow`) until Ctrl-C.

Powertools writes one JSON object per line with `level`, `message`, `service`, `correlation_id` and our
keys (`run_id`, `key`, `error_code`, ...). The selection runs server-side as a JSON filter pattern and once
more here, so the result is exact even where the pattern is only an approximation (a key with characters a
pattern cannot hold exactly) or not supported (moto).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from hydration_cli.aws.logs import LogGroupNotFoundError, RawLogEvent
from hydration_cli.deployment import SERVICES, Deployment
from hydration_cli.outcome import Result

ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
ERROR_MESSAGES = frozenset({"ObjectTransferError", "MalformedTransferMessage"})
# Characters a filter pattern's quoted value cannot hold as themselves (`*` is its wildcard).
PATTERN_UNSAFE = frozenset('"\\*')
# --follow: each poll asks again for this much before the newest event seen (CloudWatch Logs may make an
# event visible a little after a later one); events already printed are recognised by their id.
FOLLOW_OVERLAP_MS = 15_000
FOLLOW_MAX_EVENTS_PER_POLL = 10_000  # per log group; the rest comes with the next poll (no overlap then)


@dataclass(frozen=True)
class LogQuery:
    """Which lines: of these functions, of one run, errors only, mentioning one S3 key."""

    services: tuple[str, ...] = SERVICES
    run_id: str | None = None
    errors: bool = False
    key: str | None = None


class LogEvent(BaseModel):
    timestamp: datetime
    function: str
    level: str | None = None
    message: str
    run_id: str | None = None
    key: str | None = None
    fields: dict[str, Any] = {}  # the whole JSON line (empty if the line is not JSON)
    log_stream: str | None = None


class LogsReport(Result):
    since: datetime
    until: datetime
    run_id: str | None
    errors_only: bool
    key: str | None = None
    log_groups: dict[str, str]
    missing_log_groups: list[str] = []
    events: list[LogEvent]
    truncated: bool = False


def _quoted(value: str) -> str | None:
    """`"value"` for a filter pattern; for a value a pattern cannot hold exactly, a wildcard on its longest
    safe prefix (`"data/a*"`), or None if there is none (the selection then happens here only)."""
    safe = ""
    for char in value:
        if char in PATTERN_UNSAFE or not char.isascii() or not char.isprintable():
            return f'"{safe}*"' if safe else None
        safe += char
    return f'"{safe}"'


def filter_pattern(query: LogQuery) -> str:
    """The CloudWatch Logs JSON filter pattern for the selection ("" for everything)."""
    terms = []
    if query.run_id:
        terms.append(f'($.correlation_id = "{query.run_id}" || $.run_id = "{query.run_id}")')
    if query.errors:
        levels = " || ".join(f'$.level = "{level}"' for level in sorted(ERROR_LEVELS))
        messages = " || ".join(f'$.message = "{m}"' for m in sorted(ERROR_MESSAGES))
        terms.append(f"({levels} || {messages})")
    if query.key and (quoted := _quoted(query.key)):
        terms.append(f"$.key = {quoted}")
    return "{ " + " && ".join(terms) + " }" if terms else ""


def _fields(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def matches(fields: dict[str, Any], line: str, query: LogQuery) -> bool:
    if query.run_id and query.run_id not in (fields.get("correlation_id"), fields.get("run_id")):
        return False
    if query.key is not None and fields.get("key") != query.key:
        return False
    if query.errors:
        if not fields:  # a plain-text line: Lambda's own ("Task timed out", runtime errors)
            return "ERROR" in line or "Task timed out" in line
        return str(fields.get("level", "")).upper() in ERROR_LEVELS or fields.get("message") in ERROR_MESSAGES
    return True


def _event(service: str, raw: RawLogEvent) -> LogEvent:
    line = raw.message.rstrip("\n")
    fields = _fields(line)
    return LogEvent(
        timestamp=datetime.fromtimestamp(raw.timestamp_ms / 1000, UTC),
        function=service,
        level=fields.get("level"),
        message=str(fields.get("message", line)) if fields else line,
        run_id=fields.get("run_id") or fields.get("correlation_id"),
        key=fields.get("key"),
        fields=fields,
        log_stream=raw.log_stream,
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def fetch(deployment: Deployment, *, since: datetime, until: datetime, query: LogQuery, limit: int = 500) -> LogsReport:
    pattern = filter_pattern(query)
    groups = {service: deployment.log_group(service) for service in query.services}
    report = LogsReport(
        since=since,
        until=until,
        run_id=query.run_id,
        errors_only=query.errors,
        key=query.key,
        log_groups=groups,
        events=[],
    )
    for service, group in groups.items():
        last: deque[LogEvent] = deque(maxlen=limit)  # the newest `limit` lines of this group
        try:
            for raw in deployment.log_groups.events(group, start_ms=_ms(since), end_ms=_ms(until), pattern=pattern):
                event = _event(service, raw)
                if matches(event.fields, raw.message, query):
                    report.truncated |= len(last) == limit
                    last.append(event)
        except LogGroupNotFoundError:
            report.missing_log_groups.append(group)  # the function has never run
        report.events += last
    report.events.sort(key=lambda e: e.timestamp)
    if len(report.events) > limit:
        report.events = report.events[-limit:]
        report.truncated = True
    return report


@dataclass
class _Cursor:
    """Where a followed log group stands: the newest timestamp seen and the ids printed since the overlap."""

    start_ms: int
    seen: dict[str, int] = field(default_factory=dict)  # event id -> timestamp (ms)
    behind: bool = False  # the last poll stopped at FOLLOW_MAX_EVENTS_PER_POLL: go on from the newest event


class Follower:
    """New lines of several log groups, each returned once, in time order within a poll."""

    def __init__(self, deployment: Deployment, query: LogQuery, since: datetime) -> None:
        self._deployment = deployment
        self._query = query
        self._pattern = filter_pattern(query)
        self._groups = {service: deployment.log_group(service) for service in query.services}
        self._cursors = {service: _Cursor(_ms(since)) for service in query.services}
        self.missing_log_groups: set[str] = set()

    def poll(self) -> list[LogEvent]:
        new: list[LogEvent] = []
        for service, group in self._groups.items():
            try:
                new += self._poll_group(service, group, self._cursors[service])
                self.missing_log_groups.discard(group)
            except LogGroupNotFoundError:
                self.missing_log_groups.add(group)
        return sorted(new, key=lambda e: e.timestamp)

    def _poll_group(self, service: str, group: str, cursor: _Cursor) -> Iterator[LogEvent]:
        newest = max(cursor.seen.values(), default=cursor.start_ms)
        start = max(cursor.start_ms, newest if cursor.behind else newest - FOLLOW_OVERLAP_MS)
        events = self._deployment.log_groups.events(group, start_ms=start, pattern=self._pattern)
        cursor.behind = False
        for count, raw in enumerate(events, start=1):
            if raw.event_id not in cursor.seen:
                cursor.seen[raw.event_id] = raw.timestamp_ms
                event = _event(service, raw)
                if matches(event.fields, raw.message, self._query):
                    yield event
            if count >= FOLLOW_MAX_EVENTS_PER_POLL:
                cursor.behind = True
                break
        newest = max(cursor.seen.values(), default=cursor.start_ms)
        cursor.seen = {i: t for i, t in cursor.seen.items() if t >= newest - FOLLOW_OVERLAP_MS}


def follow(
    deployment: Deployment,
    *,
    since: datetime,
    query: LogQuery,
    interval: float,
    sleep: Callable[[float], None],
    on_event: Callable[[LogEvent], None],
    on_missing: Callable[[str], None] = lambda _: None,
) -> None:
    """Print new lines every `interval` seconds until interrupted (KeyboardInterrupt)."""
    follower = Follower(deployment, query, since)
    noted: set[str] = set()
    while True:
        for event in follower.poll():
            on_event(event)
        for group in sorted(follower.missing_log_groups - noted):
            on_missing(group)
            noted.add(group)
        sleep(interval)
