"""Multipart copies, both modes: verified against the source, resumed across calls, fanned out to parts,
restarted when the source changes, and never leaving an upload behind. Read back from the buckets and the
uploads table; S3 requests are counted with a botocore event hook."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hydration.aws.transfer.inflight import RECORD_EVERY_SECONDS
from hydration.aws.uploads import UploadStore
from hydration.checksums import CrcAlgorithm, compute
from hydration.copying import CopyResult, Handoff, HandoffReason, PartsOutcome
from hydration.errors import ChecksumMismatchError, InvalidRequestError, ObjectTransferError, SourceVanishedError
from tests.integration.harness import MIB, REGION, World, consumer_object, put_object
from tests.integration.test_transfer import _CorruptingReads
from tests.integration.transfer_support import (
    MODES,
    AfterParts,
    ClientWrapper,
    Plenty,
    Requests,
    body_of,
    copier,
    in_progress,
    interrupted,
    request_for,
    s3_client,
)

SIZE = 21 * MIB + 12345  # five parts of 5 MiB, the last one short


def _clients(server_side: bool, requests: Requests) -> dict[str, Any]:
    """Producer and consumer clients; `requests` counts the ones that upload parts in this mode."""
    producer, consumer = s3_client(), s3_client()
    requests.watch(producer if server_side else consumer)
    return {"producer": producer, "consumer": consumer}


def _expect_result(outcome: object) -> CopyResult:
    assert isinstance(outcome, CopyResult), outcome
    return outcome


def _expect_handoff(outcome: object, reason: HandoffReason) -> Handoff:
    assert isinstance(outcome, Handoff), outcome
    assert outcome.reason is reason
    return outcome


@MODES
def test_a_multipart_copy_lands_like_a_small_one_with_the_combined_checksum_verified(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    body = body_of(SIZE)
    put_object(
        world,
        "big.bin",
        body,
        ContentType="application/x-big",
        Metadata={"k": "v"},
        Tagging="size=big",
        ChecksumAlgorithm="CRC64NVME",
    )

    result = _expect_result(
        copier(world, uploads, server_side=server_side).copy(request_for(world, "big.bin"), Plenty())
    )

    landed = consumer_object(world, "big.bin")
    assert landed["body"] == body
    head = landed["head"]
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", world.kms_key_arn)
    assert (head["ContentType"], head["Metadata"], landed["tags"]) == ("application/x-big", {"k": "v"}, {"size": "big"})
    assert result.checksum == str(compute(CrcAlgorithm.CRC64NVME, body))
    assert result.verified.startswith("the CRC64NVME of the 5 parts, combined and checked by S3 at completion,")
    assert in_progress(world) == []
    assert list(uploads) == []


@MODES
def test_an_interrupted_copy_hands_off_and_the_next_call_resumes_the_same_upload(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    body = body_of(SIZE, seed=1)
    put_object(world, "resume.bin", body)
    request = request_for(world, "resume.bin")
    requests = Requests()
    first = copier(world, uploads, server_side=server_side, **_clients(server_side, requests))

    handoff = _expect_handoff(first.copy(request, AfterParts(requests, 2)), HandoffReason.DEADLINE)

    copied_first = list(requests.parts)
    assert len(copied_first) >= 2
    assert sorted(handoff.parts_remaining) == [n for n in range(1, 6) if n not in copied_first]
    assert in_progress(world) == [("resume.bin", handoff.upload_id)]
    record = uploads.get("resume.bin")
    assert record is not None
    assert (record.upload_id, record.parts) == (handoff.upload_id, frozenset(copied_first))

    # a later invocation: a new copier (cold start), the request the handoff carries
    later = Requests()
    second = copier(world, uploads, server_side=server_side, **_clients(server_side, later))
    result = _expect_result(second.copy(handoff.request, Plenty()))

    assert later.upload_ids == {handoff.upload_id}  # the same upload, continued
    assert sorted(later.parts) == sorted(handoff.parts_remaining)  # nothing copied twice
    assert consumer_object(world, "resume.bin")["body"] == body
    assert result.checksum == str(compute(CrcAlgorithm.CRC32, body))
    assert in_progress(world) == []
    assert uploads.get("resume.bin") is None


@MODES
def test_a_source_changed_between_invocations_aborts_the_old_upload_and_copies_the_current_version(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    put_object(world, "shifty.bin", body_of(SIZE, seed=2))
    handoff = interrupted(world, uploads, "shifty.bin", server_side=server_side, after_parts=1)
    current = body_of(SIZE + MIB, seed=3)
    put_object(world, "shifty.bin", current)

    result = _expect_result(copier(world, uploads, server_side=server_side).copy(handoff.request, Plenty()))

    assert consumer_object(world, "shifty.bin")["body"] == current
    assert result.etag == request_for(world, "shifty.bin").etag
    assert in_progress(world) == []  # the first upload was aborted
    assert uploads.get("shifty.bin") is None


@MODES
def test_a_fanned_out_copy_completes_once_whatever_the_order_and_duplicates_of_its_parts(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    body = body_of(SIZE, seed=4)
    put_object(world, "huge.bin", body, Metadata={"fan": "out"})
    fanning = copier(world, uploads, server_side=server_side, fanout_threshold=20 * MIB)

    handoff = _expect_handoff(fanning.copy(request_for(world, "huge.bin"), Plenty()), HandoffReason.FANOUT)
    assert handoff.parts_remaining == (1, 2, 3, 4, 5)
    assert not world.s3.list_parts(Bucket=world.consumer_bucket, Key="huge.bin", UploadId=handoff.upload_id).get(
        "Parts"
    )

    outcomes: list[PartsOutcome] = []
    for batch in [(4, 2), (5, 4), (2,), (1, 5), (3,), (3, 1), (2, 4)]:
        outcomes.append(fanning.copy_parts(handoff.request, handoff.upload_id, batch, Plenty()))

    results = [o.result for o in outcomes if o.result is not None]
    assert len(results) == 1
    assert outcomes[4].result is results[0]  # part 3 was the last one missing
    assert outcomes[4].done == (3,)
    assert all(o.upload_gone for o in outcomes[5:])
    assert consumer_object(world, "huge.bin")["body"] == body
    assert consumer_object(world, "huge.bin")["head"]["Metadata"] == {"fan": "out"}
    assert results[0].checksum == str(compute(CrcAlgorithm.CRC32, body))
    assert in_progress(world) == []
    assert list(uploads) == []


def test_parts_outside_the_plan_are_refused(world: World, uploads: UploadStore) -> None:
    put_object(world, "huge.bin", body_of(SIZE, seed=16))
    fanning = copier(world, uploads, server_side=True, fanout_threshold=20 * MIB)
    handoff = _expect_handoff(fanning.copy(request_for(world, "huge.bin"), Plenty()), HandoffReason.FANOUT)

    with pytest.raises(InvalidRequestError, match=r"parts 1\.\.5"):
        fanning.copy_parts(handoff.request, handoff.upload_id, (5, 6), Plenty())


def test_fanned_out_parts_stop_at_the_deadline_and_report_what_is_left(world: World, uploads: UploadStore) -> None:
    put_object(world, "huge.bin", body_of(SIZE, seed=5))
    requests = Requests()
    fanning = copier(
        world, uploads, server_side=True, fanout_threshold=20 * MIB, parts_in_flight=1, **_clients(True, requests)
    )
    handoff = _expect_handoff(fanning.copy(request_for(world, "huge.bin"), Plenty()), HandoffReason.FANOUT)

    outcome = fanning.copy_parts(handoff.request, handoff.upload_id, (1, 2, 3), AfterParts(requests, 1))

    assert (outcome.done, outcome.remaining, outcome.result) == ((1,), (2, 3), None)
    record = uploads.get("huge.bin")
    assert record is not None
    assert record.parts == frozenset({1})


def test_a_source_changed_during_fan_out_replaces_the_upload_with_one_of_the_current_version(
    world: World, uploads: UploadStore
) -> None:
    put_object(world, "huge.bin", body_of(SIZE, seed=6))
    fanning = copier(world, uploads, server_side=True, fanout_threshold=20 * MIB)
    old = _expect_handoff(fanning.copy(request_for(world, "huge.bin"), Plenty()), HandoffReason.FANOUT)
    assert fanning.copy_parts(old.request, old.upload_id, (1, 2), Plenty()).done == (1, 2)
    current = body_of(SIZE, seed=7)
    put_object(world, "huge.bin", current)

    restarted = fanning.copy_parts(old.request, old.upload_id, (3,), Plenty())

    new = restarted.handoff
    assert new is not None
    assert new.reason is HandoffReason.FANOUT
    assert new.upload_id != old.upload_id
    assert in_progress(world) == [("huge.bin", new.upload_id)]
    assert fanning.copy_parts(old.request, old.upload_id, (4,), Plenty()).upload_gone
    finished = fanning.copy_parts(new.request, new.upload_id, new.parts_remaining, Plenty())
    assert finished.result is not None
    assert consumer_object(world, "huge.bin")["body"] == current


def test_a_corrupted_stream_fails_the_multipart_copy_and_aborts_its_upload(world: World, uploads: UploadStore) -> None:
    put_object(world, "fragile.bin", body_of(SIZE, seed=8))
    streaming = copier(world, uploads, server_side=False, producer=_CorruptingReads(s3_client()))

    with pytest.raises(ChecksumMismatchError):
        streaming.copy(request_for(world, "fragile.bin"), Plenty())

    assert in_progress(world) == []
    assert list(uploads) == []
    assert world.s3.list_objects_v2(Bucket=world.consumer_bucket).get("KeyCount") == 0


def test_a_composite_source_checksum_is_not_compared_and_the_result_says_so(world: World, uploads: UploadStore) -> None:
    # A source uploaded in parts with a COMPOSITE CRC32 (a checksum of part checksums) has no full-object CRC.
    s3 = world.s3
    body = body_of(11 * MIB, seed=9)
    upload_id = s3.create_multipart_upload(
        Bucket=world.producer_bucket, Key="composite.bin", ChecksumAlgorithm="CRC32"
    )["UploadId"]
    parts = ((1, body[: 6 * MIB]), (2, body[6 * MIB :]))
    etags = [
        s3.upload_part(
            Bucket=world.producer_bucket,
            Key="composite.bin",
            UploadId=upload_id,
            PartNumber=n,
            Body=chunk,
            ChecksumAlgorithm="CRC32",
        )["ETag"]
        for n, chunk in parts
    ]
    s3.complete_multipart_upload(
        Bucket=world.producer_bucket,
        Key="composite.bin",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]},
    )

    result = _expect_result(
        copier(world, uploads, server_side=True).copy(request_for(world, "composite.bin"), Plenty())
    )

    assert consumer_object(world, "composite.bin")["body"] == body
    assert result.verified == "size and pinned version (the source has a COMPOSITE CRC32 checksum)"
    assert result.checksum == str(compute(CrcAlgorithm.CRC64NVME, body))


class _FailingPart(ClientWrapper):
    """The producer client, except that UploadPartCopy of part 2 fails (after botocore's retries)."""

    def upload_part_copy(self, **kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 2:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "UploadPartCopy")
        return self._inner.upload_part_copy(**kwargs)


def test_a_failed_part_keeps_the_upload_for_the_retry_and_abort_leaves_nothing(
    world: World, uploads: UploadStore
) -> None:
    put_object(world, "big.bin", body_of(SIZE, seed=10))
    request = request_for(world, "big.bin")

    with pytest.raises(ObjectTransferError, match="InternalError"):
        copier(world, uploads, server_side=True, producer=_FailingPart(s3_client())).copy(request, Plenty())
    record = uploads.get("big.bin")
    assert record is not None
    assert in_progress(world) == [("big.bin", record.upload_id)]
    assert 2 not in record.parts

    copier(world, uploads, server_side=True).abort(request)

    assert in_progress(world) == []
    assert uploads.get("big.bin") is None
    assert world.s3.list_objects_v2(Bucket=world.consumer_bucket).get("KeyCount") == 0


def test_the_retry_after_a_failed_part_completes_the_same_upload(world: World, uploads: UploadStore) -> None:
    body = body_of(SIZE, seed=11)
    put_object(world, "big.bin", body)
    request = request_for(world, "big.bin")
    with pytest.raises(ObjectTransferError):
        copier(world, uploads, server_side=True, producer=_FailingPart(s3_client())).copy(request, Plenty())
    record = uploads.get("big.bin")
    assert record is not None

    requests = Requests()
    _expect_result(copier(world, uploads, server_side=True, **_clients(True, requests)).copy(request, Plenty()))

    assert sorted(requests.parts) == sorted(set(range(1, 6)) - record.parts)
    assert consumer_object(world, "big.bin")["body"] == body


def test_a_source_vanished_between_invocations_aborts_the_upload(world: World, uploads: UploadStore) -> None:
    put_object(world, "brief.bin", body_of(SIZE, seed=12))
    handoff = interrupted(world, uploads, "brief.bin", server_side=False, after_parts=1)
    world.s3.delete_object(Bucket=world.producer_bucket, Key="brief.bin")

    with pytest.raises(SourceVanishedError):
        copier(world, uploads, server_side=False).copy(handoff.request, Plenty())

    assert in_progress(world) == []
    assert list(uploads) == []


def test_an_upload_aborted_outside_the_copier_is_started_again(world: World, uploads: UploadStore) -> None:
    body = body_of(SIZE, seed=13)
    put_object(world, "big.bin", body)
    handoff = interrupted(world, uploads, "big.bin", server_side=True, after_parts=2)
    world.s3.abort_multipart_upload(Bucket=world.consumer_bucket, Key="big.bin", UploadId=handoff.upload_id)

    _expect_result(copier(world, uploads, server_side=True).copy(handoff.request, Plenty()))

    assert consumer_object(world, "big.bin")["body"] == body
    assert (in_progress(world), list(uploads)) == ([], [])


def test_no_part_starts_without_time_for_it(world: World, uploads: UploadStore) -> None:
    put_object(world, "big.bin", body_of(SIZE, seed=14))

    handoff = interrupted(world, uploads, "big.bin", server_side=True, after_parts=0)

    assert handoff.parts_remaining == (1, 2, 3, 4, 5)
    assert not world.s3.list_parts(Bucket=world.consumer_bucket, Key="big.bin", UploadId=handoff.upload_id).get("Parts")


def test_fanned_out_parts_without_time_to_complete_hand_the_completion_to_copy(
    world: World, uploads: UploadStore
) -> None:
    body = body_of(SIZE, seed=15)
    put_object(world, "huge.bin", body)
    requests = Requests()
    fanning = copier(world, uploads, server_side=True, fanout_threshold=20 * MIB, **_clients(True, requests))
    handoff = _expect_handoff(fanning.copy(request_for(world, "huge.bin"), Plenty()), HandoffReason.FANOUT)

    outcome = fanning.copy_parts(handoff.request, handoff.upload_id, handoff.parts_remaining, AfterParts(requests, 5))

    assert (outcome.done, outcome.result) == ((1, 2, 3, 4, 5), None)
    finish = outcome.handoff
    assert finish is not None
    assert (finish.reason, finish.parts_remaining, finish.upload_id) == (HandoffReason.DEADLINE, (), handoff.upload_id)
    _expect_result(fanning.copy(finish.request, Plenty()))
    assert consumer_object(world, "huge.bin")["body"] == body
    assert sorted(requests.parts) == [1, 2, 3, 4, 5]  # completing copied nothing again


def test_a_caller_that_only_re_enqueues_handoffs_still_finishes_a_fanned_out_copy(
    world: World, uploads: UploadStore
) -> None:
    body = body_of(SIZE, seed=17)
    put_object(world, "huge.bin", body)
    fanning = copier(world, uploads, server_side=False, fanout_threshold=20 * MIB)
    first = _expect_handoff(fanning.copy(request_for(world, "huge.bin"), Plenty()), HandoffReason.FANOUT)

    result = _expect_result(fanning.copy(first.request, Plenty()))

    assert consumer_object(world, "huge.bin")["body"] == body
    assert result.checksum == str(compute(CrcAlgorithm.CRC32, body))


@MODES
def test_a_recorded_upload_of_an_older_version_whose_source_vanished_is_aborted(
    world: World, uploads: UploadStore, server_side: bool
) -> None:
    # Given an upload recorded for the first version, and a later run's request for the second one
    put_object(world, "fleeting.bin", body_of(SIZE, seed=18))
    handoff = interrupted(world, uploads, "fleeting.bin", server_side=server_side, after_parts=1)
    put_object(world, "fleeting.bin", body_of(SIZE, seed=19))
    newer = request_for(world, "fleeting.bin")
    # When the source is deleted before that request is copied
    world.s3.delete_object(Bucket=world.producer_bucket, Key="fleeting.bin")

    with pytest.raises(SourceVanishedError):
        copier(world, uploads, server_side=server_side).copy(newer, Plenty())

    # Then the older version's upload is aborted and forgotten, not left for the lifecycle rule
    assert newer.etag != handoff.request.etag
    assert in_progress(world) == []
    assert list(uploads) == []


def test_progress_is_recorded_in_batches_and_the_record_holds_every_part_at_hand_on(
    world: World, uploads: UploadStore
) -> None:
    put_object(world, "batched.bin", body_of(SIZE, seed=20))
    db = boto3.client("dynamodb", region_name=REGION)
    writes: list[set[str]] = []
    db.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem",
        lambda params, **_: (
            writes.append(params["ExpressionAttributeValues"][":n"]["NS"])
            if params.get("UpdateExpression", "").startswith("ADD parts")
            else None
        ),
    )
    store = UploadStore(db, uploads.table)
    requests = Requests()
    started = time.monotonic()

    handoff = _expect_handoff(
        copier(world, store, server_side=True, **_clients(True, requests)).copy(
            request_for(world, "batched.bin"), AfterParts(requests, 4)
        ),
        HandoffReason.DEADLINE,
    )

    elapsed = time.monotonic() - started
    record = store.get("batched.bin")
    assert record is not None
    assert record.parts == frozenset(requests.parts) == frozenset(range(1, 6)) - set(handoff.parts_remaining)
    # one write when the call stops, plus one per RECORD_EVERY_SECONDS it ran (was: one per part that landed)
    assert 1 <= len(writes) <= 1 + int(elapsed // RECORD_EVERY_SECONDS)
    assert {int(n) for batch in writes for n in batch} == record.parts
