"""Copies in one request (up to the multipart threshold), each verified against its source before it counts:
server-side, a pinned HEAD (the source's CRC) then CopyObject with S3 computing the copy's; stream, a pinned
GET whose CRC is computed while it is read and compared before the PUT, which carries it (S3 verifies it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydration.aws import multipart
from hydration.aws import s3 as s3_adapter
from hydration.aws.transfer.memory import read_body
from hydration.aws.transfer.source import Calls, Source, copy_pin, copy_source, result, verdict
from hydration.copying import CopyRequest, CopyResult
from hydration.settings import CopyMode

if TYPE_CHECKING:
    from hydration.aws.transfer.setup import Setup


def copy_single(setup: Setup, request: CopyRequest, calls: Calls) -> CopyResult:
    if setup.mode is CopyMode.SERVER_SIDE:
        return _copy_object(setup, request, calls)
    return _get_and_put(setup, request, calls)


def _copy_object(setup: Setup, request: CopyRequest, calls: Calls) -> CopyResult:
    source = calls.head(request)
    algorithm = source.algorithm
    response = calls.send(
        request,
        setup.producer.copy_object,
        CopySource=copy_source(request),
        Bucket=request.dest_bucket,
        Key=request.dest_key,
        MetadataDirective="COPY",
        TaggingDirective="COPY",
        ChecksumAlgorithm=algorithm.value,
        **copy_pin(request),
        **s3_adapter.sse(request.kms_key_id),
    )
    copied = multipart.checksum_in(response.get("CopyObjectResult", {}), algorithm)
    verified = verdict(request, source, copied, f"the {algorithm} S3 computed for the copy")
    return result(source, calls, copied, verified)


def _get_and_put(setup: Setup, request: CopyRequest, calls: Calls) -> CopyResult:
    with setup.budget.held(max(request.size, 1)):
        response = calls.get(request, ChecksumMode="ENABLED")
        source = Source.of(response)
        body, local = read_body(request, response, source.head.size, source.algorithm)
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
