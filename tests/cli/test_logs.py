"""`logs`: FilterLogEvents over the three log groups; by run (correlation id) and level."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from hydration_cli.ops.logs import filter_pattern
from tests.cli.conftest import FUNCTIONS, Deployed, json_out
from tests.integration.harness import REGION


def powertools_line(service: str, level: str, message: str, run_id: str | None = None, **extra: Any) -> str:
    line: dict[str, Any] = {"level": level, "message": message, "service": service, **extra}
    if run_id:
        line.update(correlation_id=run_id, run_id=run_id)
    return json.dumps(line)


def put_logs(lines: dict[str, list[str]], age_seconds: int = 60) -> None:
    logs = boto3.client("logs", region_name=REGION)
    stamp = int((time.time() - age_seconds) * 1000)
    for n, (service, messages) in enumerate(lines.items()):
        group = f"/aws/lambda/{FUNCTIONS[service]}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": stamp + 100 * n + i, "message": m} for i, m in enumerate(messages)],
        )


def seed() -> None:
    put_logs(
        {
            "planner": [
                powertools_line("planner", "INFO", "run started", "r-1"),
                powertools_line("planner", "INFO", "run started", "r-2"),
            ],
            "copier": [
                powertools_line("copier", "ERROR", "ObjectTransferError", "r-1", key="a", error_code="AccessDenied"),
                powertools_line("copier", "WARNING", "ObjectVanished", "r-1", key="b"),
                powertools_line("copier", "ERROR", "ObjectTransferError", "r-2", key="c", error_code="SlowDown"),
                "Task timed out after 900.00 seconds",
            ],
            "finalizer": [powertools_line("finalizer", "INFO", "run completed", "r-1")],
        }
    )


def test_logs_all_lines_of_the_last_hour_in_time_order(deployed: Deployed, run_cli) -> None:
    seed()
    result = run_cli("logs")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 7
    assert "planner" in lines[0]


def test_logs_by_run_id(deployed: Deployed, run_cli) -> None:
    seed()
    out = json_out(run_cli("logs", "--run-id", "r-1", "--json"))
    assert [(e["function"], e["message"]) for e in out["events"]] == [
        ("planner", "run started"),
        ("copier", "ObjectTransferError"),
        ("copier", "ObjectVanished"),
        ("finalizer", "run completed"),
    ]


def test_logs_errors_only(deployed: Deployed, run_cli) -> None:
    seed()
    result = run_cli("logs", "--errors")
    assert result.exit_code == 0
    assert "key=a error_code=AccessDenied" in result.stdout
    assert "key=c" in result.stdout
    assert "Task timed out" in result.stdout
    assert "run started" not in result.stdout


def test_logs_errors_of_one_run_and_one_function(deployed: Deployed, run_cli) -> None:
    seed()
    out = json_out(run_cli("logs", "--errors", "--run-id", "r-2", "--function", "copier", "--json"))
    assert [e["key"] for e in out["events"]] == ["c"]
    assert out["log_groups"] == {"copier": "/aws/lambda/s3-hydration-copier"}


def test_logs_since_excludes_older_lines(deployed: Deployed, run_cli) -> None:
    put_logs({"planner": [powertools_line("planner", "INFO", "old", "r-0")]}, age_seconds=7200)
    out = json_out(run_cli("logs", "--since", "1h", "--function", "planner", "--json"))
    assert out["events"] == []
    out = json_out(run_cli("logs", "--since", "3h", "--function", "planner", "--json"))
    assert [e["message"] for e in out["events"]] == ["old"]


def test_logs_missing_log_groups_are_a_note(deployed: Deployed, run_cli) -> None:
    result = run_cli("logs")
    assert result.exit_code == 0
    assert "log group /aws/lambda/s3-hydration-planner does not exist yet" in result.stderr


def test_logs_bad_since_is_a_usage_error(deployed: Deployed, run_cli) -> None:
    result = run_cli("logs", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "is not a time" in result.stderr


def test_filter_pattern_is_a_cloudwatch_json_pattern() -> None:
    assert filter_pattern(None, False) == ""
    assert filter_pattern("r-1", False) == '{ ($.correlation_id = "r-1" || $.run_id = "r-1") }'
    pattern = filter_pattern("r-1", True)
    assert pattern.startswith('{ ($.correlation_id = "r-1"')
    assert '$.level = "ERROR"' in pattern
    assert '$.message = "ObjectTransferError"' in pattern
