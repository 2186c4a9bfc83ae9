"""Field types shared by every model: UTC datetimes, S3 keys, and readable validation errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationError

MAX_KEY_BYTES = 1024


def as_utc(value: Any) -> Any:
    """Accept ISO-8601 datetimes and dates; naive values are taken as UTC."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            try:
                value = date.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an ISO-8601 date or time") from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(as_utc)]


def iso(moment: datetime) -> str:
    """A fixed-width UTC timestamp (microseconds always present), so stored times compare as strings."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_key(key: str) -> str:
    if not key:
        raise ValueError("an S3 key cannot be empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"an S3 key is at most {MAX_KEY_BYTES} bytes of UTF-8")
    return key


S3Key = Annotated[str, AfterValidator(_check_key)]


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the field: `since: '2024-13-01' is not an ISO-8601 date or time`."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "payload"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)
