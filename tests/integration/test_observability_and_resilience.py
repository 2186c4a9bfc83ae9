"""Metrics and logs as operators read them; credentials that refresh."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hydration.aws import clients
from hydration.observability import logger
from tests.integration.harness import World, cold_start, hydrate, put_object
from tests.moto_faults import Faults


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


class Lines(logging.Handler):
    """Formats each record where it is logged (its thread), as the function's own handler does."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(logger.registered_formatter.format(record)))


def test_metrics_are_emitted_as_emf_in_the_s3hydration_namespace_with_the_service_dimension(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        put_object(world, f"m{i}", b"12345")
    capsys.readouterr()
    hydrate(world)
    emitted = [line for line in _json_lines(capsys.readouterr().out) if "_aws" in line]
    copier = [e for e in emitted if "ObjectsTransferred" in e]
    assert copier, emitted
    directive = copier[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "S3Hydration"
    assert directive["Dimensions"] == [["service"]]
    assert copier[0]["service"] == "s3-hydration-test"  # POWERTOOLS_SERVICE_NAME (copier when deployed)
    assert (
        sum(
            sum(e["ObjectsTransferred"]) if isinstance(e["ObjectsTransferred"], list) else e["ObjectsTransferred"]
            for e in copier
        )
        == 3
    )
    assert (
        sum(
            sum(e["BytesTransferred"]) if isinstance(e["BytesTransferred"], list) else e["BytesTransferred"]
            for e in copier
        )
        == 15
    )
    names = {m["Name"] for e in emitted for m in e["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    from hydration.observability import METRIC_NAMES

    assert names <= METRIC_NAMES
    assert {"KeysEnqueued", "ObjectsTransferred", "RunDurationSeconds", "CopyLatency"} <= names


def test_failures_are_logged_with_key_error_code_and_run_id_as_correlation_id(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    captured = Lines()
    logger._logger.addHandler(captured)
    cold_start(monkeypatch, KEYS_PER_MESSAGE="1")
    faults.add("s3.CopyObject", "^broken key", code="AccessDenied", status=403)
    put_object(world, "broken key+%.txt", b"x")
    result = hydrate(world)
    logger._logger.removeHandler(captured)
    lines = captured.lines
    errors = [e for e in lines if e.get("message") == "ObjectTransferError"]
    assert len(errors) == world.max_receive_count
    for entry in errors:
        assert entry["key"] == "broken key+%.txt"
        assert entry["error_code"] == "AccessDenied"
        assert entry["run_id"] == result["run_id"]
        assert entry["correlation_id"] == result["run_id"]
        assert entry["level"] == "ERROR"
    assert [e["final_attempt"] for e in errors] == [False] * (world.max_receive_count - 1) + [True]


def test_a_batch_mixing_runs_logs_each_failure_under_its_own_run_id(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    """Messages redriven from the DLQ keep their run: one batch may carry two runs, and each failure's log line
    must name the run its key belongs to, not whichever run the batch's threads saw last."""
    from copier.handler import lambda_handler
    from hydration.models.messages import ObjectRef, TransferMessage
    from tests.integration.harness import FakeContext, sqs_event

    cold_start(monkeypatch)
    faults.add("s3.CopyObject", "^broken/", code="AccessDenied", status=403)
    runs = {f"broken/{i}.txt": f"run-{i}" for i in range(6)}
    for key, run_id in runs.items():
        head = put_object(world, key, b"x")
        obj = ObjectRef(key=key, size=1, etag=head["ETag"], last_modified=datetime.now(UTC))
        body = TransferMessage(run_id=run_id, bucket=world.producer_bucket, objects=[obj])
        world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=body.model_dump_json())
    received: list[dict[str, Any]] = []
    while len(received) < len(runs):
        got = world.sqs.receive_message(
            QueueUrl=world.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=60
        )
        received += got.get("Messages", [])
    arn = world.sqs.get_queue_attributes(QueueUrl=world.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    captured = Lines()
    logger._logger.addHandler(captured)
    try:
        response = lambda_handler(sqs_event(received, arn["QueueArn"]), FakeContext(function_name="copier"))
    finally:
        logger._logger.removeHandler(captured)
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        m["MessageId"] for m in received
    )
    errors = [e for e in captured.lines if e.get("message") == "ObjectTransferError"]
    assert sorted(e["key"] for e in errors) == sorted(runs)
    for entry in errors:
        assert (entry["run_id"], entry["correlation_id"]) == (runs[entry["key"]], runs[entry["key"]])


def test_producer_credentials_come_from_assume_role_and_refresh_before_expiry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.credentials

    session = clients.assumed_role_session(world.role_arn, "ext-id", "s3-hydration-test")
    credentials = session.get_credentials()
    assert credentials.method == "assume-role"
    first = credentials.get_frozen_credentials().access_key
    # 55 minutes later (moto's role credentials last an hour), a long run signs another request:
    later = datetime.now(UTC) + timedelta(minutes=55)
    monkeypatch.setattr(botocore.credentials, "_local_now", lambda: later)
    monkeypatch.setattr(credentials, "_time_fetcher", lambda: later)
    assert credentials.refresh_needed()
    second = credentials.get_frozen_credentials().access_key
    assert second != first  # AssumeRole was called again before the old credentials expired
