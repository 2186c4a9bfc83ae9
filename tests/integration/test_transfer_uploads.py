"""The uploads table's conditional writes: one upload per key, parts only for the upload the item names,
one completion claim at a time (and a lapsed claim can be taken over)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from hydration.aws.uploads import UploadRecord, UploadStore
from tests.integration.transfer_support import create_uploads_table

T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> Iterator[UploadStore]:
    with mock_aws():
        yield create_uploads_table(clock=clock)


def _record(upload_id: str = "u-1") -> UploadRecord:
    return UploadRecord(
        bucket="consumer",
        key="big.bin",
        upload_id=upload_id,
        mode="server-side",
        source_bucket="producer",
        source_key="big.bin",
        source_etag='"abc-3"',
        source_last_modified=T0 - timedelta(days=1),
        source_version_id=None,
        size=12 * 1024 * 1024,
        part_size=5 * 1024 * 1024,
        part_count=3,
        checksum_algorithm="CRC64NVME",
        source_checksum="CRC64NVME:rosUhgp5mIg=",
        created_at=T0,
        updated_at=T0,
    )


def test_a_record_reads_back_as_written(store: UploadStore) -> None:
    assert store.create(_record())
    assert store.get("big.bin") == _record()
    assert store.get("other.bin") is None


def test_a_key_has_one_upload_the_first_creator_wins(store: UploadStore) -> None:
    assert store.create(_record("u-1"))
    assert not store.create(_record("u-2"))
    record = store.get("big.bin")
    assert record is not None
    assert record.upload_id == "u-1"


def test_parts_are_added_idempotently_and_only_to_the_named_upload(store: UploadStore, clock: Clock) -> None:
    store.create(_record())
    clock.now = T0 + timedelta(minutes=5)

    assert store.add_parts("big.bin", "u-1", {2}) == {2}
    assert store.add_parts("big.bin", "u-1", {2, 3}) == {2, 3}
    assert store.add_parts("big.bin", "u-other", {1}) is None

    record = store.get("big.bin")
    assert record is not None
    assert (record.parts, record.updated_at, record.bytes_done) == ({2, 3}, clock.now, 7 * 1024 * 1024)


def test_one_completion_claim_at_a_time_and_a_lapsed_one_is_taken_over(store: UploadStore, clock: Clock) -> None:
    store.create(_record())
    lease = timedelta(minutes=15)

    assert store.claim_completion("big.bin", "u-1", lease)
    assert not store.claim_completion("big.bin", "u-1", lease)
    clock.now = T0 + lease + timedelta(seconds=1)
    assert store.claim_completion("big.bin", "u-1", lease)
    store.release_completion("big.bin", "u-1")
    assert store.claim_completion("big.bin", "u-1", lease)
    assert not store.claim_completion("big.bin", "u-other", lease)


def test_only_the_named_upload_is_deleted(store: UploadStore) -> None:
    store.create(_record())

    assert not store.delete("big.bin", "u-other")
    assert store.delete("big.bin", "u-1")
    assert not store.delete("big.bin", "u-1")
    assert list(store) == []
