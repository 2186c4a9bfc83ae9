"""`metrics`: GetMetricData over the S3Hydration metrics (dimension `service`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from hydration.observability import METRIC_NAMES
from hydration_cli.ops.metrics import METRICS, period_for
from tests.cli.conftest import Deployed, json_out, text_records
from tests.integration.harness import REGION


def put(name: str, service: str, value: float, unit: str = "Count", ago: timedelta = timedelta(0)) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="S3Hydration",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "service", "Value": service}],
                "Value": value,
                "Unit": unit,
                "Timestamp": datetime.now(UTC) - ago,
            }
        ],
    )


def test_the_cli_knows_every_metric_the_code_emits() -> None:
    assert {m.name for m in METRICS} == METRIC_NAMES


def test_metrics_json_sums_the_window(deployed: Deployed, run_cli) -> None:
    put("ObjectsTransferred", "copier", 5)
    put("ObjectsTransferred", "copier", 7, ago=timedelta(hours=3))
    put("ObjectsTransferred", "copier", 100, ago=timedelta(hours=30))  # outside the window
    put("KeysEnqueued", "planner-worker", 12)  # the planner workers enqueue
    put("ObjectsFailed", "planner", 99)  # wrong service dimension: not ours
    out = json_out(run_cli("metrics", "--output", "json"))
    series = {s["name"]: s for s in out["series"]}
    assert series["ObjectsTransferred"]["value"] == 12
    assert series["KeysEnqueued"]["value"] == 12
    assert series["ObjectsFailed"]["value"] is None
    assert out["period_seconds"] == 3600
    assert sum(v for v in series["ObjectsTransferred"]["points"] if v) == 12


def test_metrics_table_with_sparklines(deployed: Deployed, run_cli) -> None:
    put("BytesTransferred", "copier", 3 * 1024 * 1024, unit="Bytes")
    put("RunDurationSeconds", "runs", 125, unit="Seconds")
    result = run_cli("metrics", "--since", "6h")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("BytesTransferred"))
    assert "3.0 MiB" in row
    assert "█" in row
    assert "2m05s" in result.stdout


def test_period_for_picks_usual_periods() -> None:
    assert period_for(timedelta(hours=1)) == 300
    assert period_for(timedelta(hours=24, seconds=2)) == 3600
    assert period_for(timedelta(days=7)) == 12 * 3600


def test_metrics_text_records_carry_raw_values(deployed: Deployed, run_cli) -> None:
    put("BytesTransferred", "copier", 3 * 1024 * 1024, unit="Bytes")
    records = {r[1]: r for r in text_records(run_cli("metrics", "--output", "text"))}
    assert records["BytesTransferred"] == ["METRIC", "BytesTransferred", "copier", "Sum", "Bytes", "3145728.0"]
    assert records["CopyLatency"] == ["METRIC", "CopyLatency", "copier", "Average", "Milliseconds", "None"]
    assert len(records) == len(METRICS)
