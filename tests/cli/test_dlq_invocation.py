"""`dlq peek --invocation` and `dlq redrive --invocation`: failed planner/finalizer events, as Lambda leaves
them in the invocation DLQ (a function's DeadLetterConfig, or an on-failure destination record)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import boto3

from tests.cli.conftest import FUNCTIONS, Deployed, json_out, text_records
from tests.integration.harness import ACCOUNT, REGION


def dead_event(deployed: Deployed, payload: Any, request_id: str = "req-1", error: str = "Task timed out") -> str:
    """A failed async event as a DeadLetterConfig leaves it: the body is the event, the error in attributes."""
    return str(
        deployed.world.sqs.send_message(
            QueueUrl=deployed.invocation_dlq_url,
            MessageBody=json.dumps(payload),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": error},
            },
        )["MessageId"]
    )


def destination_record(deployed: Deployed, function: str, payload: Any) -> str:
    """A failed async event as an on-failure destination records it."""
    record = {
        "version": "1.0",
        "timestamp": "2024-05-01T06:00:05.000Z",
        "requestContext": {
            "requestId": "req-9",
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTIONS[function]}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "AccessDenied", "errorMessage": "not allowed"},
    }
    return str(
        deployed.world.sqs.send_message(QueueUrl=deployed.invocation_dlq_url, MessageBody=json.dumps(record))[
            "MessageId"
        ]
    )


def logged_request(function: str, request_id: str) -> None:
    """Lambda's START line for a request in the function's log group."""
    logs = boto3.client("logs", region_name=REGION)
    group = f"/aws/lambda/{FUNCTIONS[function]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": int(time.time() * 1000) - 1000, "message": f"START RequestId: {request_id} Version: 1"}
        ],
    )


def invocation_dlq_bodies(deployed: Deployed) -> list[str]:
    sqs = deployed.world.sqs
    got = sqs.receive_message(QueueUrl=deployed.invocation_dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in got.get("Messages", []))


def test_peek_tells_the_function_of_each_event(deployed: Deployed, run_cli) -> None:
    # Given events of both functions: known by their payload, by a destination record, by the logs, and unknown
    dead_event(deployed, {"continue_run": "r-1"}, request_id="req-1")
    dead_event(deployed, {"run_id": "r-1"}, request_id="req-2")
    destination_record(deployed, "finalizer", {})
    logged_request("planner", "req-3")
    dead_event(deployed, {}, request_id="req-3")
    dead_event(deployed, {}, request_id="req-4")
    # When the invocation DLQ is peeked
    result = run_cli("dlq", "peek", "--invocation", "--output", "json", "--exit-code")
    # Then each event shows its function, how that was told, and its error; nothing is consumed
    assert result.exit_code == 3, result.output
    seen = {m["request_id"]: (m["function"], m["function_from"], m["payload"]) for m in json_out(result)["messages"]}
    assert seen == {
        "req-1": ("planner", "payload", {"continue_run": "r-1"}),
        "req-2": ("finalizer", "payload", {"run_id": "r-1"}),
        "req-9": ("finalizer", "record", {}),
        "req-3": ("planner", "logs", {}),
        "req-4": (None, None, {}),
    }
    errors = {m["request_id"]: (m["error_code"], m["error_message"]) for m in json_out(result)["messages"]}
    assert errors["req-1"] == ("200", "Task timed out")
    assert errors["req-9"] == ("AccessDenied", "not allowed")
    assert len(invocation_dlq_bodies(deployed)) == 5


def test_peek_table_and_text(deployed: Deployed, run_cli) -> None:
    message_id = dead_event(deployed, {"continue_run": "r-1"})
    table = run_cli("dlq", "peek", "--invocation")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0] == "invocation DLQ: 1 visible, 0 in flight; showing 1"
    assert lines[1].split() == [
        "MESSAGE",
        "FUNCTION",
        "EVENT",
        "ERROR",
        "ERROR",
        "MESSAGE",
        "REQUEST",
        "RECEIVES",
        "AGE",
    ]
    assert re.split(r"\s{2,}", lines[3])[:-1] == [  # the last column is the age
        message_id,
        "planner (payload)",
        '{"continue_run":"r-1"}',
        "200",
        "Task timed out",
        "req-1",
        "1",
    ]
    [record] = text_records(run_cli("dlq", "peek", "--invocation", "--output", "text"))
    assert record[:6] == ["EVENT", message_id, "planner", '{"continue_run":"r-1"}', "200", "req-1"]


def test_peek_empty_invocation_dlq_is_success(deployed: Deployed, run_cli) -> None:
    result = run_cli("dlq", "peek", "--invocation")
    assert result.exit_code == 0
    assert result.stdout == "the invocation DLQ is empty\n"


def test_redrive_invokes_the_function_again_and_deletes_the_message(deployed: Deployed, run_cli) -> None:
    # Given a failed full run request in the invocation DLQ and an object to copy
    deployed.world.s3.put_object(Bucket=deployed.world.producer_bucket, Key="data/a.txt", Body=b"data")
    message_id = dead_event(deployed, {"full": True})
    # When it is redriven
    result = run_cli("dlq", "redrive", "--yes", "--invocation", "--all")
    # Then the planner ran the event (a full run started), and the message is gone
    assert result.exit_code == 0, result.output
    assert result.stdout == f"invoked again 1 event(s):\n  {message_id}  planner (payload)  " + '{"full":true}\n'
    runs = json_out(run_cli("runs", "list", "--output", "json"))["runs"]
    assert [(r["kind"], r["keys_enqueued"]) for r in runs] == [("full", 1)]
    assert invocation_dlq_bodies(deployed) == []


def test_redrive_leaves_events_of_unknown_function_unless_told(deployed: Deployed, run_cli) -> None:
    # Given a `{}` (both schedules send it) whose request id is in no log
    dead_event(deployed, {}, request_id="req-unknown")
    result = run_cli("dlq", "redrive", "--yes", "--invocation", "--all")
    assert result.exit_code == 1
    assert "its function cannot be told: --function planner|finalizer names it" in result.stdout
    assert invocation_dlq_bodies(deployed) == ["{}"]
    # When the operator names the function
    result = run_cli("dlq", "redrive", "--yes", "--invocation", "--all", "--function", "planner")
    # Then it is replayed there: an incremental run, as the schedule starts
    assert result.exit_code == 0, result.output
    assert [r["kind"] for r in json_out(run_cli("runs", "list", "--output", "json"))["runs"]] == ["incremental"]
    assert invocation_dlq_bodies(deployed) == []


def test_redrive_one_message_dry_run_exits_3_and_changes_nothing(deployed: Deployed, run_cli) -> None:
    wanted = dead_event(deployed, {"continue_run": "r-1"}, request_id="req-1")
    dead_event(deployed, {"run_id": "r-2"}, request_id="req-2")
    result = run_cli(
        "dlq", "redrive", "--invocation", "--message-id", wanted, "--dry-run", "--output", "text", "--exit-code"
    )
    assert result.exit_code == 3
    records = text_records(result)
    assert [r[:3] for r in records] == [["REPLAYED", wanted, "planner"], ["LEFT", "1"]]
    assert deployed.invoked == []
    assert len(invocation_dlq_bodies(deployed)) == 2


def test_redrive_unknown_message_id_exits_1(deployed: Deployed, run_cli) -> None:
    dead_event(deployed, {"run_id": "r-2"})
    result = run_cli("dlq", "redrive", "--yes", "--invocation", "--message-id", "nope", "--output", "json")
    assert result.exit_code == 1
    assert json_out(result)["missing_ids"] == ["nope"]
    assert deployed.invoked == []


def test_invocation_redrive_usage_errors(deployed: Deployed, run_cli) -> None:
    assert run_cli("dlq", "redrive", "--yes", "--invocation", "--key", "k").exit_code == 2
    result = run_cli("dlq", "redrive", "--yes", "--invocation")
    assert result.exit_code == 2
    assert "choose one of --all, --message-id ID" in result.stderr
