"""What the transfer tests share: the uploads table, the copier under test, deadlines, request counters."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from hydration.aws.transfer import Copier
from hydration.aws.uploads import UploadStore
from hydration.copying import CopyRequest, Handoff, HandoffReason
from hydration.settings import Verification
from tests.integration.harness import MIB, REGION, World

UPLOADS_TABLE = "s3h-uploads"


MODES = pytest.mark.parametrize("server_side", [True, False], ids=["server-side", "stream"])


def create_uploads_table(**options: Any) -> UploadStore:
    """The uploads table, as the consumer stack creates it, and its store (`options`: UploadStore's)."""
    db = boto3.client("dynamodb", region_name=REGION)
    with contextlib.suppress(db.exceptions.ResourceInUseException):  # the world may have it already
        db.create_table(
            TableName=UPLOADS_TABLE,
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return UploadStore(db, UPLOADS_TABLE, **options)


@dataclass
class Requests:
    """The part uploads (UploadPart, UploadPartCopy) a client sent, seen by a botocore event hook: their
    numbers and the upload ids they went to."""

    parts: list[int] = field(default_factory=list)
    upload_ids: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, client: Any) -> Any:
        for operation in ("UploadPart", "UploadPartCopy"):
            client.meta.events.register(f"provide-client-params.s3.{operation}", self._seen)
        return client

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.parts.append(params["PartNumber"])
            self.upload_ids.add(params["UploadId"])


class ClientWrapper:
    """A boto3 client with some calls replaced (by a subclass), to inject faults S3 cannot be asked for."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Plenty:
    """A deadline far away."""

    def remaining_seconds(self) -> float:
        return 3600.0


class AfterParts:
    """A deadline that passes once `limit` part uploads have been sent (counted by `requests`)."""

    def __init__(self, requests: Requests, limit: int) -> None:
        self._requests = requests
        self._limit = limit

    def remaining_seconds(self) -> float:
        return 3600.0 if len(self._requests.parts) < self._limit else 0.0


def s3_client() -> Any:
    return boto3.client("s3", region_name=REGION)


def interrupted(world: World, uploads: UploadStore, key: str, *, server_side: bool, after_parts: int) -> Handoff:
    """A multipart copy of `key` whose deadline passes once `after_parts` parts are sent: its handoff."""
    requests = Requests()
    part_writer = requests.watch(s3_client())
    clients = {"producer": part_writer} if server_side else {"consumer": part_writer}
    handoff = copier(world, uploads, server_side=server_side, **clients).copy(
        request_for(world, key), AfterParts(requests, after_parts)
    )
    assert isinstance(handoff, Handoff), handoff
    assert handoff.reason is HandoffReason.DEADLINE
    return handoff


def copier(
    world: World,
    uploads: UploadStore,
    *,
    server_side: bool,
    producer: Any | None = None,
    consumer: Any | None = None,
    fanout_threshold: int = 1024 * MIB,
    parts_in_flight: int = 2,
    single_copy_max: int = 5 * MIB,
    verification: Verification = Verification.CHECKSUM,
) -> Copier:
    """The copier of the template's settings, scaled down: 5 MiB parts above a 5 MiB threshold (and, unless
    `single_copy_max` says otherwise, no single CopyObject above it either)."""
    return Copier(
        producer_s3=producer or s3_client(),
        consumer_s3=consumer or s3_client(),
        uploads=uploads,
        server_side=server_side,
        multipart_threshold=5 * MIB,
        fanout_threshold=fanout_threshold,
        part_size=5 * MIB,
        parts_in_flight=parts_in_flight,
        single_copy_max=single_copy_max,
        verification=verification,
    )


def request_for(world: World, key: str, *, version_id: str | None = None, dest_key: str | None = None) -> CopyRequest:
    """The request the planner would send for the object as it is now (as listed)."""
    extra = {"VersionId": version_id} if version_id else {}
    head = world.s3.head_object(Bucket=world.producer_bucket, Key=key, **extra)
    return CopyRequest(
        source_bucket=world.producer_bucket,
        source_key=key,
        etag=head["ETag"],
        last_modified=head["LastModified"],
        size=head["ContentLength"],
        version_id=version_id,
        dest_bucket=world.consumer_bucket,
        dest_key=dest_key or key,
        kms_key_id=world.kms_key_arn,
    )


def in_progress(world: World) -> list[tuple[str, str]]:
    """(key, upload id) of every multipart upload in progress in the consumer bucket."""
    uploads = world.s3.list_multipart_uploads(Bucket=world.consumer_bucket).get("Uploads", [])
    return [(u["Key"], u["UploadId"]) for u in uploads]


def body_of(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that differ from part to part (equal parts would hide a mix-up)."""
    block = bytes((i * 7 + seed) % 251 for i in range(1021))
    return (block * (size // len(block) + 1))[:size]
