"""`metrics`: the S3Hydration metrics (dimension `service`) over a window, through GetMetricData."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from hydration import METRICS_NAMESPACE
from hydration_cli.aws.cloudwatch import MetricQuery
from hydration_cli.deployment import Deployment
from hydration_cli.outcome import Result

POINTS = 24  # buckets per series (the sparkline's width)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    service: str  # the Powertools `service` dimension of the function that emits it
    stat: str
    unit: str
    kind: str | None = None  # the `kind` dimension of a metric emitted per run kind (RunsNotStarted)

    @property
    def dimensions(self) -> dict[str, str]:
        return {"service": self.service} | ({"kind": self.kind} if self.kind else {})


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("KeysEnqueued", "planner-worker", "Sum", "Count"),
    MetricSpec("BytesEnqueued", "planner-worker", "Sum", "Bytes"),
    MetricSpec("KeysEnqueueFailed", "planner-worker", "Sum", "Count"),
    MetricSpec("RunsStarted", "planner", "Sum", "Count"),
    MetricSpec("ObjectsTransferred", "copier", "Sum", "Count"),
    MetricSpec("ObjectsSkipped", "copier", "Sum", "Count"),
    MetricSpec("ObjectsVanished", "copier", "Sum", "Count"),
    MetricSpec("ObjectsArchived", "copier", "Sum", "Count"),
    MetricSpec("ObjectsFailed", "copier", "Sum", "Count"),
    MetricSpec("ObjectsRetried", "copier", "Sum", "Count"),
    MetricSpec("BytesTransferred", "copier", "Sum", "Bytes"),
    MetricSpec("CopyLatency", "copier", "Average", "Milliseconds"),
    MetricSpec("RunDurationSeconds", "runs", "Maximum", "Seconds"),
    MetricSpec("RunFailedObjects", "runs", "Sum", "Count"),
    MetricSpec("RunsIncomplete", "runs", "Sum", "Count"),
    MetricSpec("UnsettledKeysSwept", "finalizer", "Sum", "Count"),
    MetricSpec("SyncAgeSeconds", "finalizer", "Maximum", "Seconds"),
    MetricSpec("DriftMissing", "planner-worker", "Sum", "Count"),
    MetricSpec("DriftDifferent", "planner-worker", "Sum", "Count"),
    MetricSpec("DeletesRefused", "planner-worker", "Sum", "Count"),
    MetricSpec("ObjectsDeleted", "planner-worker", "Sum", "Count"),
    MetricSpec("OldestInflightUploadAgeSeconds", "planner", "Maximum", "Seconds"),
    MetricSpec("RunsNotStarted", "planner", "Sum", "Count", kind="reconcile"),  # what ReconcileNotStartedAlarm reads
)


class Series(BaseModel):
    name: str
    service: str
    stat: str
    unit: str
    value: float | None  # over the window: the sum (Sum), the mean of the buckets (Average), the max (Maximum)
    points: list[float | None]  # one per period, oldest first; no data: 0 for a Sum, None otherwise


class MetricsReport(Result):
    namespace: str
    since: datetime
    until: datetime
    period_seconds: int
    series: list[Series]


PERIODS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)


def period_for(window: timedelta, points: int = POINTS) -> int:
    """The smallest usual period that splits the window into about `points` buckets (or fewer)."""
    wanted = window.total_seconds() / points
    for period in PERIODS:
        if period >= wanted * 0.99:  # a window a few seconds over 24h still gets hourly points
            return period
    return math.ceil(wanted / 86400) * 86400


def _summary(stat: str, values: list[float]) -> float | None:
    if not values:
        return None
    if stat == "Sum":
        return sum(values)
    if stat == "Maximum":
        return max(values)
    return sum(values) / len(values)


def align(since: datetime, until: datetime, period: int) -> tuple[datetime, datetime]:
    """Whole periods: CloudWatch buckets datapoints from period boundaries, a partial bucket is dropped."""
    start = math.floor(since.timestamp() / period) * period
    end = math.ceil(until.timestamp() / period) * period
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(max(end, start + period), UTC)


def metrics(deployment: Deployment, since: datetime, until: datetime) -> MetricsReport:
    period = period_for(until - since)
    since, until = align(since, until, period)
    queries = [
        MetricQuery(f"m{i}", METRICS_NAMESPACE, spec.name, spec.dimensions, period, spec.stat)
        for i, spec in enumerate(METRICS)
    ]
    data = deployment.cloudwatch.metric_data(queries, since, until)
    buckets = max(1, math.ceil((until - since).total_seconds() / period))
    series = []
    for i, spec in enumerate(METRICS):
        points: list[list[float]] = [[] for _ in range(buckets)]
        for stamp, value in data[f"m{i}"]:
            index = int((stamp.astimezone(UTC) - since).total_seconds() // period)
            points[min(max(index, 0), buckets - 1)].append(value)
        values = [v for _, v in data[f"m{i}"]]
        series.append(
            Series(
                name=spec.name,
                service=spec.service + (f" kind={spec.kind}" if spec.kind else ""),
                stat=spec.stat,
                unit=spec.unit,
                value=_summary(spec.stat, values),
                points=[_summary(spec.stat, p) if p or spec.stat != "Sum" else 0.0 for p in points],
            )
        )
    return MetricsReport(namespace=METRICS_NAMESPACE, since=since, until=until, period_seconds=period, series=series)
