"""`logs`: the three functions' log groups through FilterLogEvents, by run (correlation id) and level.

Powertools writes one JSON object per line with `level`, `message`, `service`, `correlation_id` and our
keys (`run_id`, `key`, `error_code`, ...). The selection runs server-side as a JSON filter pattern and once
more here, so the result is the same where a pattern is not supported (moto, LocalStack).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from hydration_cli.aws.logs import LogGroupNotFoundError, RawLogEvent
from hydration_cli.deployment import SERVICES, Deployment
from hydration_cli.outcome import Result

ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
ERROR_MESSAGES = frozenset({"ObjectTransferError", "MalformedTransferMessage"})


@dataclass(frozen=True)
class LogQuery:
    """Which lines: of these functions, of one run, errors only."""

    services: tuple[str, ...] = SERVICES
    run_id: str | None = None
    errors: bool = False


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
    log_groups: dict[str, str]
    missing_log_groups: list[str] = []
    events: list[LogEvent]
    truncated: bool = False


def filter_pattern(query: LogQuery) -> str:
    """The CloudWatch Logs JSON filter pattern for the selection ("" for everything)."""
    terms = []
    if query.run_id:
        terms.append(f'($.correlation_id = "{query.run_id}" || $.run_id = "{query.run_id}")')
    if query.errors:
        levels = " || ".join(f'$.level = "{level}"' for level in sorted(ERROR_LEVELS))
        messages = " || ".join(f'$.message = "{m}"' for m in sorted(ERROR_MESSAGES))
        terms.append(f"({levels} || {messages})")
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
