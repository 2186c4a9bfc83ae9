"""Transfer message bodies as the DLQ commands read them, in both forms the copier takes:
one object (`{"v": 1, "run_id", "bucket", "key", "size", "etag", ...}`) and several
(`{"v": 2, "run_id", "bucket", "objects": [{"key", "size", "etag", "last_modified", "version_id", "force"}]}`).
Bodies are JSON with ASCII escapes (keys may hold any Unicode); a body is forwarded as it is, or rewritten
with a subset of its objects when only some of its keys are redriven."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hydration.models import S3Key, TransferMessage, describe_validation_error


class InvalidBodyError(ValueError):
    """Not a transfer message; the message says why."""


class BodyObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: S3Key
    size: int | None = None
    force: bool = False


class _SeveralObjects(BaseModel):
    model_config = ConfigDict(extra="allow")

    v: Literal[2]
    run_id: str = Field(min_length=1)
    bucket: str = Field(min_length=3)
    objects: list[BodyObject] = Field(min_length=1)


class TransferBody(BaseModel):
    version: int
    run_id: str
    bucket: str
    objects: list[BodyObject]

    @property
    def keys(self) -> list[str]:
        """The source keys the message asks to copy."""
        return [o.key for o in self.objects]


def parse(body: str) -> TransferBody:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidBodyError(f"not JSON: {exc.msg}") from exc
    try:
        if isinstance(data, dict) and "objects" in data:
            several = _SeveralObjects.model_validate(data)
            return TransferBody(version=2, run_id=several.run_id, bucket=several.bucket, objects=several.objects)
        one = TransferMessage.model_validate(data)
    except ValidationError as exc:
        raise InvalidBodyError(describe_validation_error(exc)) from exc
    return TransferBody(
        version=1,
        run_id=one.run_id,
        bucket=one.bucket,
        objects=[BodyObject(key=one.key, size=one.size, force=one.force)],
    )


def only(body: str, keys: set[str]) -> str:
    """The same message with only the objects of these keys (a several-object body; a one-object body is
    returned as it is)."""
    data = json.loads(body)
    if "objects" not in data:
        return body
    data["objects"] = [o for o in data["objects"] if o.get("key") in keys]
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"))
