"""Copies in one request, each verified against its source before it counts (docs/large-objects.md,
"Integrity"):
- server-side, CopyObject with the source's CRC algorithm, so that S3 computes the copy's CRC, compared with
  the source's: read by a pinned HEAD, or already at hand (`CopyRequest.known_checksum`: no HEAD). With
  `Verification.NONE`, CopyObject alone (S3 copies the source's checksum to the copy; nothing is compared).
- stream, a pinned GET whose CRC is computed while it is read and compared with the one the GET reports,
  before the PUT, which carries it (S3 verifies it). The GET must happen anyway: no mode adds a request.
Server-side, objects up to 5 GiB are copied this way when the deadline leaves time for it (`fits`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydration.aws import multipart
from hydration.aws import s3 as s3_adapter
from hydration.aws.transfer.memory import read_body
from hydration.aws.transfer.source import Calls, Source, copy_pin, copy_source, result, verdict
from hydration.checksums import Checksum, CrcAlgorithm
from hydration.copying import CopyRequest, CopyResult, Deadline
from hydration.errors import ChecksumMismatchError, ObjectTransferError
from hydration.parts import copy_seconds
from hydration.settings import CopyMode, Verification

if TYPE_CHECKING:
    from hydration.aws.transfer.setup import Setup


def fits(setup: Setup, request: CopyRequest, deadline: Deadline) -> bool:
    """One request copies it: up to the multipart threshold always; server-side up to CopyObject's 5 GiB
    when the deadline leaves time for it at the assumed pace (one request beats many here, and nothing of a
    large object is recorded, so an invocation that cannot finish it must not start it)."""
    if request.size <= setup.multipart_threshold:
        return True
    return (
        setup.mode is CopyMode.SERVER_SIDE
        and request.size <= setup.single_copy_max
        and deadline.remaining_seconds() >= copy_seconds(request.size)
        and setup.uploads.get(request.dest_key) is None  # a multipart copy in progress goes on as one
    )


def copy_single(setup: Setup, request: CopyRequest, calls: Calls) -> CopyResult:
    if setup.mode is CopyMode.SERVER_SIDE:
        if setup.verification is Verification.NONE:
            return _copy_object_unverified(setup, request, calls)
        if request.known_checksum:
            return _copy_object_against(setup, request, calls, Checksum.parse(request.known_checksum))
        return _copy_object(setup, request, calls)
    return _get_and_put(setup, request, calls)


def _send_copy(setup: Setup, request: CopyRequest, calls: Calls, algorithm: CrcAlgorithm | None) -> dict[str, object]:
    """CopyObject of the pinned version, headers, metadata and tags copied, under the consumer key; with an
    algorithm S3 computes the copy's CRC in it, without one S3 copies the source's checksum."""
    extra = {"ChecksumAlgorithm": algorithm.value} if algorithm else {}
    response = calls.send(
        request,
        setup.producer.copy_object,
        CopySource=copy_source(request),
        Bucket=request.dest_bucket,
        Key=request.dest_key,
        MetadataDirective="COPY",
        TaggingDirective="COPY",
        **extra,
        **copy_pin(request),
        **s3_adapter.sse(request.kms_key_id),
    )
    return dict(response.get("CopyObjectResult", {}))


def _copy_object(setup: Setup, request: CopyRequest, calls: Calls) -> CopyResult:
    source = calls.head(request)  # pinned: the source's checksum, and its LastModified checked
    algorithm = source.algorithm
    copied = multipart.checksum_in(_send_copy(setup, request, calls, algorithm), algorithm)
    verified = verdict(request, source, copied, f"the {algorithm} S3 computed for the copy")
    return result(source, calls, copied, verified)


def _copy_object_against(setup: Setup, request: CopyRequest, calls: Calls, known: Checksum) -> CopyResult:
    """The version's checksum is at hand (copied and verified before): CopyObject alone, compared with it."""
    copied = multipart.checksum_in(_send_copy(setup, request, calls, known.algorithm), known.algorithm)
    if copied is None:
        verified = f"size and pinned version (S3 reported no {known.algorithm} for the copy)"
    elif copied != known:
        raise ChecksumMismatchError(request.source_key, str(known), str(copied))
    else:
        verified = f"the {known.algorithm} S3 computed for the copy equals the one recorded for this version"
    return _unheaded(request, calls, copied, verified)


def _copy_object_unverified(setup: Setup, request: CopyRequest, calls: Calls) -> CopyResult:
    response = _send_copy(setup, request, calls, None)
    copied = next((c for a in CrcAlgorithm if (c := multipart.checksum_in(response, a)) is not None), None)
    return _unheaded(request, calls, copied, "not compared (Verification=none): the pinned version only")


def _unheaded(request: CopyRequest, calls: Calls, checksum: Checksum | None, verified: str) -> CopyResult:
    """The result of a copy made without reading the source: the version is the pinned one."""
    return CopyResult(
        bytes=request.size,
        requests=calls.count,
        etag=request.etag,
        last_modified=request.last_modified,
        checksum=str(checksum) if checksum else None,
        verified=verified,
    )


def _get_and_put(setup: Setup, request: CopyRequest, calls: Calls) -> CopyResult:
    with setup.budget.held(max(request.size, 1)) as buffer:
        response = calls.get(request, ChecksumMode="ENABLED")
        source = Source.of(response)
        if source.head.size > len(buffer):
            raise ObjectTransferError(request.source_key, "SizeMismatch", f"{source.head.size} bytes, listed smaller")
        body, local = read_body(request, response, buffer[: source.head.size], source.algorithm)
        verified = verdict(request, source, local, f"the {source.algorithm} computed while streaming")
        tagging = calls.tagging(request) if response.get("TagCount") else ""
        calls.send(
            request,
            setup.consumer.put_object,
            Bucket=request.dest_bucket,
            Key=request.dest_key,
            Body=body,
            ChecksumAlgorithm=local.algorithm.value,
            **{local.algorithm.field: local.base64},
            **s3_adapter.write_attributes(source.head, tagging),
            **s3_adapter.sse(request.kms_key_id),
        )
    return result(source, calls, local, f"{verified}; S3 verified the upload against it")
