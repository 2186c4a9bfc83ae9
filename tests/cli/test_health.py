"""`health`: exit 0 when healthy, 1 with the failing check named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from hydration import MARKER_KEY
from hydration.marker import Marker
from tests.cli.conftest import FUNCTIONS, Deployed, json_out, put_objects, text_records
from tests.cli.test_status import make_alarms
from tests.integration.harness import REGION
from tests.moto_faults import Faults


def checks(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c["name"]: c["status"] for c in json_out(result)["checks"]}


def table_rows(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """CHECK -> STATUS from the table (its first two columns)."""
    return {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()[2:-1]}


def fresh_marker(deployed: Deployed, age: timedelta = timedelta(0)) -> None:
    body = Marker(datetime.now(UTC) - age, {}).render().encode()
    deployed.world.s3.put_object(Bucket=deployed.world.consumer_bucket, Key=MARKER_KEY, Body=body)


def test_healthy_after_a_clean_run(deployed: Deployed, run_cli) -> None:
    make_alarms({})
    put_objects(deployed.world, "data/a.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 0
    result = run_cli("health")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "DETAIL"]
    assert lines[-1] == "healthy"
    assert set(table_rows(result).values()) == {"ok"}
    assert set(checks(run_cli("health", "--output", "json")).values()) == {"ok"}
    records = text_records(run_cli("health", "--output", "text"))
    assert records[-1] == ["HEALTH", "healthy"]
    assert {r[1]: r[2] for r in records[:-1]} == dict.fromkeys(table_rows(result), "ok")


def test_dlq_over_threshold_and_failed_keys_are_unhealthy(
    deployed: Deployed, run_cli, monkeypatch, faults: Faults
) -> None:
    make_alarms({})
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    put_objects(deployed.world, "data/bad.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 1
    result = run_cli("health")
    assert result.exit_code == 1
    assert table_rows(result)["transfer-dlq"] == "fail"
    assert result.stdout.splitlines()[-1] == "UNHEALTHY"
    found = checks(run_cli("health", "--output", "json"))
    assert found["transfer-dlq"] == "fail"
    assert found["runs"] == "warn"
    assert found["failure-ledger"] == "warn"


def test_an_alarm_in_alarm_is_unhealthy(deployed: Deployed, run_cli) -> None:
    make_alarms({"LambdaErrorAlarm": "ALARM"})
    fresh_marker(deployed)
    result = run_cli("health", "--output", "json")
    assert result.exit_code == 1
    assert checks(result)["alarms"] == "fail"


def test_lambda_errors_are_unhealthy(deployed: Deployed, run_cli) -> None:
    make_alarms({})
    fresh_marker(deployed)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": FUNCTIONS["copier"]}],
                "Value": 2,
            }
        ],
    )
    result = run_cli("health")
    assert result.exit_code == 1
    assert table_rows(result)["function-errors"] == "fail"
    assert "unhandled errors/timeouts: planner 0, copier 2, finalizer 0" in result.stdout


def test_a_failed_run_in_the_window_is_unhealthy(deployed: Deployed, run_cli, faults: Faults) -> None:
    make_alarms({})
    fresh_marker(deployed)
    put_objects(deployed.world, "data/a.txt")
    faults.add("s3.ListObjectsV2", code="AccessDenied", status=403)  # planning fails: the run is FAILED
    assert run_cli("trigger", "--yes").exit_code == 1
    result = run_cli("health", "--output", "json")
    assert result.exit_code == 1
    assert checks(result)["runs"] == "fail"


def test_an_invocation_dlq_message_is_unhealthy(deployed: Deployed, run_cli) -> None:
    make_alarms({})
    fresh_marker(deployed)
    deployed.world.sqs.send_message(QueueUrl=deployed.invocation_dlq_url, MessageBody="{}")
    result = run_cli("health", "--output", "json")
    assert result.exit_code == 1
    assert checks(result)["invocation-dlq"] == "fail"


def test_a_sync_older_than_max_sync_age_is_critical(deployed: Deployed, run_cli) -> None:
    make_alarms({})
    fresh_marker(deployed, age=timedelta(hours=30))
    result = run_cli("health", "--output", "json")
    assert result.exit_code == 1
    assert checks(result)["last-sync"] == "fail"
    relaxed = run_cli("health", "--max-sync-age", "2d", "--output", "json")
    assert relaxed.exit_code == 0, relaxed.output
    assert checks(relaxed)["last-sync"] == "ok"


def test_a_marker_that_does_not_parse_is_critical(deployed: Deployed, run_cli) -> None:
    make_alarms({})
    deployed.world.s3.put_object(Bucket=deployed.world.consumer_bucket, Key=MARKER_KEY, Body=b"garbage")
    result = run_cli("health", "--output", "json")
    assert result.exit_code == 1
    assert checks(result)["last-sync"] == "fail"


def test_missing_alarms_and_no_marker_are_warnings_only(deployed: Deployed, run_cli) -> None:
    result = run_cli("health", "--output", "json")
    assert result.exit_code == 0, result.output
    found = checks(result)
    assert found["alarms"] == "warn"
    assert found["last-sync"] == "warn"


def test_backlog_age_falls_back_to_the_active_run(deployed: Deployed, run_cli) -> None:
    make_alarms({})
    fresh_marker(deployed)
    put_objects(deployed.world, "data/a.txt")
    assert run_cli("trigger", "--yes").exit_code == 0  # its message waits on the queue
    out = json_out(run_cli("health", "--output", "json"))
    backlog = next(c for c in out["checks"] if c["name"] == "backlog-age")
    assert backlog["status"] == "ok"
    assert "at most the age of run" in backlog["detail"]
