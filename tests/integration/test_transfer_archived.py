"""Archived sources (GLACIER, DEEP_ARCHIVE, Intelligent-Tiering's archive tiers) at the transfer layer: the
copy raises SourceArchivedError, where S3 keeps the object and whether a restore is running, whatever the
mode and whatever request S3 refused (CopyObject, GetObject, UploadPartCopy); nothing is left behind; once
restored the copy lands. S3 and LocalStack refuse with InvalidObjectState, moto's CopyObject with
ObjectNotInActiveTierError (its GetObject with InvalidObjectState)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.s3.models import s3_backends

from hydration.aws.uploads import UploadStore
from hydration.errors import SourceArchivedError
from hydration.settings import Verification
from tests.integration.harness import ACCOUNT, MIB, World, consumer_object, put_object
from tests.integration.transfer_support import (
    MODES,
    ClientWrapper,
    Plenty,
    copier,
    request_for,
    s3_client,
)


def _nothing_in_the_consumer(world: World) -> None:
    assert world.s3.list_objects_v2(Bucket=world.consumer_bucket).get("KeyCount", 0) == 0
    assert world.s3.list_multipart_uploads(Bucket=world.consumer_bucket).get("Uploads", []) == []


@MODES
@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_an_archived_source_raises_source_archived_with_its_storage_class(
    world: World, uploads: UploadStore, server_side: bool, storage_class: str
) -> None:
    put_object(world, "cold.bin", b"cold" * 100, StorageClass=storage_class)

    with pytest.raises(SourceArchivedError) as raised:
        copier(world, uploads, server_side=server_side).copy(request_for(world, "cold.bin"), Plenty())

    assert (raised.value.storage_class, raised.value.restoring) == (storage_class, False)
    _nothing_in_the_consumer(world)


def test_without_verification_the_one_copy_object_is_refused_the_same_way(world: World, uploads: UploadStore) -> None:
    put_object(world, "cold.bin", b"cold" * 100, StorageClass="GLACIER")
    unverified = copier(world, uploads, server_side=True, verification=Verification.NONE)

    with pytest.raises(SourceArchivedError) as raised:
        unverified.copy(request_for(world, "cold.bin"), Plenty())

    assert raised.value.storage_class == "GLACIER"


@MODES
def test_a_restore_in_progress_is_reported_and_a_finished_one_lets_the_copy_land(
    world: World, uploads: UploadStore, server_side: bool, restores_held: None
) -> None:
    body = b"thawed" * 1000
    put_object(world, "cold.bin", body, StorageClass="GLACIER")
    world.s3.restore_object(Bucket=world.producer_bucket, Key="cold.bin", RestoreRequest={"Days": 1})
    key = s3_backends[ACCOUNT]["aws"].get_object(world.producer_bucket, "cold.bin")
    key.status = "IN_PROGRESS"

    with pytest.raises(SourceArchivedError) as raised:
        copier(world, uploads, server_side=server_side).copy(request_for(world, "cold.bin"), Plenty())
    assert (raised.value.storage_class, raised.value.restoring) == ("GLACIER", True)
    assert "restore is still in progress" in str(raised.value)

    key.status = "RESTORED"
    copier(world, uploads, server_side=server_side).copy(request_for(world, "cold.bin"), Plenty())
    landed = consumer_object(world, "cold.bin")
    assert landed["body"] == body
    assert landed["head"]["SSEKMSKeyId"] == world.kms_key_arn


class _ArchivedParts(ClientWrapper):
    """The producer client, except that UploadPartCopy answers as S3 does for an archived source (moto copies
    parts of any storage class): 403 InvalidObjectState, with the StorageClass and AccessTier S3 names."""

    def upload_part_copy(self, **kwargs: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "InvalidObjectState", "Message": "The operation is not valid for the object's "},
                "StorageClass": "INTELLIGENT_TIERING",
                "AccessTier": "DEEP_ARCHIVE_ACCESS",
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
            "UploadPartCopy",
        )


def test_a_multipart_copy_of_an_archived_source_is_refused_and_its_upload_aborted(
    world: World, uploads: UploadStore
) -> None:
    put_object(world, "big.bin", b"x" * (6 * MIB), StorageClass="INTELLIGENT_TIERING")
    archived = copier(world, uploads, server_side=True, producer=_ArchivedParts(s3_client()))

    with pytest.raises(SourceArchivedError) as raised:
        archived.copy(request_for(world, "big.bin"), Plenty())

    # the HEAD reads the class; the tier comes from the refusal (moto's HEAD has no ArchiveStatus)
    assert (raised.value.storage_class, raised.value.archive_status) == ("INTELLIGENT_TIERING", "DEEP_ARCHIVE_ACCESS")
    assert uploads.get("big.bin") is None
    _nothing_in_the_consumer(world)
