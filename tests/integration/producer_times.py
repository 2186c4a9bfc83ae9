"""Producer objects and multipart uploads at chosen times: an object written some time ago, an upload started
at a chosen time and completed with the LastModified S3 gives a completed multipart upload (the time it was
initiated, not completed).

moto stamps a completed upload with its completion time; S3 stamps it with its initiation, which is what
makes an upload in flight across a run dangerous (docs/architecture.md, the marker rule). These helpers
set moto's records from the test side, as `_age_heartbeat` ages a run record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto.s3.models import s3_backends

from tests.integration.harness import ACCOUNT, World


def _backend() -> Any:
    return s3_backends[ACCOUNT]["aws"]


def age_object(world: World, key: str, age: timedelta) -> datetime:
    """The producer object `key` was last written `age` ago (its LastModified, to the second as S3 keeps it)."""
    written = (datetime.now(UTC) - age).replace(microsecond=0)
    _backend().get_object(world.producer_bucket, key).last_modified = written.replace(tzinfo=None)
    return written


def start_upload(world: World, key: str, *, age: timedelta) -> str:
    """A multipart upload of `key` in the producer bucket, initiated `age` ago and still in flight."""
    upload_id = world.s3.create_multipart_upload(Bucket=world.producer_bucket, Key=key)["UploadId"]
    age_upload(world.producer_bucket, upload_id, age)
    return upload_id


def age_upload(bucket: str, upload_id: str, age: timedelta) -> None:
    """The multipart upload `upload_id` in `bucket` was initiated `age` ago (ListMultipartUploads says so)."""
    upload = _backend().get_bucket(bucket).multiparts[upload_id]
    upload.initiated = (datetime.now(UTC) - age).replace(tzinfo=None)  # moto keeps naive UTC times


def initiated(world: World, upload_id: str) -> datetime:
    upload = _backend().get_bucket(world.producer_bucket).multiparts[upload_id]
    return upload.initiated.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def complete_upload(world: World, key: str, upload_id: str, body: bytes) -> datetime:
    """Upload one part and complete the upload; the object's LastModified is the upload's initiation, as
    S3 has it. Returns that time."""
    started = initiated(world, upload_id)
    part = world.s3.upload_part(Bucket=world.producer_bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=body)
    world.s3.complete_multipart_upload(
        Bucket=world.producer_bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    _backend().get_object(world.producer_bucket, key).last_modified = started.replace(tzinfo=None)
    return started
