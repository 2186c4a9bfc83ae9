"""The multipart upload of one key, as the uploads table records it: opened (the recorded one resumed if it
copies the source's current version, else a new one created and recorded), discarded (aborted and
forgotten), and handed off to other calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from hydration.aws import multipart
from hydration.aws import s3 as s3_adapter
from hydration.aws.transfer.source import Calls, copies, version_of
from hydration.aws.uploads import UploadRecord
from hydration.checksums import CrcAlgorithm
from hydration.copying import CopyRequest, Deadline, Handoff, HandoffReason
from hydration.errors import ObjectTransferError, SourceChangedError, SourceVanishedError
from hydration.observability import logger
from hydration.parts import PartPlan, largest_part_within

if TYPE_CHECKING:
    from hydration.aws.multipart import UploadedPart
    from hydration.aws.transfer.setup import Setup


def open_upload(
    setup: Setup, request: CopyRequest, deadline: Deadline, calls: Calls
) -> tuple[CopyRequest, UploadRecord, frozenset[int] | None]:
    """The recorded upload of this key if it copies the source's current version, with the parts it holds;
    else a new one (and None for its parts), its part size chosen for the time an invocation has."""
    record = setup.uploads.get(request.dest_key)
    if record is not None and not copies(record, request):
        try:
            current = calls.current(request)
        except SourceVanishedError:
            discard(setup, record)  # no version of the source is left to copy: nothing may stay behind
            raise
        if copies(record, current):
            request = current  # the request was listed before the version being copied
        else:
            discard(setup, record)
            record = None
            if version_of(current) != version_of(request):
                raise SourceChangedError(request.source_key, request.etag)
    if record is not None:
        try:
            return request, record, frozenset(held_parts(setup, request, record, calls)) | record.parts
        except multipart.UploadGoneError:
            logger.warning("multipart upload aborted outside the copier; starting again", key=request.dest_key)
            setup.uploads.delete(record.key, record.upload_id)
    return (request, *_create_upload(setup, request, deadline, calls))


def _create_upload(
    setup: Setup, request: CopyRequest, deadline: Deadline, calls: Calls
) -> tuple[UploadRecord, frozenset[int] | None]:
    """A new upload, recorded (and None for its parts); or the one another invocation recorded meanwhile.
    Its parts are PART_SIZE_BYTES, or smaller if a part of that size would not fit the time this invocation
    has left (the next ones have as much: they run with the same timeout), or larger for 10,000 parts."""
    source = calls.head(request)
    tagging = calls.tagging(request)
    plan = PartPlan.for_object(request.size, setup.part_size, largest_part_within(deadline.remaining_seconds()))
    writer = setup.writer(setup.mode)
    attributes = {**s3_adapter.write_attributes(source.head, tagging), **s3_adapter.sse(request.kms_key_id)}
    upload_id = calls.send(
        request,
        multipart.create,
        writer,
        request.dest_bucket,
        request.dest_key,
        source.algorithm,
        attributes,
    )
    now = setup.uploads.clock()
    record = UploadRecord(
        bucket=request.dest_bucket,
        key=request.dest_key,
        upload_id=upload_id,
        mode=setup.mode.value,
        source_bucket=request.source_bucket,
        source_key=request.source_key,
        source_etag=source.head.etag,
        source_last_modified=source.head.last_modified,
        source_version_id=request.version_id,
        size=request.size,
        part_size=plan.part_size,
        part_count=plan.count,
        checksum_algorithm=source.algorithm.value,
        source_checksum=str(source.checksum) if source.checksum else None,
        created_at=now,
        updated_at=now,
    )
    if setup.uploads.create(record):
        logger.info("multipart upload started", key=request.dest_key, upload_id=upload_id, parts=plan.count)
        return record, None
    # Another invocation recorded an upload for this key first: ours goes, theirs is used if it fits.
    calls.send(request, multipart.abort, writer, request.dest_bucket, request.dest_key, upload_id)
    existing = setup.uploads.get(request.dest_key)
    if existing is None or not copies(existing, request):
        raise ObjectTransferError(
            request.source_key, "UploadConflict", "another invocation started an upload of this key meanwhile"
        )
    return existing, existing.parts


def held_parts(setup: Setup, request: CopyRequest, record: UploadRecord, calls: Calls) -> dict[int, UploadedPart]:
    """The parts S3 holds in the recorded upload, by number (ListParts: the truth, whatever the record says)."""
    writer = setup.writer(record.mode)
    algorithm = CrcAlgorithm(record.checksum_algorithm)
    return calls.send(request, multipart.parts, writer, record.bucket, record.key, record.upload_id, algorithm)


def discard(setup: Setup, record: UploadRecord) -> bool:
    """Abort the upload and forget it; False if another call had already forgotten it."""
    try:
        multipart.abort(setup.writer(record.mode), record.bucket, record.key, record.upload_id)
    except ClientError as exc:
        # The consumer bucket's lifecycle rule aborts it a day after it started; `s3-hydration uploads`
        # lists it meanwhile.
        logger.warning("AbortMultipartUpload failed", key=record.key, upload_id=record.upload_id, error=str(exc))
    return setup.uploads.delete(record.key, record.upload_id)


def handoff(
    reason: HandoffReason,
    request: CopyRequest,
    record: UploadRecord,
    remaining: tuple[int, ...],
    *,
    progressed: bool = True,
) -> Handoff:
    logger.info(
        "multipart copy handed off",
        key=request.dest_key,
        reason=reason.value,
        upload_id=record.upload_id,
        parts_remaining=len(remaining),
        part_count=record.part_count,
        progressed=progressed,
    )
    return Handoff(
        reason=reason,
        request=request,
        upload_id=record.upload_id,
        part_size=record.part_size,
        part_count=record.part_count,
        parts_remaining=remaining,
        progressed=progressed,
    )
