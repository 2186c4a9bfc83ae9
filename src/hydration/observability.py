"""The one place that creates the Powertools logger, metrics and tracer.

Every function imports these three; the service name comes from POWERTOOLS_SERVICE_NAME.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

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
        "BytesTransferred",
        "CopyLatency",
        "KeysEnqueued",
        "BytesEnqueued",
        "RunDurationSeconds",
        "RunFailedObjects",
        "DriftMissing",
        "DriftDifferent",
    }
)

__all__ = ["METRIC_NAMES", "MetricUnit", "logger", "metrics", "tracer"]
