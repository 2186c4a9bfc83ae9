"""The invocation DLQ: planner and finalizer events (the schedules', the planner's own `continue_run`) that
failed every asynchronous attempt. Peek shows each event and the error Lambda recorded; redrive invokes the
function again, asynchronously as the original was, then deletes the message.

Why not an SQS message move task, as for the transfer DLQ: this queue is fed by Lambda, not by a queue's
redrive policy. There is no source queue to move the messages back to, and a message on a queue invokes
nothing: only a new invocation with the same payload replays the event.

Two message forms are read: a function's DeadLetterConfig (the body is the event; the message attributes
RequestID, ErrorCode, ErrorMessage) and an on-failure destination record (`requestContext.functionArn`,
`requestPayload`, `responsePayload`). Which function an event belongs to: the record's function ARN; else
the payload (`continue_run`, `full`, ... are the planner's; `run_id` is the finalizer's; a scheduled event
names its rule); else the request id, looked up in both functions' logs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from hydration.models import PlannerRequest
from hydration_cli.aws.logs import LogGroupNotFoundError
from hydration_cli.aws.queues import Received
from hydration_cli.deployment import Deployment
from hydration_cli.ops.dlq import PEEK_VISIBILITY, REDRIVE_VISIBILITY, QueuePeek, QueueScan
from hydration_cli.outcome import ExitCode, Result

FUNCTIONS = ("planner", "finalizer")  # the functions whose failed async events land in this queue
PLANNER_FIELDS = frozenset(PlannerRequest.model_fields)
# Lambda retries an asynchronous event for up to 6 hours: the failed attempts' logs lie in this window.
LOG_WINDOW_BEFORE = timedelta(hours=6, minutes=30)
LOG_WINDOW_AFTER = timedelta(minutes=10)

FunctionSource = Literal["record", "payload", "logs", "option"]


class InvocationMessage(BaseModel):
    message_id: str
    function: str | None  # planner | finalizer; None: not known
    function_from: FunctionSource | None = None
    payload: Any = None  # the original event
    problem: str | None = None  # why the message cannot be replayed (a body that is not JSON)
    request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    receive_count: int = 0
    sent_at: datetime | None = None
    age_seconds: float | None = None


class InvocationPeek(QueuePeek):
    messages: list[InvocationMessage]


class InvocationRedrive(Result):
    dry_run: bool
    replayed: list[InvocationMessage] = []  # invoked again and deleted (in a dry run: would be)
    unknown: list[InvocationMessage] = []  # function not known (or not replayable): left in the DLQ
    left: int = 0  # not selected, left in the DLQ
    missing_ids: list[str] = []  # --message-id values not in the DLQ

    @property
    def exit_code(self) -> ExitCode:
        if self.missing_ids or self.unknown:
            return ExitCode.FAILURE
        return ExitCode.FOUND if self.dry_run and self.replayed else ExitCode.OK


def _service(deployment: Deployment, function_arn_or_name: str) -> str | None:
    name = function_arn_or_name.split(":function:")[-1].split(":")[0]
    return next((s for s in FUNCTIONS if deployment.function_name(s) == name), None)


def _from_payload(deployment: Deployment, payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    if payload.get("detail-type") == "Scheduled Event":
        rules = {
            deployment.outputs.get("ScheduleRuleName"): "planner",
            deployment.outputs.get("FinalizerScheduleRuleName"): "finalizer",
        }
        for resource in payload.get("resources", []):
            service = rules.get(str(resource).rsplit("/", 1)[-1])
            if service:
                return service
        return None
    if PLANNER_FIELDS & payload.keys():
        return "planner"
    if "run_id" in payload:
        return "finalizer"
    return None  # `{}`: both schedules send it


def _from_logs(deployment: Deployment, request_id: str, sent_at: datetime | None) -> str | None:
    """The function whose log group mentions the request id (Lambda's START/END/REPORT lines do)."""
    if sent_at is None:
        return None
    start = int((sent_at - LOG_WINDOW_BEFORE).timestamp() * 1000)
    end = int((sent_at + LOG_WINDOW_AFTER).timestamp() * 1000)
    found = []
    for service in FUNCTIONS:
        events = deployment.log_groups.events(
            deployment.log_group(service), start_ms=start, end_ms=end, pattern=f'"{request_id}"'
        )
        try:
            if any(request_id in event.message for event in events):
                found.append(service)
        except LogGroupNotFoundError:
            continue
    return found[0] if len(found) == 1 else None


def describe_message(deployment: Deployment, message: Received, now: datetime) -> InvocationMessage:
    attributes = message.message_attributes
    item = InvocationMessage(
        message_id=message.message_id,
        function=None,
        request_id=attributes.get("RequestID"),
        error_code=attributes.get("ErrorCode"),
        error_message=attributes.get("ErrorMessage"),
        receive_count=message.receive_count,
        sent_at=message.sent_at,
        age_seconds=(now - message.sent_at).total_seconds() if message.sent_at else None,
    )
    try:
        body = json.loads(message.body)
    except json.JSONDecodeError:
        return item.model_copy(update={"payload": message.body, "problem": "the body is not JSON: not an event"})
    if isinstance(body, dict) and "requestContext" in body and "requestPayload" in body:
        context, response = body["requestContext"], body.get("responsePayload") or {}
        return item.model_copy(
            update={
                "payload": body["requestPayload"],
                "function": _service(deployment, str(context.get("functionArn", ""))),
                "function_from": "record",
                "request_id": context.get("requestId"),
                "error_code": response.get("errorType") if isinstance(response, dict) else None,
                "error_message": response.get("errorMessage") if isinstance(response, dict) else str(response),
            }
        )
    item.payload = body
    if (service := _from_payload(deployment, body)) is not None:
        return item.model_copy(update={"function": service, "function_from": "payload"})
    if item.request_id and (service := _from_logs(deployment, item.request_id, item.sent_at)) is not None:
        return item.model_copy(update={"function": service, "function_from": "logs"})
    return item


def _queue_url(deployment: Deployment) -> str:
    return deployment.output("InvocationDlqUrl")


def peek(deployment: Deployment, max_messages: int, now: datetime) -> InvocationPeek:
    url = _queue_url(deployment)
    current = deployment.queues.depth(url)
    scan = QueueScan(deployment.queues, url, PEEK_VISIBILITY)
    try:
        messages = [
            describe_message(deployment, m, now) for m in scan.messages(expected=current.visible, limit=max_messages)
        ]
    finally:
        scan.release()
    return InvocationPeek(queue_url=url, visible=current.visible, in_flight=current.in_flight, messages=messages)


def redrive(
    deployment: Deployment,
    *,
    message_ids: list[str] | None,
    function: str | None,
    dry_run: bool,
    now: datetime,
) -> InvocationRedrive:
    """Invoke each selected event's function again (asynchronously), then delete its message. `function`
    names the function for events whose function cannot be told; without it they are left and reported."""
    url = _queue_url(deployment)
    wanted = set(message_ids or [])
    report = InvocationRedrive(dry_run=dry_run)
    scan = QueueScan(deployment.queues, url, PEEK_VISIBILITY if dry_run else REDRIVE_VISIBILITY)
    found: set[str] = set()
    try:
        for message in scan.messages(expected=deployment.queues.depth(url).visible):
            if wanted and message.message_id not in wanted:
                report.left += 1
                continue
            found.add(message.message_id)
            item = describe_message(deployment, message, now)
            if item.function is None and function is not None and item.problem is None:
                item = item.model_copy(update={"function": function, "function_from": "option"})
            if item.function is None or item.problem is not None:
                report.unknown.append(item)
                continue
            if not dry_run:
                deployment.functions.invoke_async(deployment.function_name(item.function), item.payload)
                scan.delete(message)
            report.replayed.append(item)
    finally:
        scan.release()
    report.missing_ids = sorted(wanted - found)
    return report
