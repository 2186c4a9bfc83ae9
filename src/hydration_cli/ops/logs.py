"""`logs`: the three functions' log groups through FilterLogEvents, by run (correlation id) and level.

Powertools writes one JSON object per line with `level`, `message`, `service`, `correlation_id` and our
keys (`run_id`, `key`, `error_code`, ...). The filter runs server-side as a JSON filter pattern and once
more here, so the result is the same where a pattern is not supported (moto, LocalStack).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from hydration_cli.deployment import SERVICES, Deployment

ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
ERROR_MESSAGES = frozenset({"ObjectTransferError", "MalformedTransferMessage"})


class LogEvent(BaseModel):
    timestamp: datetime
    function: str
    level: str | None = None
    message: str
    run_id: str | None = None
    key: str | None = None
    fields: dict[str, Any] = {}  # the whole JSON line (empty if the line is not JSON)
    log_stream: str | None = None


class LogsReport(BaseModel):
    since: datetime
    until: datetime
    run_id: str | None
    errors_only: bool
    log_groups: dict[str, str]
    missing_log_groups: list[str] = []
    events: list[LogEvent]
    truncated: bool = False


def filter_pattern(run_id: str | None, errors: bool) -> str:
    """The CloudWatch Logs JSON filter pattern for the selection ("" for everything)."""
    terms = []
    if run_id:
        terms.append(f'($.correlation_id = "{run_id}" || $.run_id = "{run_id}")')
    if errors:
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


def matches(fields: dict[str, Any], line: str, run_id: str | None, errors: bool) -> bool:
    if run_id and run_id not in (fields.get("correlation_id"), fields.get("run_id")):
        return False
    if errors:
        if not fields:  # a plain-text line: Lambda's own ("Task timed out", runtime errors)
            return "ERROR" in line or "Task timed out" in line
        return str(fields.get("level", "")).upper() in ERROR_LEVELS or fields.get("message") in ERROR_MESSAGES
    return True


def _event(service: str, raw: dict[str, Any]) -> LogEvent:
    line = raw.get("message", "").rstrip("\n")
    fields = _fields(line)
    return LogEvent(
        timestamp=datetime.fromtimestamp(raw["timestamp"] / 1000, UTC),
        function=service,
        level=fields.get("level"),
        message=str(fields.get("message", line)) if fields else line,
        run_id=fields.get("run_id") or fields.get("correlation_id"),
        key=fields.get("key"),
        fields=fields,
        log_stream=raw.get("logStreamName"),
    )


def fetch(
    deployment: Deployment,
    *,
    since: datetime,
    until: datetime,
    run_id: str | None,
    errors: bool,
    services: tuple[str, ...] = SERVICES,
    limit: int = 500,
) -> LogsReport:
    logs = deployment.client("logs")
    pattern = filter_pattern(run_id, errors)
    groups = {service: deployment.log_group(service) for service in services}
    report = LogsReport(since=since, until=until, run_id=run_id, errors_only=errors, log_groups=groups, events=[])
    for service, group in groups.items():
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "startTime": int(since.timestamp() * 1000),
            "endTime": int(until.timestamp() * 1000),
        }
        if pattern:
            kwargs["filterPattern"] = pattern
        kept = 0
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                for raw in page.get("events", []):
                    event = _event(service, raw)
                    if matches(event.fields, raw.get("message", ""), run_id, errors):
                        report.events.append(event)
                        kept += 1
                if kept >= limit:
                    report.truncated = True
                    break
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            report.missing_log_groups.append(group)  # the function has never run
    report.events.sort(key=lambda e: e.timestamp)
    if len(report.events) > limit:
        report.events = report.events[-limit:]
        report.truncated = True
    return report
