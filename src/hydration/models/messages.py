"""What travels on the transfer queue: messages of one run, naming objects to copy, or parts of one large
object's multipart upload to copy (its fan-out).

A body is JSON with ASCII escapes, so any S3 key travels (SQS accepts only part of Unicode: U+FFFE, U+FFFF
and most control characters are refused in a raw body). One message carries up to `KEYS_PER_MESSAGE`
objects; a key that fails is re-enqueued alone, so a key that keeps failing ends in the DLQ alone.
Since `"v": 3` a message names its sheet in the run's books (`sheet`: the books item its keys were opened in)
and each object its `slot` there; a key re-enqueued alone, split off or handed on keeps both, so whichever
message carries it settles that slot. The earlier formats (`"v": 1`, one object per message; `"v": 2`, no
sheet) are still read: messages in a DLQ outlive upgrades (an old message settles nothing in the books).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Json, TypeAdapter, model_validator

from hydration.models.common import S3Key, UtcDatetime

MAX_BODY_BYTES = 200_000  # SQS takes 256 KiB (1 MiB on AWS since 2025); room to spare for attributes


class SourceObject(BaseModel):
    """One object as listed in the producer bucket: the version a run asks for."""

    model_config = ConfigDict(frozen=True)

    key: S3Key
    size: int = Field(ge=0)
    etag: str = Field(min_length=1)
    last_modified: UtcDatetime
    version_id: str | None = None


class ObjectRef(SourceObject):
    """An object in a transfer message, with why it is asked for and how often it already failed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    force: bool = Field(default=False, description="copy even if the manifest says this version is there")
    attempts: int = Field(default=0, ge=0, description="failed attempts in earlier messages")
    stalled: int = Field(default=0, ge=0, description="hand-ons in a row of a multipart copy that made no progress")
    slot: int | None = Field(default=None, ge=0, description="its place in the message's sheet (v3)")


class TransferMessage(BaseModel):
    """The transfer queue's message: objects of one run to copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[2, 3] = 3
    kind: Literal["objects"] = "objects"
    run_id: str = Field(min_length=1)
    bucket: str = Field(min_length=3, max_length=63)
    sheet: str | None = Field(default=None, min_length=1, max_length=100, description="its sheet in the books (v3)")
    objects: list[ObjectRef] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _first_format(cls, data: Any) -> Any:
        """`{"v": 1, "run_id", "bucket", "key", "size", ...}`: one object, the first message format."""
        if isinstance(data, dict) and data.get("v") == 1:
            fields = dict(data)
            fields.pop("v")
            head = {name: fields.pop(name) for name in ("run_id", "bucket") if name in fields}
            return {"v": 2, "kind": "objects", **head, "objects": [fields]}
        return data

    def to_body(self) -> str:
        return encode(self)

    @property
    def keys(self) -> list[str]:
        return [obj.key for obj in self.objects]


def encode(message: BaseModel) -> str:
    """A message body: compact JSON, ASCII only (non-ASCII characters as \\u escapes)."""
    return json.dumps(message.model_dump(mode="json", exclude_defaults=False), ensure_ascii=True, separators=(",", ":"))


def body_cost(obj: ObjectRef) -> int:
    """What an object adds to a message body (its JSON and a separator)."""
    return len(json.dumps(obj.model_dump(mode="json"), ensure_ascii=True)) + 1


BODY_ROOM = MAX_BODY_BYTES - 500  # the objects of one message, at most (the rest: run id, bucket, sheet)


def pack(
    run_id: str, bucket: str, objects: list[ObjectRef], per_message: int, sheet: str | None = None
) -> list[TransferMessage]:
    """Objects into messages of at most `per_message` objects and MAX_BODY_BYTES each, in order (objects of one
    sheet: a copier re-packs the objects of a message that go on)."""
    messages: list[TransferMessage] = []
    batch: list[ObjectRef] = []
    size = 0
    for obj in objects:
        cost = body_cost(obj)
        if batch and (len(batch) >= per_message or size + cost > BODY_ROOM):
            messages.append(TransferMessage(run_id=run_id, bucket=bucket, sheet=sheet, objects=batch))
            batch, size = [], 0
        batch.append(obj)
        size += cost
    if batch:
        messages.append(TransferMessage(run_id=run_id, bucket=bucket, sheet=sheet, objects=batch))
    return messages


class PartsMessage(BaseModel):
    """Some parts of one object's multipart upload (its fan-out): copied by whichever copier gets them; the
    one that records the last part completes the upload and settles the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[2, 3] = 3
    kind: Literal["parts"] = "parts"
    run_id: str = Field(min_length=1)
    bucket: str = Field(min_length=3, max_length=63)
    sheet: str | None = Field(default=None, min_length=1, max_length=100, description="its sheet in the books (v3)")
    object: ObjectRef  # the version being copied (with its slot)
    upload_id: str = Field(min_length=1)
    parts: list[int] = Field(min_length=1)

    def to_body(self) -> str:
        return encode(self)

    @property
    def objects(self) -> list[ObjectRef]:
        """The one object, as an objects message lists its objects."""
        return [self.object]

    @property
    def keys(self) -> list[str]:
        return [self.object.key]


def _first_format(data: Any) -> Any:
    """A body without `kind` is an objects message (the first format has neither `kind` nor `objects`)."""
    if isinstance(data, dict) and "kind" not in data:
        return TransferMessage.model_validate(data).model_dump(mode="json")
    return data


Message = Annotated[
    Annotated[TransferMessage | PartsMessage, Field(discriminator="kind")], BeforeValidator(_first_format)
]
MESSAGE: TypeAdapter[TransferMessage | PartsMessage] = TypeAdapter(Message)


def parse_message(body: str) -> TransferMessage | PartsMessage:
    """A queue message's body (any kind, any format); pydantic's ValidationError names what is wrong."""
    return MESSAGE.validate_json(body)


class TransferRecord(SqsRecordModel):
    """An SQS record whose body is a transfer queue message (Powertools parser model)."""

    body: Json[Message]
