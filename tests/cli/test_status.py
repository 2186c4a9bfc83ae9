"""`status`: marker, active run and progress, queue depths, alarm states, ledger size."""

from __future__ import annotations

import re

import boto3

from hydration_cli.ops.alarms import ALARMS
from tests.cli.conftest import PREFIX, Deployed, json_out, put_objects, text_records
from tests.integration.harness import REGION
from tests.moto_faults import Faults


def make_alarms(state: dict[str, str]) -> None:
    cw = boto3.client("cloudwatch", region_name=REGION)
    for alarm in ALARMS:
        cw.put_metric_alarm(
            AlarmName=f"{PREFIX}-{alarm}",
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
        cw.set_alarm_state(AlarmName=f"{PREFIX}-{alarm}", StateValue=state.get(alarm, "OK"), StateReason="test")
    # an alarm of another deployment with the same prefix must not show up
    cw.put_metric_alarm(
        AlarmName=f"{PREFIX}-dev-DlqDepthAlarm",
        Namespace="AWS/SQS",
        MetricName="X",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )


def test_status_json_during_a_run(deployed: Deployed, run_cli) -> None:
    # Given a started run (not followed: its messages wait on the queue) and an alarm firing
    put_objects(deployed.world, "data/a.txt", "data/b.txt", "data/c.txt")
    make_alarms({"DlqDepthAlarm": "ALARM"})
    assert run_cli("trigger", "--yes").exit_code == 0
    out = json_out(run_cli("status", "--output", "json"))
    assert out["stack"] == "s3-hydration-consumer"
    assert out["last_sync"]["exists"] is False
    assert out["active_run"]["status"] == "DRAINING"
    assert out["active_run"]["keys_enqueued"] == 3
    assert out["active_run"]["keys_settled"] == 0
    assert out["transfer_queue"] == {"visible": 1, "in_flight": 0, "delayed": 0}  # one message, three keys
    assert out["transfer_dlq"]["visible"] == 0
    assert out["invocation_dlq"]["visible"] == 0
    assert out["failure_ledger"] == 0
    states = {a["alarm"]: a["state"] for a in out["alarms"]}
    assert states["DlqDepthAlarm"] == "ALARM"
    assert states["LambdaErrorAlarm"] == "OK"
    assert len(out["alarms"]) == len(ALARMS)


def test_status_table_after_a_run(deployed: Deployed, run_cli, faults: Faults) -> None:
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    put_objects(deployed.world, "data/a.txt", "data/bad.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 1
    result = run_cli("status")
    assert result.exit_code == 0, result.output
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert rows["stack"] == "s3-hydration-consumer (bucket consumer-data)"
    assert rows["last sync"].startswith("synced to ")
    assert rows["active run"] == "none"
    assert " COMPLETED_WITH_FAILURES " in rows["last run"]
    assert rows["transfer queue"] == "0 visible, 0 in flight, 0 delayed"
    assert rows["transfer DLQ"] == "1 visible, 0 in flight, 0 delayed"
    assert rows["invocation DLQ"] == "0 visible, 0 in flight, 0 delayed"
    assert rows["failure ledger"] == "1 key(s)"
    assert rows["alarm LambdaErrorAlarm"] == "MISSING"


def test_status_text_records(deployed: Deployed, run_cli) -> None:
    make_alarms({"DlqDepthAlarm": "ALARM"})
    result = run_cli("status", "--output", "text")
    assert result.exit_code == 0, result.output
    records = text_records(result)
    assert records[0] == ["STACK", "s3-hydration-consumer", "consumer-data"]
    assert records[1] == ["LASTSYNC", "False", "None", "None", "None"]
    assert ["QUEUE", "transfer-dlq", "0", "0", "0"] in records
    assert ["LEDGER", "0", "0"] in records
    assert ["ALARM", "DlqDepthAlarm", "ALARM", "s3-hydration-DlqDepthAlarm"] in records
    assert all(record[0] != "ACTIVERUN" for record in records)
