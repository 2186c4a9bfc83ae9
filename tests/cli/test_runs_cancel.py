"""`runs cancel`: a PLANNING or DRAINING run ends CANCELLED (the lock released, a `Run Cancelled` event on the
default bus); its queued keys still drain into its books, but it never closes and the marker stays."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from hydration import MARKER_KEY
from hydration.models import RunStatus
from tests.cli.conftest import Deployed, json_out, put_objects, text_records
from tests.integration.harness import REGION, run_copier


@pytest.fixture
def run_events(deployed: Deployed) -> Callable[[], list[dict[str, Any]]]:
    """The run events published on the default bus so far, as a rule with an SQS target receives them."""
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="run-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="run-events", EventPattern=json.dumps({"source": ["s3-hydration"]}))
    events.put_targets(Rule="run-events", Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return received


def marker_exists(deployed: Deployed) -> bool:
    listed = deployed.world.s3.list_objects_v2(Bucket=deployed.world.consumer_bucket, Prefix=MARKER_KEY)
    return listed.get("KeyCount", 0) == 1


def test_cancel_ends_the_run_and_its_queued_keys_still_drain(
    deployed: Deployed, run_cli, run_events: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a draining run of two keys (their messages on the queue)
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    run_id = run_cli("trigger", "--yes").stdout.split()[1]
    # When it is cancelled
    result = run_cli("runs", "cancel", run_id, "--yes", "--reason", "wrong prefix")
    # Then it ended CANCELLED, with the reason, and the lock is free for the next run
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"run {run_id} CANCELLED: 0/2 keys settled; keys already queued still drain, the sync marker stays\n"
    )
    run = deployed.world.stores.runs.get(run_id)
    assert (run.status, run.error) == (RunStatus.CANCELLED, "wrong prefix")
    assert deployed.world.stores.runs.active_run_id() is None
    # and a `Run Cancelled` event went out on the default bus
    [event] = run_events()
    assert (event["source"], event["detail-type"]) == ("s3-hydration", "Run Cancelled")
    assert (event["detail"]["run_id"], event["detail"]["status"]) == (run_id, "CANCELLED")
    # When the copier drains the queue, the keys land and settle in the cancelled run's books
    run_copier(deployed.world)
    run = deployed.world.stores.runs.get(run_id)
    assert (run.status, run.keys_settled, run.objects_transferred) == (RunStatus.CANCELLED, 2, 2)
    # but the run never closes and the marker stays where it was (none here)
    assert run.marker_written is None
    assert not marker_exists(deployed)


def test_cancel_asks_first_and_a_no_leaves_the_run(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    run_id = run_cli("trigger", "--yes").stdout.split()[1]
    result = run_cli("runs", "cancel", run_id, input="n\n")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"run {run_id}: [------------------------] 0/1 keys, 1 listed")
    assert "Cancel run" in result.stderr
    assert deployed.world.stores.runs.get(run_id).status is RunStatus.DRAINING


def test_cancel_confirmed_at_the_prompt(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    run_id = run_cli("trigger", "--yes").stdout.split()[1]
    result = run_cli("runs", "cancel", run_id, "--output", "text", input="y\n")
    assert result.exit_code == 0, result.output
    run_record, event = text_records(result)
    assert run_record[:3] == ["RUN", run_id, "CANCELLED"]
    assert event == ["EVENT", "Run Cancelled", "True", "None"]


def test_cancel_of_an_ended_run_exits_1(deployed: Deployed, run_cli) -> None:
    put_objects(deployed.world, "data/a.txt")
    run_id = json_out(run_cli("trigger", "--yes", "--wait", "--interval", "0", "--output", "json"))["run_id"]
    result = run_cli("runs", "cancel", run_id, "--yes")
    assert result.exit_code == 1
    assert result.stderr == f"Error: run {run_id} is COMPLETED: only a PLANNING or DRAINING run can be cancelled\n"
    assert deployed.world.stores.runs.get(run_id).status is RunStatus.COMPLETED
