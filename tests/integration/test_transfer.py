"""Single-request copies (up to the multipart threshold), both modes: what lands, what is verified, and
which source version is copied. Read back from the buckets."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from hydration.aws.uploads import UploadStore
from hydration.checksums import Checksum, CrcAlgorithm, compute
from hydration.copying import CopyResult, Handoff
from hydration.errors import ChecksumMismatchError, SourceVanishedError
from hydration.settings import Verification
from tests.integration.harness import MIB, REGION, World, consumer_object, put_object
from tests.integration.transfer_support import (
    MODES,
    ClientWrapper,
    Plenty,
    copier,
    request_for,
    s3_client,
)


def _copied(outcome: object) -> CopyResult:
    assert isinstance(outcome, CopyResult), outcome
    return outcome


def _stored_checksum(world: World, key: str) -> str:
    head = world.s3.head_object(Bucket=world.consumer_bucket, Key=key, ChecksumMode="ENABLED")
    (algorithm,) = [a for a in CrcAlgorithm if head.get(a.field)]
    return f"{algorithm}:{head[algorithm.field]}"


@MODES
def test_a_copy_lands_byte_for_byte_with_headers_metadata_tags_the_consumer_key_and_a_verified_checksum(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    body = b"hydrate me " * 1000
    put_object(
        world,
        "docs/a.txt",
        body,
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="identity",
        CacheControl="max-age=60",
        Metadata={"owner": "team-a"},
        Tagging="tier=gold&pii=no",
    )

    result = _copied(copier(world, uploads, server_side=server_side).copy(request_for(world, "docs/a.txt"), Plenty()))

    landed = consumer_object(world, "docs/a.txt")
    assert landed["body"] == body
    head = landed["head"]
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", world.kms_key_arn)
    assert head["ContentType"] == "text/plain; charset=utf-8"
    assert (head["ContentEncoding"], head["CacheControl"]) == ("identity", "max-age=60")
    assert head["Metadata"] == {"owner": "team-a"}
    assert landed["tags"] == {"tier": "gold", "pii": "no"}
    # boto3 uploads carry a CRC32 full-object checksum: the copy gets one too, equal to it
    assert result.checksum == str(compute(CrcAlgorithm.CRC32, body)) == _stored_checksum(world, "docs/a.txt")
    assert "equals the source's" in result.verified
    assert result.bytes == len(body)


@MODES
def test_a_crc64nvme_source_gives_a_crc64nvme_copy(world: World, uploads: UploadStore, server_side: bool) -> None:
    body = b"x" * 70_000
    put_object(world, "crc64.bin", body, ChecksumAlgorithm="CRC64NVME")

    result = _copied(copier(world, uploads, server_side=server_side).copy(request_for(world, "crc64.bin"), Plenty()))

    assert result.checksum == str(compute(CrcAlgorithm.CRC64NVME, body)) == _stored_checksum(world, "crc64.bin")
    assert "equals the source's CRC64NVME" not in result.verified  # the text names what was compared, once
    assert "equals the source's" in result.verified


@MODES
def test_a_source_without_a_checksum_is_verified_by_size_and_version_and_gets_a_crc64nvme(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    plain = boto3.client("s3", region_name=REGION, config=Config(request_checksum_calculation="when_required"))
    body = b"no checksum here" * 100
    plain.put_object(Bucket=world.producer_bucket, Key="plain.bin", Body=body)

    result = _copied(copier(world, uploads, server_side=server_side).copy(request_for(world, "plain.bin"), Plenty()))

    assert consumer_object(world, "plain.bin")["body"] == body
    assert result.verified.startswith("size and pinned version (the source has no checksum)")
    assert result.checksum == str(compute(CrcAlgorithm.CRC64NVME, body)) == _stored_checksum(world, "plain.bin")


class _CorruptingReads(ClientWrapper):
    """The producer client, except that every GET body it returns has its first byte flipped."""

    def get_object(self, **kwargs: Any) -> Any:
        response = self._inner.get_object(**kwargs)
        data = response["Body"].read()
        return {**response, "Body": io.BytesIO(bytes([data[0] ^ 0xFF]) + data[1:])}


def test_a_stream_corrupted_in_transit_fails_the_copy_and_writes_nothing(world: World, uploads: UploadStore) -> None:
    put_object(world, "fragile.bin", b"precious bytes" * 500)
    streaming = copier(world, uploads, server_side=False, producer=_CorruptingReads(s3_client()))

    with pytest.raises(ChecksumMismatchError) as raised:
        streaming.copy(request_for(world, "fragile.bin"), Plenty())

    assert raised.value.code == "ChecksumMismatch"
    assert world.s3.list_objects_v2(Bucket=world.consumer_bucket).get("KeyCount") == 0


@MODES
def test_a_source_that_changed_since_listing_is_copied_in_its_current_version(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    put_object(world, "moving.txt", b"as listed")
    listed = request_for(world, "moving.txt")
    put_object(world, "moving.txt", b"as it is now")

    result = _copied(copier(world, uploads, server_side=server_side).copy(listed, Plenty()))

    assert consumer_object(world, "moving.txt")["body"] == b"as it is now"
    assert result.etag == request_for(world, "moving.txt").etag != listed.etag


@MODES
def test_a_metadata_only_change_since_listing_is_caught_by_its_last_modified(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    # A metadata-only change keeps a single-part object's ETag; only LastModified moves. Listing an hour
    # "before" the change is what the copier sees when it runs later: S3 honours the matching If-Match.
    put_object(world, "meta.txt", b"same bytes", Metadata={"rev": "2"})
    now = request_for(world, "meta.txt")
    listed = now.pinned_to(now.etag, now.last_modified - timedelta(hours=1), now.size)

    result = _copied(copier(world, uploads, server_side=server_side).copy(listed, Plenty()))

    assert result.last_modified == now.last_modified
    assert consumer_object(world, "meta.txt")["head"]["Metadata"] == {"rev": "2"}


@MODES
def test_a_vanished_source_raises_source_vanished(world: World, uploads: UploadStore, server_side: bool) -> None:
    put_object(world, "gone.txt", b"soon gone")
    listed = request_for(world, "gone.txt")
    world.s3.delete_object(Bucket=world.producer_bucket, Key="gone.txt")

    with pytest.raises(SourceVanishedError):
        copier(world, uploads, server_side=server_side).copy(listed, Plenty())


@MODES
def test_the_version_id_pins_the_version_copied(world: World, uploads: UploadStore, server_side: bool) -> None:
    world.s3.put_bucket_versioning(Bucket=world.producer_bucket, VersioningConfiguration={"Status": "Enabled"})
    first = put_object(world, "v.txt", b"version one")["VersionId"]
    put_object(world, "v.txt", b"version two")

    result = _copied(
        copier(world, uploads, server_side=server_side).copy(request_for(world, "v.txt", version_id=first), Plenty())
    )

    assert consumer_object(world, "v.txt")["body"] == b"version one"
    assert Checksum.parse(result.checksum or "") == compute(CrcAlgorithm.CRC32, b"version one")


def test_objects_up_to_the_threshold_take_two_requests_server_side_and_need_no_upload_record(
    world: World, uploads: UploadStore
) -> None:
    put_object(world, "edge.bin", b"e" * (5 * MIB))

    result = _copied(copier(world, uploads, server_side=True).copy(request_for(world, "edge.bin"), Plenty()))

    assert result.requests == 2  # the pinned HEAD (for the source's checksum) and CopyObject
    assert list(uploads) == []


class _Left:
    """A deadline `seconds` away (it does not move: the copy is judged by what it plans)."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def remaining_seconds(self) -> float:
        return self._seconds


def test_server_side_an_object_above_the_threshold_takes_one_copy_object_when_the_deadline_allows(
    world: World, uploads: UploadStore
) -> None:
    body = bytes(range(256)) * (12 * MIB // 256)
    put_object(world, "one-go.bin", body, Metadata={"k": "v"}, Tagging="t=1")
    single = copier(world, uploads, server_side=True, single_copy_max=5 * 1024 * MIB)

    result = _copied(single.copy(request_for(world, "one-go.bin"), _Left(3600)))

    assert result.requests == 2  # the pinned HEAD and one CopyObject, not CreateMultipartUpload + parts
    landed = consumer_object(world, "one-go.bin")
    assert (landed["body"], landed["head"]["Metadata"], landed["tags"]) == (body, {"k": "v"}, {"t": "1"})
    assert landed["head"]["SSEKMSKeyId"] == world.kms_key_arn
    assert result.checksum == str(compute(CrcAlgorithm.CRC32, body)) == _stored_checksum(world, "one-go.bin")
    assert list(uploads) == []


def test_server_side_without_time_for_one_copy_object_the_object_goes_in_parts(
    world: World, uploads: UploadStore
) -> None:
    put_object(world, "short.bin", bytes(12 * MIB))
    single = copier(world, uploads, server_side=True, single_copy_max=5 * 1024 * MIB)

    # 12 MiB at the assumed 10 MiB/s needs 2.2 s: with 2 s left it is a multipart copy (a 5 MiB part fits)
    outcome = single.copy(request_for(world, "short.bin"), _Left(2.0))

    assert isinstance(outcome, Handoff), outcome
    record = uploads.get("short.bin")
    assert record is not None
    assert record.part_count == 3


def test_verification_none_copies_in_one_request_and_keeps_the_sources_checksum(
    world: World, uploads: UploadStore
) -> None:
    body = b"trust but do not verify" * 100
    put_object(world, "quick.txt", body, ChecksumAlgorithm="CRC32C")

    result = _copied(
        copier(world, uploads, server_side=True, verification=Verification.NONE).copy(
            request_for(world, "quick.txt"), Plenty()
        )
    )

    assert result.requests == 1  # CopyObject alone
    assert consumer_object(world, "quick.txt")["body"] == body
    assert result.verified.startswith("not compared (Verification=none)")
    assert result.checksum == str(compute(CrcAlgorithm.CRC32C, body)) == _stored_checksum(world, "quick.txt")


def test_a_version_copied_before_is_verified_against_its_recorded_checksum_without_a_head(
    world: World, uploads: UploadStore
) -> None:
    body = b"copied before, forced again" * 100
    put_object(world, "again.txt", body)
    known = str(compute(CrcAlgorithm.CRC32, body))
    request = dataclasses.replace(request_for(world, "again.txt"), known_checksum=known)

    result = _copied(copier(world, uploads, server_side=True).copy(request, Plenty()))

    assert result.requests == 1  # CopyObject with the recorded algorithm, compared with the recorded value
    assert result.checksum == known == _stored_checksum(world, "again.txt")
    assert result.verified.endswith("equals the one recorded for this version")


def test_a_recorded_checksum_that_the_copy_does_not_match_fails_the_copy(world: World, uploads: UploadStore) -> None:
    put_object(world, "drifted.txt", b"these bytes")
    wrong = str(compute(CrcAlgorithm.CRC32, b"other bytes"))
    request = dataclasses.replace(request_for(world, "drifted.txt"), known_checksum=wrong)

    with pytest.raises(ChecksumMismatchError):
        copier(world, uploads, server_side=True).copy(request, Plenty())
