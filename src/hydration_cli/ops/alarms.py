"""The stack's CloudWatch alarms and their states."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from hydration_cli.deployment import Deployment

# The alarms that notify the alarm topic (on ALARM and on OK), as the consumer stack names them. The composite
# RunNotStartedAlarm stands for its two parts (ScheduleInvocationFailedAlarm, NoRunStartedAlarm), which notify
# nothing themselves.
ALARMS = (
    "SyncStaleAlarm",
    "RunNotStartedAlarm",
    "ReconcileNotStartedAlarm",
    "InflightUploadPinsMarkerAlarm",
    "LambdaErrorAlarm",
    "LambdaDurationAlarm",
    "CopierDurationAlarm",
    "DlqDepthAlarm",
    "ObjectsFailedAlarm",
    "BacklogAgeAlarm",
    "InvocationDlqDepthAlarm",
    "RetentionRiskAlarm",
    "DlqRetentionRiskAlarm",
    "RunIncompleteAlarm",
    "CopierThrottlesAlarm",
    "PlannerDlqDepthAlarm",
    "DeletesRefusedAlarm",
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
    found = deployment.cloudwatch.alarms(list(names))
    states = []
    for name, short in names.items():
        alarm = found.get(name)
        if alarm is None:
            states.append(AlarmState(alarm=short, name=name, state=MISSING))
        else:
            states.append(
                AlarmState(
                    alarm=short,
                    name=name,
                    state=alarm.state,
                    reason=alarm.reason,
                    updated_at=alarm.updated_at,
                    threshold=alarm.threshold,
                )
            )
    return states
