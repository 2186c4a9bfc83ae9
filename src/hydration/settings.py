"""Typed settings, one model per function, read from the environment once at cold start.

A missing or invalid variable fails the cold start with a message that names it.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import Annotated, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hydration.errors import InvalidRequestError

MIB = 1024 * 1024


# The selection lookback covers clock skew between the planner (its watermark) and S3 (LastModified): S3
# refuses requests signed more than 15 minutes off its clock (RequestTimeTooSkewed, MaxAllowedSkewMilliseconds
# 900000), so a planner clock off by any amount S3 still accepts stays within this floor.
LOOKBACK_FLOOR_SECONDS = 900


class CopyMode(StrEnum):
    SERVER_SIDE = "server-side"
    STREAM = "stream"


class Verification(StrEnum):
    """What a copy is checked against (as DataSync offers; docs/large-objects.md, "Integrity")."""

    CHECKSUM = "checksum"  # the copy's full-object CRC equals the source's (a HEAD where nothing else gives it)
    NONE = "none"  # no request made only to verify: the pinned version and S3's own checks in transit


class DeleteMode(StrEnum):
    """Guarded delete propagation (docs/architecture.md, "Guarded deletes"): off by default."""

    OFF = "off"
    SOFT = "soft"  # moved under TRASH_PREFIX (the bucket's lifecycle rule expires it)
    HARD = "hard"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _Base(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    consumer_bucket: str = Field(min_length=3, max_length=63)
    consumer_kms_key_id: str | None = None  # every copy, and the marker, are written under it
    runs_table: str = Field(min_length=1)
    books_table: str = Field(min_length=1)
    failures_table: str = Field(min_length=1)
    manifest_table: str = Field(min_length=1)
    run_ttl_days: int = Field(default=30, ge=1)

    @classmethod
    def load(cls) -> Self:
        try:
            return cls()
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                name = str(error["loc"][0]).upper() if error["loc"] else "?"
                message = "is required but not set" if error["type"] == "missing" else error["msg"]
                problems.append(f"{name} {message}")
            raise InvalidRequestError(f"invalid {cls.__name__}: " + "; ".join(problems)) from None


class _Producer(_Base):
    producer_bucket: str = Field(min_length=3, max_length=63)
    producer_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    external_id: str = Field(min_length=2, max_length=1224, repr=False)
    destination_prefix: str = ""
    transfer_queue_url: str = Field(min_length=1)
    # Objects per transfer message (a failing key is re-enqueued alone): fewer SQS requests per object.
    keys_per_message: int = Field(default=10, ge=1, le=100)


class PlannerSettings(_Producer):
    transfer_prefixes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    lookback_seconds: int = Field(default=3600)
    enqueue_concurrency: int = Field(default=8, ge=1, le=64)
    enqueue_attempts: int = Field(default=5, ge=1, le=20)
    # Leave this much of the invocation's time for the checkpoint; tests lower the page budget.
    checkpoint_margin_seconds: int = Field(default=60, ge=1)
    max_pages_per_invocation: int = Field(default=0, ge=0, description="0 = no limit")
    stale_planning_seconds: int = Field(default=1800, ge=30)
    heartbeat_seconds: float = Field(default=20, gt=0)
    list_page_size: int = Field(default=1000, ge=1, le=1000)
    # Every multipart upload in flight holds the marker back, however old; one that holds it for longer than
    # this is logged as a warning naming its key (InflightUploadPinsMarkerAlarm fires over the same time).
    inflight_upload_alarm_seconds: int = Field(default=86400, ge=0)
    # A run from an inventory report selects multipart objects from `since` minus this: a multipart object's
    # LastModified is its upload's start, and one completed after the report was made is in no report yet.
    inventory_multipart_window_seconds: int = Field(default=7 * 86400, ge=0)
    # Sharded planning (docs/architecture.md, "Planning in shards"): the planner workers' queue, how many
    # shards a run is first cut into, after how many pages of a shard its worker splits it (while fewer
    # shards than that are open), how long a worker's lease on its shard lasts without a checkpoint, and
    # the planner queue's maxReceiveCount (a shard failing on its last receive fails the run).
    planner_queue_url: str = Field(min_length=1)
    planner_shards: int = Field(default=64, ge=1, le=99)
    shard_split_pages: int = Field(default=2, ge=1)
    shard_lease_seconds: int = Field(default=120, ge=10)
    planner_max_receive_count: int = Field(default=5, ge=1, le=1000)
    # S3 Inventory as the source (opt-in): where the producer's reports are delivered (the consumer's
    # inventory bucket) and under which prefix the reports of this producer bucket's configuration live.
    inventory_bucket: str | None = None
    # Guarded delete propagation (off by default).
    delete_mode: DeleteMode = DeleteMode.OFF
    max_delete_count: int = Field(default=1000, ge=0)
    max_delete_percent: float = Field(default=1.0, ge=0, le=100)
    trash_prefix: str = Field(default="_s3_hydration_trash/", min_length=1)

    @property
    def connection_pool(self) -> int:
        """HTTP connections of the SQS client: the enqueue threads, each with a call in flight and a spare."""
        return self.enqueue_concurrency * 2

    @property
    def deletes(self) -> bool:
        return self.delete_mode is not DeleteMode.OFF

    @field_validator("transfer_prefixes", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("lookback_seconds")
    @classmethod
    def _lookback_floor(cls, value: int) -> int:
        if value < LOOKBACK_FLOOR_SECONDS:
            raise ValueError(
                f"must be at least {LOOKBACK_FLOOR_SECONDS} (got {value}): S3 accepts requests from a clock up to "
                "15 minutes off its own, and the lookback must cover that skew between the planner's watermark "
                "and the LastModified S3 stamps"
            )
        return value


class CopierSettings(_Producer):
    consumer_kms_key_id: str = Field(min_length=1)
    copy_mode: CopyMode = CopyMode.SERVER_SIDE
    multipart_threshold_bytes: int = Field(default=64 * MIB, ge=5 * MIB, le=5 * 1024 * MIB)
    part_size_bytes: int = Field(default=16 * MIB, ge=5 * MIB, le=5 * 1024 * MIB)
    copy_concurrency: int = Field(default=32, ge=1, le=128)
    parts_in_flight: int = Field(default=4, ge=1, le=32)
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    # A failed record becomes visible again after base * 2^(attempt-1) seconds (capped) instead of the
    # queue's visibility timeout (>= 6x the function timeout): transient errors retry quickly.
    retry_base_seconds: int = Field(default=30, ge=0, le=43200)
    retry_max_seconds: int = Field(default=900, ge=0, le=43200)
    # No copy starts with less invocation time left than this: the batch's state must still be written.
    deadline_margin_seconds: int = Field(default=15, ge=1, le=300)
    # The visibility heartbeat (copier.visibility): the batch's messages are kept invisible this long, extended
    # every third of it while the copier works; a crashed copier's messages come back within it.
    visibility_step_seconds: int = Field(default=60, ge=3, le=600)
    # Parts of a fanned-out upload per parts message (each message is one copier's share of the object).
    parts_per_message: int = Field(default=8, ge=1, le=100)
    verification: Verification = Verification.CHECKSUM
    # Server-side, an object up to this size is copied by one CopyObject when the invocation has time for it.
    single_copy_max_bytes: int = Field(default=5 * 1024 * MIB, ge=5 * MIB, le=5 * 1024 * MIB)
    # A multipart copy handed on this many times in a row without progress fails visibly (ledger, DLQ, its
    # upload aborted) instead of handing itself on forever.
    max_stalled_handoffs: int = Field(default=3, ge=1, le=100)
    # The function's memory (Lambda sets it): stream mode holds at most half of it in part buffers.
    aws_lambda_function_memory_size: int = Field(default=1024, ge=128)

    @property
    def connection_pool(self) -> int:
        """HTTP connections per S3 client: every copy of the batch with its parts in flight, and spare."""
        return self.copy_concurrency * self.parts_in_flight + 8

    @property
    def stream_buffer_bytes(self) -> int:
        """Bytes a container holds in stream mode, at most: half the function's memory, and never more than
        the parts in flight of four copies at once. A part larger than that takes it all (one at a time)."""
        half = self.aws_lambda_function_memory_size * MIB // 2
        return min(half, self.part_size_bytes * self.parts_in_flight * 4)

    @model_validator(mode="after")
    def _parts(self) -> Self:
        if self.part_size_bytes > self.multipart_threshold_bytes:
            raise ValueError("PART_SIZE_BYTES must not exceed MULTIPART_THRESHOLD_BYTES")
        return self

    # Large objects (docs/large-objects.md): multipart copies are recorded in the uploads table and go on
    # across invocations; from FANOUT_THRESHOLD_BYTES their parts are copied by many invocations at once.
    uploads_table: str = Field(min_length=1)
    fanout_threshold_bytes: int = Field(default=32 * 1024 * MIB, ge=5 * MIB, le=5 * 1024 * 1024 * MIB)


class FinalizerSettings(_Base):
    transfer_queue_url: str = Field(min_length=1)
    planner_queue_url: str | None = None  # shards whose message was lost are sent again when it is empty
    shard_lease_seconds: int = Field(default=120, ge=10)
    transfer_dlq_url: str | None = None  # swept on every pass: each key found there is in the ledger
    planner_function_name: str | None = None  # a planning run whose planner died is continued through it
    drain_confirm_seconds: int = Field(default=60, ge=0)
    stale_planning_seconds: int = Field(default=1800, ge=30)
    dlq_sweep_limit: int = Field(default=1000, ge=0, le=100_000)


@cache
def planner_settings() -> PlannerSettings:
    return PlannerSettings.load()


@cache
def copier_settings() -> CopierSettings:
    return CopierSettings.load()


@cache
def finalizer_settings() -> FinalizerSettings:
    return FinalizerSettings.load()
