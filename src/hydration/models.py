"""Every message and payload that crosses a boundary, as pydantic models.

Invalid input is rejected here, with an error that names the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Json,
    ValidationError,
    model_validator,
)

from hydration.errors import InvalidRequestError

MAX_KEY_BYTES = 1024


def _as_utc(value: Any) -> Any:
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


UtcDatetime = Annotated[datetime, BeforeValidator(_as_utc)]


def _check_key(key: str) -> str:
    if not key:
        raise ValueError("an S3 key cannot be empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"an S3 key is at most {MAX_KEY_BYTES} bytes of UTF-8")
    return key


S3Key = Annotated[str, AfterValidator(_check_key)]


class RunStatus(StrEnum):
    PLANNING = "PLANNING"
    DRAINING = "DRAINING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"
    FAILED = "FAILED"

    @property
    def active(self) -> bool:
        return self in (RunStatus.PLANNING, RunStatus.DRAINING)


class RunKind(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"
    PREFIX = "prefix"
    SINCE = "since"
    RECONCILE = "reconcile"

    @property
    def advances_marker(self) -> bool:
        """Only runs that cover the whole configured scope may move the sync marker."""
        return self in (RunKind.INCREMENTAL, RunKind.FULL, RunKind.RECONCILE)


# --------------------------------------------------------------------------- planner input


class PlannerRequest(BaseModel):
    """The planner's manual payload. `{}` is an incremental run, as the schedule starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full: bool = False
    prefix: str | None = Field(default=None, min_length=1)
    since: UtcDatetime | None = None
    reconcile: bool = False
    dry_run: bool = False
    continue_run: str | None = Field(default=None, min_length=1, description="internal: resume a checkpoint")

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        modes = [name for name in ("full", "prefix", "since", "reconcile") if getattr(self, name)]
        if len(modes) > 1:
            raise ValueError(f"choose at most one of full, prefix, since, reconcile (got {', '.join(modes)})")
        if self.continue_run and (modes or self.dry_run):
            raise ValueError("continue_run cannot be combined with other fields")
        return self

    @property
    def kind(self) -> RunKind:
        if self.full:
            return RunKind.FULL
        if self.prefix:
            return RunKind.PREFIX
        if self.since:
            return RunKind.SINCE
        if self.reconcile:
            return RunKind.RECONCILE
        return RunKind.INCREMENTAL


def _is_scheduled(event: Any) -> bool:
    return isinstance(event, dict) and event.get("detail-type") == "Scheduled Event" and "source" in event


def _parse_payload[M: BaseModel](event: Any, model: type[M], function: str) -> M:
    """A scheduled EventBridge event (or no payload) means the defaults; anything else must validate."""
    if event is None or _is_scheduled(event):
        return model()
    if not isinstance(event, dict):
        raise InvalidRequestError(f"the {function} payload must be a JSON object, got {type(event).__name__}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidRequestError(describe_validation_error(exc)) from exc


def parse_planner_event(event: Any) -> PlannerRequest:
    """The schedule's event means `{}` (an incremental run); a manual payload must be a PlannerRequest."""
    return _parse_payload(event, PlannerRequest, "planner")


class FinalizerRequest(BaseModel):
    """The finalizer's manual payload (its schedule sends `{}` or a Scheduled Event)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str | None = Field(default=None, min_length=1)


def parse_finalizer_event(event: Any) -> FinalizerRequest:
    return _parse_payload(event, FinalizerRequest, "finalizer")


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


# --------------------------------------------------------------------------- queue messages


class SourceObject(BaseModel):
    """One object as listed in the producer bucket."""

    model_config = ConfigDict(frozen=True)

    key: S3Key
    size: int = Field(ge=0)
    etag: str = Field(min_length=1)
    last_modified: UtcDatetime
    version_id: str | None = None


class TransferMessage(SourceObject):
    """The transfer queue's message body: one object to copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    run_id: str = Field(min_length=1)
    bucket: str = Field(min_length=3, max_length=63)
    force: bool = Field(default=False, description="copy even if the manifest says this version is there")

    def to_body(self) -> str:
        return self.model_dump_json(exclude_defaults=False)

    @classmethod
    def of(cls, obj: SourceObject, *, run_id: str, bucket: str, force: bool = False) -> TransferMessage:
        """The message that asks for `obj` (as listed in `bucket`) to be copied in run `run_id`."""
        return cls(run_id=run_id, bucket=bucket, force=force, **obj.model_dump(include=set(SourceObject.model_fields)))


class TransferRecord(SqsRecordModel):
    """An SQS record whose body is a TransferMessage (Powertools parser model)."""

    body: Json[TransferMessage]


# --------------------------------------------------------------------------- state


class ListingCursor(BaseModel):
    """Where a checkpointed listing resumes."""

    prefix_index: int = 0
    continuation_token: str | None = None  # incremental listing: the next page's token
    start_after: str | None = None  # reconcile: the last source key compared


class Drift(BaseModel):
    """What a reconcile run found."""

    missing: int = 0
    different: int = 0
    extra: int = 0
    first_missing: list[str] = Field(default_factory=list)
    first_different: list[str] = Field(default_factory=list)
    first_extra: list[str] = Field(default_factory=list)

    SAMPLE: ClassVar[int] = 10

    def note(self, kind: Literal["missing", "different", "extra"], key: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        sample: list[str] = getattr(self, f"first_{kind}")
        if len(sample) < self.SAMPLE:
            sample.append(key)


class RunRecord(BaseModel):
    """A run, as stored in the runs table."""

    model_config = ConfigDict(validate_assignment=True)

    run_id: str
    status: RunStatus
    kind: RunKind
    watermark: UtcDatetime
    since: UtcDatetime | None = None
    prefixes: list[str] = Field(default_factory=list)
    cursor: ListingCursor | None = None
    planning_complete: bool = False
    keys_enqueued: int = 0
    bytes_enqueued: int = 0
    ledger_keys_enqueued: int = 0
    keys_unchanged: int = 0  # selected, but the consumer already holds that version: not enqueued
    objects_transferred: int = 0
    objects_skipped: int = 0
    objects_failed: int = 0
    objects_vanished: int = 0
    bytes_transferred: int = 0
    started_at: UtcDatetime
    heartbeat_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    drain_seen_empty_at: UtcDatetime | None = None
    failed_count: int | None = None
    error: str | None = None
    drift: Drift | None = None
    ttl: int | None = None

    @property
    def keys_settled(self) -> int:
        return self.objects_transferred + self.objects_skipped + self.objects_vanished


class FailureRecord(SourceObject):
    """A key in the failure ledger: its last attempt failed, it went to the DLQ, later runs retry it."""

    bucket: str
    run_id: str
    error_code: str
    error_message: str
    attempts: int
    failed_at: UtcDatetime

    @classmethod
    def of(
        cls, message: TransferMessage, *, error_code: str, error_message: str, attempts: int, failed_at: datetime
    ) -> FailureRecord:
        return cls(
            bucket=message.bucket,
            run_id=message.run_id,
            error_code=error_code,
            error_message=error_message[:1000],
            attempts=attempts,
            failed_at=failed_at,
            **message.model_dump(include=set(SourceObject.model_fields)),
        )

    def to_message(self, run_id: str) -> TransferMessage:
        return TransferMessage.of(self, run_id=run_id, bucket=self.bucket)


class ManifestEntry(BaseModel):
    """What the consumer bucket holds for a key: the source version it was copied from."""

    key: S3Key
    etag: str
    size: int
    version_id: str | None = None
    copied_at: UtcDatetime
    checksum: str | None = None


class QueueDepth(BaseModel):
    visible: int
    in_flight: int
    delayed: int

    @property
    def empty(self) -> bool:
        return self.visible == 0 and self.in_flight == 0 and self.delayed == 0
