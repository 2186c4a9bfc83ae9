"""CloudWatch: metric data (GetMetricData, every page) and alarm states (DescribeAlarms)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

QUERIES_PER_CALL = 500


@dataclass(frozen=True)
class MetricQuery:
    """One statistic of one metric, bucketed by `period` seconds."""

    id: str
    namespace: str
    name: str
    dimensions: dict[str, str]
    period: int
    stat: str

    def request(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions.items()],
                },
                "Period": self.period,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


@dataclass(frozen=True)
class Alarm:
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str
    updated_at: datetime | None
    threshold: float | None


class CloudWatch:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def metric_data(
        self, queries: list[MetricQuery], since: datetime, until: datetime
    ) -> dict[str, list[tuple[datetime, float]]]:
        """query id -> [(timestamp, value)], oldest first."""
        out: dict[str, list[tuple[datetime, float]]] = {q.id: [] for q in queries}
        for start in range(0, len(queries), QUERIES_PER_CALL):
            kwargs: dict[str, Any] = {
                "MetricDataQueries": [q.request() for q in queries[start : start + QUERIES_PER_CALL]],
                "StartTime": since,
                "EndTime": until,
                "ScanBy": "TimestampAscending",
            }
            while True:
                response = self._client.get_metric_data(**kwargs)
                for result in response.get("MetricDataResults", []):
                    out[result["Id"]] += list(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
                if not response.get("NextToken"):
                    break
                kwargs["NextToken"] = response["NextToken"]
        for values in out.values():
            values.sort(key=lambda pair: pair[0])
        return out

    def alarms(self, names: list[str]) -> dict[str, Alarm]:
        """The alarms of these names that exist (metric and composite), by name."""
        found: dict[str, Alarm] = {}
        paginator = self._client.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            alarms: list[Any] = [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
            for alarm in alarms:
                found[alarm["AlarmName"]] = Alarm(
                    name=alarm["AlarmName"],
                    state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
                    reason=alarm.get("StateReason", ""),
                    updated_at=alarm.get("StateUpdatedTimestamp"),
                    threshold=alarm.get("Threshold"),
                )
        return found
