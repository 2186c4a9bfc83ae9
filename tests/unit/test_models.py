"""Every payload is validated, and a rejection names the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from hydration.errors import InvalidRequestError
from hydration.models import (
    PlannerRequest,
    RunKind,
    TransferMessage,
    describe_validation_error,
    parse_finalizer_event,
    parse_planner_event,
)

SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T06:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/s3-hydration-schedule"],
    "detail": {},
}


def test_scheduled_event_is_an_incremental_run() -> None:
    assert parse_planner_event(SCHEDULED).kind is RunKind.INCREMENTAL


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({}, RunKind.INCREMENTAL),
        ({"full": True}, RunKind.FULL),
        ({"prefix": "data/"}, RunKind.PREFIX),
        ({"since": "2026-01-02T03:04:05Z"}, RunKind.SINCE),
        ({"reconcile": True}, RunKind.RECONCILE),
        ({"dry_run": True}, RunKind.INCREMENTAL),
    ],
)
def test_manual_payloads(payload: dict, kind: RunKind) -> None:
    assert parse_planner_event(payload).kind is kind


def test_since_accepts_dates_and_naive_times_as_utc() -> None:
    assert parse_planner_event({"since": "2026-01-02"}).since == datetime(2026, 1, 2, tzinfo=UTC)
    assert parse_planner_event({"since": "2026-01-02T03:00:00"}).since == datetime(2026, 1, 2, 3, tzinfo=UTC)
    assert parse_planner_event({"since": "2026-01-02T05:00:00+02:00"}).since == datetime(2026, 1, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({"ful": True}, "ful: unknown field"),
        ({"since": "yesterday"}, "since: 'yesterday' is not an ISO-8601 date or time"),
        ({"full": True, "prefix": "a/"}, "choose at most one of full, prefix, since, reconcile"),
        ({"prefix": ""}, "prefix:"),
        ({"full": "maybe"}, "full:"),
        ({"continue_run": "r1", "full": True}, "continue_run cannot be combined"),
    ],
)
def test_invalid_payloads_name_the_problem(payload: dict, names: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_planner_event(payload)
    assert names in str(caught.value)


def test_non_object_payload_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="must be a JSON object, got list"):
        parse_planner_event(["full"])


def test_finalizer_payload() -> None:
    assert parse_finalizer_event(SCHEDULED).run_id is None
    assert parse_finalizer_event({"run_id": "r-1"}).run_id == "r-1"
    with pytest.raises(InvalidRequestError, match="run: unknown field"):
        parse_finalizer_event({"run": "r-1"})


def _message(**overrides: object) -> dict:
    base = {
        "run_id": "r1",
        "bucket": "producer",
        "key": "a/b.txt",
        "size": 3,
        "etag": '"abc"',
        "last_modified": "2026-11-22T06:00:00Z",
    }
    return base | overrides


def test_transfer_message_round_trip() -> None:
    message = TransferMessage.model_validate(_message(key="ü ß+%20/x y"))
    assert TransferMessage.model_validate_json(message.to_body()) == message


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"key": ""}, "key"),
        ({"key": "é" * 513}, "key"),
        ({"size": -1}, "size"),
        ({"etag": ""}, "etag"),
        ({"last_modified": "not a time"}, "last_modified"),
        ({"surprise": 1}, "surprise"),
        ({"bucket": "x"}, "bucket"),
    ],
)
def test_transfer_message_rejects(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TransferMessage.model_validate(_message(**overrides))
    assert describe_validation_error(caught.value).startswith(f"{field}:")


def test_planner_request_is_frozen() -> None:
    request = PlannerRequest()
    with pytest.raises(ValidationError):
        request.full = True  # type: ignore[misc]
