"""The one place that creates the Powertools logger, metrics and tracer.

Every function imports these three; the service name comes from POWERTOOLS_SERVICE_NAME.

Traces: each function's invocation is a segment (capture_lambda_handler); the planner's and the finalizer's
carry the run they work on (annotation `run_id`), and each key the copier copies is a subsegment `## copy`
annotated with its `run_id` and `key`, so X-Ray finds a run's or a key's traces with a filter expression:
`annotation.run_id = "20240501T060000Z-a1b2c3"`, `annotation.key = "data/a.parquet"`. The tracer is
Powertools' on the X-Ray SDK (in maintenance since 2026-02-25, supported until 2027-02-25): the plan to move
to OpenTelemetry is in docs/architecture.md (Tracing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
        "ObjectsArchived",
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
        "OldestInflightUploadAgeSeconds",
        "RunsNotStarted",
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


def dimensioned_metric(name: str, unit: MetricUnit, value: float, *, service: str, **dimensions: str) -> None:
    """A metric with dimensions beyond `service` (e.g. the run's kind), in an EMF document of its own."""
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": service, **dimensions},
    ):
        pass


# X-Ray keeps an annotation's string value to a bounded length: a key (up to 1,024 bytes) is cut to this.
ANNOTATION_MAX_CHARS = 500


def annotate_run(run_id: str, *, on: Any = None) -> None:
    """Annotate the invocation's trace with the run it works on (`annotation.run_id`)."""
    (on or tracer).put_annotation(key="run_id", value=run_id)


@contextmanager
def traced_key(run_id: str, key: str, *, on: Any = None) -> Iterator[None]:
    """A `## copy` subsegment around one key's copy, annotated with its run and key. Runs in the copier's
    pool threads: in Lambda the X-Ray SDK gives each thread the invocation's trace."""
    active = on or tracer
    if active.disabled:
        yield
        return
    with active.provider.in_subsegment("## copy") as subsegment:
        subsegment.put_annotation("run_id", run_id)
        subsegment.put_annotation("key", key[:ANNOTATION_MAX_CHARS])
        yield


__all__ = [
    "METRIC_NAMES",
    "RUN_SERVICE",
    "MetricUnit",
    "annotate_run",
    "dimensioned_metric",
    "logger",
    "metrics",
    "run_metric",
    "traced_key",
    "tracer",
]
