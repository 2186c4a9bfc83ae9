"""Transfer message bodies as the DLQ commands read them. hydration.models.parse_message reads every form a
DLQ may hold (objects, `"v": 2`; one object, the first format `"v": 1`; parts of a fanned-out upload); a body
is forwarded as it is, or re-encoded (JSON with ASCII escapes) with a subset of its objects when only some keys
are redriven."""

from __future__ import annotations

from pydantic import ValidationError

from hydration.models import PartsMessage, TransferMessage, describe_validation_error, parse_message


class InvalidBodyError(ValueError):
    """Not a transfer message; the message says why."""


def parse(body: str) -> TransferMessage | PartsMessage:
    try:
        return parse_message(body)
    except ValidationError as exc:
        raise InvalidBodyError(describe_validation_error(exc)) from exc


def only(message: TransferMessage | PartsMessage, keys: set[str]) -> str:
    """The body of the same message with only the objects of these keys (a parts message has one key)."""
    if isinstance(message, PartsMessage):
        return message.to_body()
    return message.model_copy(update={"objects": [o for o in message.objects if o.key in keys]}).to_body()
