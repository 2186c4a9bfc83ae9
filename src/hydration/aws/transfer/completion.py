"""Completing a multipart copy, once and verified: the completion is claimed in the uploads table; ListParts
must hold every part of the plan at its size; a pinned HEAD confirms the source version; the part CRCs are
combined into the object's, compared with the source's and passed to CompleteMultipartUpload, where S3
checks the assembled object against it. A mismatch discards the upload."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from hydration.aws import multipart
from hydration.aws.transfer.source import Calls, result, verdict
from hydration.aws.transfer.upload import discard, held_parts
from hydration.checksums import CrcAlgorithm, combine_parts
from hydration.copying import CopyRequest, CopyResult, Deadline
from hydration.errors import ChecksumMismatchError, ObjectTransferError
from hydration.observability import logger
from hydration.parts import PartPlan, complete_seconds

if TYPE_CHECKING:
    from hydration.aws.transfer.setup import Setup
    from hydration.aws.uploads import UploadRecord

# Its claim outlives any invocation, so a completer that died frees it. How long a completion is given:
# `hydration.parts.complete_seconds`.
COMPLETION_LEASE: Final = timedelta(minutes=15)


def complete(
    setup: Setup, request: CopyRequest, record: UploadRecord, deadline: Deadline, calls: Calls
) -> CopyResult | None:
    """Complete and verify the upload, once: None if there is no time for it or another call holds the
    claim (or no longer records the upload)."""
    if deadline.remaining_seconds() < complete_seconds(record.part_count):
        return None
    if not setup.uploads.claim_completion(record.key, record.upload_id, COMPLETION_LEASE):
        return None
    try:
        return _verify_and_complete(setup, request, record, calls)
    except BaseException:
        setup.uploads.release_completion(record.key, record.upload_id)
        raise


def _verify_and_complete(setup: Setup, request: CopyRequest, record: UploadRecord, calls: Calls) -> CopyResult:
    writer = setup.writer(record.mode)
    algorithm = CrcAlgorithm(record.checksum_algorithm)
    plan = PartPlan(record.size, record.part_size)
    held = held_parts(setup, request, record, calls)
    ordered = []
    for number in plan.numbers():
        part = held.get(number)
        if part is None or part.size != plan.length(number):
            found = "missing" if part is None else f"{part.size} bytes, expected {plan.length(number)}"
            raise ObjectTransferError(request.source_key, "PartMismatch", f"part {number}: {found}")
        ordered.append(part)
    source = calls.head(request)  # still the pinned version, metadata included
    combined = None
    if all(part.checksum is not None for part in ordered):
        combined = combine_parts(algorithm, [(part.checksum.value, part.size) for part in ordered if part.checksum])
        if source.checksum is not None and combined != source.checksum:
            discard(setup, record)
            raise ChecksumMismatchError(request.source_key, str(source.checksum), str(combined))
    try:
        stored = calls.send(
            request,
            multipart.complete,
            writer,
            record.bucket,
            record.key,
            record.upload_id,
            ordered,
            algorithm,
            combined,
        )
    except ObjectTransferError as exc:
        if exc.code != "BadDigest":
            raise
        # S3's CRC of the assembled parts is not the one combined from their CRCs
        discard(setup, record)
        raise ChecksumMismatchError(request.source_key, f"S3's {algorithm} of the parts", str(combined)) from exc
    setup.uploads.delete(record.key, record.upload_id)
    copy_checksum = stored or combined
    if combined is not None:
        what = f"the {algorithm} of the {len(ordered)} parts, combined and checked by S3 at completion,"
    else:
        what = f"the {algorithm} S3 computed at completion"
    logger.info("multipart upload completed", key=request.dest_key, upload_id=record.upload_id)
    return result(source, calls, copy_checksum, verdict(request, source, copy_checksum, what))
