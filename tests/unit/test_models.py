"""Every payload is validated, and a rejection names the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from hydration.errors import InvalidRequestError
from hydration.models import (
    MAX_BODY_BYTES,
    Books,
    ObjectRef,
    Outcome,
    PartsMessage,
    PlannerRequest,
    RunKind,
    TransferMessage,
    describe_validation_error,
    pack,
    parse_finalizer_event,
    parse_message,
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
        ({"keys": ["a", "b"], "force": True}, RunKind.KEYS),
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
        ({"full": True, "prefix": "a/"}, "choose at most one of full, prefix, since, keys, reconcile"),
        ({"prefix": ""}, "prefix:"),
        ({"full": "maybe"}, "full:"),
        ({"continue_run": "r1", "full": True}, "continue_run cannot be combined"),
        ({"reconcile": True, "force": True}, "force: a reconcile run already copies"),
        ({"keys": []}, "keys:"),
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


def _object(**overrides: object) -> dict:
    base = {"key": "a/b.txt", "size": 3, "etag": '"abc"', "last_modified": "2026-11-22T06:00:00Z"}
    return base | overrides


def _message(objects: list[dict] | None = None, **overrides: object) -> dict:
    return {"v": 2, "run_id": "r1", "bucket": "producer", "objects": objects or [_object()]} | overrides


def test_transfer_message_round_trip() -> None:
    message = TransferMessage.model_validate(_message([_object(key="ü ß+%20/x y"), _object(key="b", force=True)]))
    assert TransferMessage.model_validate_json(message.to_body()) == message


@pytest.mark.parametrize("key", ["\uffff", "\ufffe", "a\x01b", "\U0001f600 emoji", "tab\there", "é" * 512])
def test_a_body_is_ascii_whatever_the_key(key: str) -> None:
    """SQS refuses characters outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a raw body;
    every S3 key travels as an ASCII escape."""
    body = TransferMessage.model_validate(_message([_object(key=key)])).to_body()
    assert body.isascii()
    assert TransferMessage.model_validate_json(body).objects[0].key == key


def test_the_first_message_format_is_still_read() -> None:
    """Messages in a DLQ outlive an upgrade: one object, fields at the top."""
    first = {"v": 1, "run_id": "r1", "bucket": "producer", "force": True, **_object(key="old")}
    message = TransferMessage.model_validate(first)
    assert [(o.key, o.force) for o in message.objects] == [("old", True)]


def test_a_message_names_its_sheet_and_each_object_its_slot() -> None:
    """Version 3: the sheet the message's keys were opened in, each object's place in it; both survive a
    round trip, and a version 2 body (no sheet) is still read."""
    v3 = TransferMessage.model_validate(_message([_object(slot=3), _object(key="b", slot=0)], v=3, sheet="00000007.02"))
    again = TransferMessage.model_validate_json(v3.to_body())
    assert (again.v, again.sheet, [o.slot for o in again.objects]) == (3, "00000007.02", [3, 0])
    v2 = TransferMessage.model_validate(_message())
    assert (v2.v, v2.sheet, v2.objects[0].slot) == (2, None, None)
    parts = PartsMessage(run_id="r1", bucket="producer", sheet="s", object=v3.objects[0], upload_id="u", parts=[1])
    assert (parse_message(parts.to_body()).sheet, parse_message(parts.to_body()).objects[0].slot) == ("s", 3)
    with pytest.raises(ValidationError) as caught:
        TransferMessage.model_validate(_message([_object(slot=-1)], v=3, sheet="s"))
    assert describe_validation_error(caught.value).startswith("objects.0.slot:")


def test_every_outcome_has_its_counter_in_the_books() -> None:
    """A new outcome is one enum member and its `objects_<outcome>` field: the books count it, and it counts as
    settled."""
    assert {o.counter for o in Outcome} == {name for name in Books.COUNTERS if name.startswith("objects_")}
    books = Books(**{o.counter: 1 for o in Outcome})
    assert books.keys_settled == len(Outcome)


def test_pack_keeps_messages_within_the_count_and_the_body_limit() -> None:
    objects = [ObjectRef.model_validate(_object(key=f"{i:04}/" + "\u00e9" * 300)) for i in range(25)]
    messages = pack("r1", "producer", objects, per_message=10)
    assert [len(m.objects) for m in messages] == [10, 10, 5]
    assert [o.key for m in messages for o in m.objects] == [o.key for o in objects]
    huge = [ObjectRef.model_validate(_object(key=f"{i:04}" + "\U0001f600" * 250)) for i in range(200)]
    packed = pack("r1", "producer", huge, per_message=100)
    assert all(len(m.to_body()) <= MAX_BODY_BYTES for m in packed)
    assert sum(len(m.objects) for m in packed) == 200


@pytest.mark.parametrize(
    ("objects", "field"),
    [
        ([_object(key="")], "objects.0.key"),
        ([_object(key="é" * 513)], "objects.0.key"),
        ([_object(size=-1)], "objects.0.size"),
        ([_object(etag="")], "objects.0.etag"),
        ([_object(last_modified="not a time")], "objects.0.last_modified"),
        ([_object(surprise=1)], "objects.0.surprise"),
        ([], "objects"),
    ],
)
def test_transfer_message_rejects(objects: list[dict], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TransferMessage.model_validate(_message(objects) if objects else _message() | {"objects": []})
    assert describe_validation_error(caught.value).startswith(f"{field}:")


def test_transfer_message_rejects_a_bad_bucket() -> None:
    with pytest.raises(ValidationError) as caught:
        TransferMessage.model_validate(_message(bucket="x"))
    assert describe_validation_error(caught.value).startswith("bucket:")


def test_planner_request_is_frozen() -> None:
    request = PlannerRequest()
    with pytest.raises(ValidationError):
        request.full = True  # type: ignore[misc]
