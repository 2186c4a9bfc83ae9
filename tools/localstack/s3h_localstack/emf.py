"""Embedded Metric Format (EMF) log lines -> CloudWatch PutMetricData requests.

On AWS, CloudWatch Logs extracts metrics from log events that are EMF JSON documents. LocalStack does not,
so the executor feeds every function log line through here and sends the result to PutMetricData.
Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

MAX_DATUMS_PER_REQUEST = 1000


def parse_emf(line: str) -> dict[str, Any] | None:
    """The EMF document in a log line, or None if the line is not one."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    aws = document.get("_aws")
    if not isinstance(aws, dict) or not isinstance(aws.get("CloudWatchMetrics"), list):
        return None
    return document


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _datums(document: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    aws = document["_aws"]
    timestamp_ms = aws.get("Timestamp")
    timestamp = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC) if _is_number(timestamp_ms) else datetime.now(UTC)
    for directive in aws["CloudWatchMetrics"]:
        if not isinstance(directive, dict) or not isinstance(directive.get("Namespace"), str):
            continue
        dimension_sets = directive.get("Dimensions") or [[]]
        for dimension_set in dimension_sets:
            if not isinstance(dimension_set, list):
                continue
            values = [document.get(name) for name in dimension_set]
            if not all(isinstance(v, str) for v in values):
                continue  # CloudWatch Logs drops a dimension set whose values are missing or not strings
            dimensions = [{"Name": n, "Value": v} for n, v in zip(dimension_set, values, strict=True)]
            for metric in directive.get("Metrics") or []:
                if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
                    continue
                raw = document.get(metric["Name"])
                datum: dict[str, Any] = {
                    "MetricName": metric["Name"],
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "Unit": metric.get("Unit") or "None",
                }
                if metric.get("StorageResolution") in (1, 60):
                    datum["StorageResolution"] = metric["StorageResolution"]
                if _is_number(raw):
                    datum["Value"] = float(raw)
                elif isinstance(raw, list) and raw and all(_is_number(v) for v in raw):
                    datum["Values"] = [float(v) for v in raw]
                else:
                    continue
                yield directive["Namespace"], datum


def put_metric_data_requests(lines: Iterable[str]) -> list[dict[str, Any]]:
    """PutMetricData keyword arguments (Namespace, MetricData) for the EMF documents among ``lines``."""
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        document = parse_emf(line)
        if document is None:
            continue
        for namespace, datum in _datums(document):
            by_namespace[namespace].append(datum)
    requests = []
    for namespace, datums in by_namespace.items():
        for start in range(0, len(datums), MAX_DATUMS_PER_REQUEST):
            requests.append({"Namespace": namespace, "MetricData": datums[start : start + MAX_DATUMS_PER_REQUEST]})
    return requests
