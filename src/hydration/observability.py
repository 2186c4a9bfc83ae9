"""The one place that creates the Powertools logger, metrics and tracer.

Every function imports these three; the service name comes from POWERTOOLS_SERVICE_NAME.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from hydration import METRICS_NAMESPACE

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
tracer = Tracer()

# Every metric the code emits (namespace S3Hydration). Alarms and the dashboard may only use these:
# tests/infra checks the templates against this list.
METRIC_NAMES: frozenset[str] = frozenset(
    {
        "ObjectsTransferred",
        "ObjectsSkipped",
        "ObjectsFailed",
        "ObjectsVanished",
        "ObjectsRetried",
        "BytesTransferred",
        "CopyLatency",
        "KeysEnqueued",
        "BytesEnqueued",
        "KeysEnqueueFailed",
        "RunsStarted",
        "RunDurationSeconds",
        "RunFailedObjects",
        "RunsIncomplete",
        "UnsettledKeysSwept",
        "SyncAgeSeconds",
        "DriftMissing",
        "DriftDifferent",
        "DeletesRefused",
        "ObjectsDeleted",
    }
)

RUN_SERVICE = "runs"  # the `service` dimension of run-level metrics, whichever function closed the run


def run_metric(name: str, unit: MetricUnit, value: float) -> None:
    """A metric about a whole run. Any of the three functions may close a run (the copier that settles its
    last key, the planner, the finalizer), so these carry `service=runs` rather than the emitter's name."""
    with single_metric(
        name=name, unit=unit, value=value, namespace=METRICS_NAMESPACE, default_dimensions={"service": RUN_SERVICE}
    ):
        pass


__all__ = ["METRIC_NAMES", "RUN_SERVICE", "MetricUnit", "logger", "metrics", "run_metric", "tracer"]
