"""The stack's CloudWatch alarms and their states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hydration_cli.deployment import Deployment

ALARMS = (
    "LambdaErrorAlarm",
    "LambdaDurationAlarm",
    "DlqDepthAlarm",
    "ObjectsFailedAlarm",
    "BacklogAgeAlarm",
    "InvocationDlqDepthAlarm",
    "RetentionRiskAlarm",
    "DlqRetentionRiskAlarm",
    "RunIncompleteAlarm",
)
MISSING = "MISSING"


class AlarmState(BaseModel):
    alarm: str  # the short name, e.g. DlqDepthAlarm
    name: str  # the CloudWatch alarm name, e.g. s3-hydration-DlqDepthAlarm
    state: str  # OK | ALARM | INSUFFICIENT_DATA | MISSING (not found)
    reason: str = ""
    updated_at: datetime | None = None
    threshold: float | None = None


def alarm_states(deployment: Deployment) -> list[AlarmState]:
    prefix = deployment.resource_prefix
    names = {f"{prefix}-{alarm}": alarm for alarm in ALARMS}
    found: dict[str, dict[str, Any]] = {}
    paginator = deployment.client("cloudwatch").get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmNames=list(names), AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
            found[alarm["AlarmName"]] = alarm
    states = []
    for name, short in names.items():
        alarm = found.get(name)
        if alarm is None:
            states.append(AlarmState(alarm=short, name=name, state=MISSING))
            continue
        states.append(
            AlarmState(
                alarm=short,
                name=name,
                state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
                reason=alarm.get("StateReason", ""),
                updated_at=alarm.get("StateUpdatedTimestamp"),
                threshold=alarm.get("Threshold"),
            )
        )
    return states
