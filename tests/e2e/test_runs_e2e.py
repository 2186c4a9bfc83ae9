"""Runs on LocalStack as operators follow them: a run started the way the schedule starts it (an asynchronous
invoke with a Scheduled Event) is found and followed to its end by `s3-hydration runs watch`, and its end is
published on the default event bus (caught by a rule with an SQS target, created here and removed after).

Skipped when LocalStack is not running.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import poll
from tests.e2e.test_cli_e2e import head, s3h

pytestmark = pytest.mark.e2e
SLOW_COPY_MS = 15_000  # long enough to cancel the run while its key is being copied
Events = Callable[[], list[dict[str, Any]]]


def scheduled_event(outputs: dict[str, Any]) -> dict[str, Any]:
    """What EventBridge sends the planner from its schedule rule."""
    account = outputs.get("ConsumerAccountId", "111111111111")
    region = outputs.get("Region", "us-east-1")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [
            f"arn:aws:events:{region}:{account}:rule/{outputs.get('ScheduleRuleName', 's3-hydration-schedule')}"
        ],
        "detail": {},
    }


@pytest.fixture
def run_end_events(deployment: Any) -> Iterator[Events]:
    """Every `s3-hydration` event on the default bus from now on, through a rule and a queue of this test's."""
    sqs, events = deployment.client("sqs"), deployment.client("events")
    name = f"s3h-e2e-run-events-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": arn,
                        }
                    ],
                }
            )
        },
    )
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["s3-hydration"]}))
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    received: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        received.extend(json.loads(message["Body"]) for message in got)
        return received

    try:
        yield read
    finally:
        events.remove_targets(Rule=name, Ids=["queue"])
        events.delete_rule(Name=name)
        sqs.delete_queue(QueueUrl=url)


def test_runs_watch_follows_a_scheduled_run_and_its_end_event_is_published(
    deployment: Any, producer_s3: Any, outputs: dict[str, Any], run_end_events: Events
) -> None:
    # Given no active run, and two new objects in the producer bucket
    poll(lambda: deployment.runs.active_run_id() is None, timeout=300, interval=2, what="no active run")
    prefix = f"runs-e2e/{uuid.uuid4().hex[:8]}/"
    keys = [f"{prefix}a.txt", f"{prefix}b.txt"]
    for key in keys:
        producer_s3.put_object(Bucket=outputs["ProducerBucketName"], Key=key, Body=key.encode())
    # When the planner is invoked as the schedule invokes it (asynchronously, a Scheduled Event)
    deployment.functions.invoke_async(deployment.function_name("planner"), scheduled_event(outputs))
    # and the active run is watched
    result = s3h(
        outputs, "runs", "watch", "--interval", "2s", "--start-timeout", "2m", "--timeout", "5m", "--output", "json"
    )
    # Then the watch found the run the schedule's event started and followed it to its end
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    run = out["run"]
    assert (run["kind"], run["status"]) == ("incremental", "COMPLETED")
    assert out["progress"]["keys_settled"] == run["keys_enqueued"] >= 2
    for key in keys:
        assert head(deployment, key) is not None, key
    # and its end went out on the default bus: source s3-hydration, "Run Completed", the run's books
    ended = poll(
        lambda: [e for e in run_end_events() if e["detail"].get("run_id") == run["run_id"]],
        timeout=60,
        interval=1,
        what=f"the end event of run {run['run_id']}",
    )
    [event] = ended
    assert (event["source"], event["detail-type"]) == ("s3-hydration", "Run Completed")
    assert event["detail"]["status"] == "COMPLETED"
    assert event["detail"]["keys_settled"] == event["detail"]["keys_enqueued"] == run["keys_enqueued"]
    assert event["detail"]["marker"] is not None


def test_runs_cancel_stops_a_run_whose_queued_keys_still_drain(
    deployment: Any,
    producer_s3: Any,
    outputs: dict[str, Any],
    run_end_events: Events,
    faults: Any,
) -> None:
    # Given a prefix run whose one copy takes a while (the LocalStack fault plugin delays it)
    poll(lambda: deployment.runs.active_run_id() is None, timeout=300, interval=2, what="no active run")
    prefix = f"runs-e2e/{uuid.uuid4().hex[:8]}/"
    key = f"{prefix}a.txt"
    producer_s3.put_object(Bucket=outputs["ProducerBucketName"], Key=key, Body=b"cancelled")
    faults.add(service="s3", operation="CopyObject", match=f"^{key}$", action="delay", delay_ms=SLOW_COPY_MS)
    started = s3h(outputs, "trigger", "--yes", "--prefix", prefix, "--output", "json")
    assert started.exit_code == 0, started.output
    run_id = json.loads(started.stdout)["run_id"]
    poll(lambda: _status(deployment, run_id) == "DRAINING", timeout=60, interval=1, what=f"run {run_id} DRAINING")
    # When it is cancelled
    result = s3h(outputs, "runs", "cancel", run_id, "--yes")
    # Then it is CANCELLED, the lock is free, and `Run Cancelled` went out on the default bus
    assert result.exit_code == 0, result.output
    assert deployment.runs.get(run_id).status.value == "CANCELLED"
    assert deployment.runs.active_run_id() is None
    [event] = poll(
        lambda: [e for e in run_end_events() if e["detail"].get("run_id") == run_id],
        timeout=60,
        interval=1,
        what=f"the Run Cancelled event of run {run_id}",
    )
    assert (event["detail-type"], event["detail"]["status"]) == ("Run Cancelled", "CANCELLED")
    # When its copy ends, the key lands and settles in the cancelled run's books
    poll(lambda: head(deployment, key), timeout=120, interval=2, what=f"{key} in the consumer bucket")
    poll(lambda: deployment.runs.get(run_id).keys_settled == 1, timeout=60, interval=1, what="the key settled")
    run = deployment.runs.get(run_id)
    assert (run.status.value, run.marker_written) == ("CANCELLED", None)  # never closed: the marker stays


def _status(deployment: Any, run_id: str) -> str | None:
    from hydration.errors import RunNotFoundError

    try:
        return str(deployment.runs.get(run_id).status.value)
    except RunNotFoundError:
        return None
