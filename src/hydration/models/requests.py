"""The functions' manual payloads (planner, finalizer), and how an event becomes one."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hydration.errors import InvalidRequestError
from hydration.models.common import S3Key, UtcDatetime, describe_validation_error

MAX_REQUEST_KEYS = 1000


class RunKind(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"
    PREFIX = "prefix"
    SINCE = "since"
    KEYS = "keys"
    RECONCILE = "reconcile"

    @property
    def advances_marker(self) -> bool:
        """Only runs that cover the whole configured scope may move the sync marker."""
        return self in (RunKind.INCREMENTAL, RunKind.FULL, RunKind.RECONCILE)


class PlannerRequest(BaseModel):
    """The planner's manual payload. `{}` is an incremental run, as the schedule starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full: bool = False
    prefix: str | None = Field(default=None, min_length=1)
    since: UtcDatetime | None = None
    keys: list[S3Key] | None = Field(default=None, min_length=1, max_length=MAX_REQUEST_KEYS)
    reconcile: bool = False
    inventory: str | None = Field(
        default=None,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.+/)?manifest\.(json|checksum)$",
        description="a run from this S3 Inventory report (its manifest.json or manifest.checksum)",
    )
    force: bool = Field(default=False, description="copy the selected keys even where the manifest holds them")
    dry_run: bool = False
    new_run_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        description="the new run's id, chosen by the caller (an asynchronous trigger follows it by this id)",
    )
    continue_run: str | None = Field(default=None, min_length=1, description="internal: resume a checkpoint")

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        modes = [name for name in ("full", "prefix", "since", "keys", "reconcile") if getattr(self, name)]
        if len(modes) > 1:
            raise ValueError(f"choose at most one of full, prefix, since, keys, reconcile (got {', '.join(modes)})")
        if self.inventory and set(modes) - {"full"}:
            raise ValueError(f"inventory: a run from a report covers the whole scope, not with {', '.join(modes)}")
        if self.continue_run and (modes or self.dry_run or self.force or self.new_run_id or self.inventory):
            raise ValueError("continue_run cannot be combined with other fields")
        if self.force and self.reconcile:
            raise ValueError("force: a reconcile run already copies whatever differs")
        return self

    @property
    def kind(self) -> RunKind:
        if self.full:
            return RunKind.FULL
        if self.prefix:
            return RunKind.PREFIX
        if self.since:
            return RunKind.SINCE
        if self.keys:
            return RunKind.KEYS
        if self.reconcile:
            return RunKind.RECONCILE
        return RunKind.INCREMENTAL


class FinalizerRequest(BaseModel):
    """The finalizer's manual payload (its schedule sends `{}` or a Scheduled Event)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str | None = Field(default=None, min_length=1)


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


def parse_finalizer_event(event: Any) -> FinalizerRequest:
    return _parse_payload(event, FinalizerRequest, "finalizer")
