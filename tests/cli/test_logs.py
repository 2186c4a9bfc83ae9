"""`logs`: FilterLogEvents over the three log groups; by run (correlation id) and level."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

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


@pytest.mark.parametrize(
    ("key", "term"),
    [
        ("data/2024/a.parquet", '$.key = "data/2024/a.parquet"'),
        ('data/"quoted".txt', '$.key = "data/*"'),  # the longest prefix a pattern can hold, then a wildcard
        ("data/*/star", '$.key = "data/*"'),
        ("données/a", '$.key = "donn*"'),
        ("ü", None),  # nothing safe to match on: filtered here only
    ],
)
def test_filter_pattern_of_a_key(key: str, term: str | None) -> None:
    pattern = filter_pattern(LogQuery(key=key))
    assert pattern == (f"{{ {term} }}" if term else "")


def test_logs_of_one_key(deployed: Deployed, run_cli) -> None:
    seed()
    put_logs({"copier": [powertools_line("copier", "ERROR", "ObjectTransferError", "r-3", key="data/*/a")]}, stream="t")
    out = json_out(run_cli("logs", "--key", "a", "--output", "json"))
    assert [(e["run_id"], e["key"]) for e in out["events"]] == [("r-1", "a")]
    out = json_out(run_cli("logs", "--key", "data/*/a", "--output", "json"))
    assert [(e["run_id"], e["key"]) for e in out["events"]] == [("r-3", "data/*/a")]
    assert out["key"] == "data/*/a"


def test_logs_limit_keeps_the_newest_lines(deployed: Deployed, run_cli) -> None:
    seed()
    result = run_cli("logs", "--function", "copier", "--max-items", "2", "--output", "json")
    assert [e["message"] for e in json_out(result)["events"]] == [
        "ObjectTransferError",
        "Task timed out after 900.00 seconds",
    ]
    assert json_out(result)["truncated"] is True
    assert "showing the newest 2 lines" in result.stderr


# --------------------------------------------------------------------------- --follow


class FollowScript:
    """`sleep` between two polls of `logs --follow`: writes the next batch of lines, then Ctrl-C after the last."""

    def __init__(self, batches: list[dict[str, list[str]]]) -> None:
        self.batches = batches
        self.polls = 0

    def __call__(self, seconds: float) -> None:
        assert seconds >= 1.0  # bounded polling: never a busy loop
        self.polls += 1
        if not self.batches:
            raise KeyboardInterrupt
        put_logs(self.batches.pop(0), age_seconds=1, stream=f"s{self.polls}")


def test_follow_prints_new_lines_of_every_function_once_until_ctrl_c(deployed: Deployed, run_cli) -> None:
    # Given lines already there, and more arriving between polls, in two functions' log groups
    seed()
    script = FollowScript(
        [
            {"copier": [powertools_line("copier", "INFO", "batch done", "r-9")]},
            {},
            {
                "planner": [powertools_line("planner", "INFO", "run started", "r-10")],
                "finalizer": [powertools_line("finalizer", "INFO", "run completed", "r-9")],
            },
        ]
    )
    # When they are followed until Ctrl-C
    result = run_cli("logs", "--follow", "--interval", "0", "--output", "text", sleep=script)
    # Then every line is printed exactly once, the old ones first, and Ctrl-C exits 130
    assert result.exit_code == 130
    lines = [(r[2], r[4], r[5]) for r in text_records(result)]
    assert lines == [
        ("planner", "run started", "r-1"),
        ("planner", "run started", "r-2"),
        ("copier", "ObjectTransferError", "r-1"),
        ("copier", "ObjectVanished", "r-1"),
        ("copier", "ObjectTransferError", "r-2"),
        ("copier", "Task timed out after 900.00 seconds", "None"),
        ("finalizer", "run completed", "r-1"),
        ("copier", "batch done", "r-9"),
        ("planner", "run started", "r-10"),
        ("finalizer", "run completed", "r-9"),
    ]
    assert script.polls == 4


def test_follow_json_is_one_object_per_line_and_honours_the_selection(deployed: Deployed, run_cli) -> None:
    seed()
    script = FollowScript([{"copier": [powertools_line("copier", "ERROR", "ObjectTransferError", "r-1", key="z")]}])
    result = run_cli("logs", "-f", "--errors", "--run-id", "r-1", "--output", "json", sleep=script)
    assert result.exit_code == 130
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["function"], e["key"]) for e in events] == [("copier", "a"), ("copier", "z")]


def test_follow_catches_up_with_a_burst_in_bounded_polls(deployed: Deployed, run_cli, monkeypatch) -> None:
    # Given more lines than one poll takes
    monkeypatch.setattr("hydration_cli.ops.logs.FOLLOW_MAX_EVENTS_PER_POLL", 2)
    seed()
    script = FollowScript([{}, {}, {}])
    result = run_cli("logs", "--follow", "--function", "copier", "--output", "text", sleep=script)
    # Then each poll takes two, the next goes on from there, and every line is printed once
    assert result.exit_code == 130
    assert [r[4] for r in text_records(result)] == [
        "ObjectTransferError",
        "ObjectVanished",
        "ObjectTransferError",
        "Task timed out after 900.00 seconds",
    ]


def test_follow_notes_a_missing_log_group_once(deployed: Deployed, run_cli) -> None:
    script = FollowScript([{}, {}])
    result = run_cli("logs", "--follow", "--function", "planner", sleep=script)
    assert result.exit_code == 130
    assert result.stderr.count("note: log group /aws/lambda/s3-hydration-planner does not exist yet") == 1
