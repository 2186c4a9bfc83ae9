"""Transfer message bodies as the DLQ commands read them. hydration.models.TransferMessage reads both forms
a DLQ may hold (several objects, `"v": 2`; one object, the first format `"v": 1`); a body is forwarded as it
is, or re-encoded (JSON with ASCII escapes) with a subset of its objects when only some keys are redriven."""

from __future__ import annotations

from pydantic import ValidationError

from hydration.models import TransferMessage, describe_validation_error


class InvalidBodyError(ValueError):
    """Not a transfer message; the message says why."""


def parse(body: str) -> TransferMessage:
    try:
        return TransferMessage.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidBodyError(describe_validation_error(exc)) from exc


def only(message: TransferMessage, keys: set[str]) -> str:
    """The body of the same message with only the objects of these keys."""
    return message.model_copy(update={"objects": [o for o in message.objects if o.key in keys]}).to_body()
