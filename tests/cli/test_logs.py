"""`logs`: FilterLogEvents over the three log groups; by run (correlation id) and level."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from hydration_cli.ops.logs import LogQuery, filter_pattern
from tests.cli.conftest import FUNCTIONS, Deployed, json_out, text_records
from tests.integration.harness import REGION


def powertools_line(service: str, level: str, message: str, run_id: str | None = None, **extra: Any) -> str:
    line: dict[str, Any] = {"level": level, "message": message, "service": service, **extra}
    if run_id:
        line.update(correlation_id=run_id, run_id=run_id)
    return json.dumps(line)


def put_logs(lines: dict[str, list[str]], age_seconds: int = 60, stream: str = "s") -> None:
    logs = boto3.client("logs", region_name=REGION)
    stamp = int((time.time() - age_seconds) * 1000)
    for n, (service, messages) in enumerate(lines.items()):
        group = f"/aws/lambda/{FUNCTIONS[service]}"
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        if not logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
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
    lines = [line.split(" ", 2)[2] for line in result.stdout.splitlines()]  # without the time
    assert lines == [
        "planner   INFO    run started run=r-1",
        "planner   INFO    run started run=r-2",
        "copier    ERROR   ObjectTransferError run=r-1 key=a error_code=AccessDenied",
        "copier    WARNING ObjectVanished run=r-1 key=b",
        "copier    ERROR   ObjectTransferError run=r-2 key=c error_code=SlowDown",
        "copier    -       Task timed out after 900.00 seconds",
        "finalizer INFO    run completed run=r-1",
    ]


def test_logs_text_records(deployed: Deployed, run_cli) -> None:
    seed()
    records = text_records(run_cli("logs", "--function", "copier", "--output", "text"))
    assert [r[2:] for r in records] == [
        ["copier", "ERROR", "ObjectTransferError", "r-1", "a"],
        ["copier", "WARNING", "ObjectVanished", "r-1", "b"],
        ["copier", "ERROR", "ObjectTransferError", "r-2", "c"],
        ["copier", "None", "Task timed out after 900.00 seconds", "None", "None"],
    ]
    assert all(r[0] == "EVENT" and r[1].endswith("Z") for r in records)


def test_logs_by_run_id(deployed: Deployed, run_cli) -> None:
    seed()
    out = json_out(run_cli("logs", "--run-id", "r-1", "--output", "json"))
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
    out = json_out(run_cli("logs", "--errors", "--run-id", "r-2", "--function", "copier", "--output", "json"))
    assert [e["key"] for e in out["events"]] == ["c"]
    assert out["log_groups"] == {"copier": "/aws/lambda/s3-hydration-copier"}


def test_logs_since_excludes_older_lines(deployed: Deployed, run_cli) -> None:
    put_logs({"planner": [powertools_line("planner", "INFO", "old", "r-0")]}, age_seconds=7200)
    out = json_out(run_cli("logs", "--since", "1h", "--function", "planner", "--output", "json"))
    assert out["events"] == []
    out = json_out(run_cli("logs", "--since", "3h", "--function", "planner", "--output", "json"))
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
    assert filter_pattern(LogQuery()) == ""
    assert filter_pattern(LogQuery(run_id="r-1")) == '{ ($.correlation_id = "r-1" || $.run_id = "r-1") }'
    pattern = filter_pattern(LogQuery(run_id="r-1", errors=True))
    assert pattern.startswith('{ ($.correlation_id = "r-1"')
    assert '$.level = "ERROR"' in pattern
    assert '$.message = "ObjectTransferError"' in pattern


def test_logs_limit_keeps_the_newest_lines(deployed: Deployed, run_cli) -> None:
    seed()
    result = run_cli("logs", "--function", "copier", "--limit", "2", "--output", "json")
    assert [e["message"] for e in json_out(result)["events"]] == [
        "ObjectTransferError",
        "Task timed out after 900.00 seconds",
    ]
    assert json_out(result)["truncated"] is True
    assert "showing the newest 2 lines" in result.stderr
