"""What moto does not do as AWS does and our code relies on, added the way AWS documents it.

moto 5.2 differs from AWS (and LocalStack 2026.3) in these points; each patch below restores AWS's behaviour.
Remove a patch once moto implements it.
- DynamoDB: transactions are atomic and isolated under concurrent requests (tools/localstack/s3h_localstack/
  moto_dynamodb.py, shared with the LocalStack provider).
- CloudFormation: a change set's resources are executed but the stack's template, parameters and outputs are
  left as they were (a stack created by a change set has no outputs). The deploy tool reads the outputs after
  executing its change sets, as on AWS.
- CloudFormation: UpdateTerminationProtection is not implemented, and DeleteStack ignores the protection;
  AWS refuses to delete a protected stack (ValidationError) until the protection is turned off.
- Copy-source preconditions: CopyObject and UploadPartCopy ignore `x-amz-copy-source-if-match` and
  `x-amz-copy-source-if-unmodified-since`. S3 answers 412 PreconditionFailed when the source's ETag
  differs, or when it was modified since the date, unless an If-Match is present and holds (S3 then copies).
- GetObject and HeadObject evaluate If-Unmodified-Since even when If-Match holds; S3 then answers 200
  (RFC 7232 section 6). The copier must catch metadata-only changes without it, so the tests run S3's rule.
- HeadObject with `ChecksumMode=ENABLED` omits `x-amz-checksum-type` and reports a COMPOSITE checksum
  without its `-<parts>` suffix (GetObject has both).
- UploadPartCopy returns no part checksum, and ListParts none per part; S3 reports the part's CRC in the
  upload's checksum algorithm in both.
- CompleteMultipartUpload neither checks a full-object checksum given with it (S3: 400 BadDigest when it
  differs from the object's) nor returns the object's checksum.
- ListMultipartUploads reports every upload as initiated at the same fixed time in 2010, in creation order,
  all in one page whatever `max-uploads` and the markers say; S3 reports when each was initiated (the
  planner's watermark holds back to it) and lists by key, then by initiation, a page of at most
  `max-uploads` after `key-marker` / `upload-id-marker` (`uploads list` pages on them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import ChangeSet
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.core.utils import iso_8601_datetime_with_milliseconds, str_to_rfc_1123_datetime, utcnow
from moto.s3.exceptions import MissingKey, PreconditionFailed, S3ClientError
from moto.s3.models import FakeKey, FakeMultipart
from moto.s3.responses import S3Response
from moto.s3.utils import compute_checksum
from tools.localstack.s3h_localstack import moto_dynamodb
from werkzeug.datastructures import Headers

PATCHED = "__s3h_patched__"


def _once(patch: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`patch(original, *args)` replaces a method, once however often `apply()` runs."""

    def decorate(original: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(original, PATCHED, False):
            return original

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return patch(original, *args, **kwargs)

        setattr(wrapper, PATCHED, True)
        return wrapper

    return decorate


def _text(body: Any) -> str:
    return body.decode("utf-8") if isinstance(body, bytes) else str(body)


def _copy_source_object(response: S3Response) -> FakeKey:
    source = response.headers.get("x-amz-copy-source")
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    parsed = urlparse(source)
    bucket, key = unquote(parsed.path).lstrip("/").split("/", 1)
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    obj = response.backend.get_object(bucket, key, version_id=version)
    if obj is None:
        raise MissingKey(key=key)
    return obj


def _modified_since(obj: FakeKey, http_date: str) -> bool:
    return obj.last_modified.replace(microsecond=0) > str_to_rfc_1123_datetime(http_date)


def _check_copy_source(response: S3Response) -> None:
    if_match = response.headers.get("x-amz-copy-source-if-match")
    if_unmodified_since = response.headers.get("x-amz-copy-source-if-unmodified-since")
    if not (if_match or if_unmodified_since):
        return
    obj = _copy_source_object(response)
    if if_match:
        if if_match.strip('"') != obj.etag.strip('"'):
            raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")
    elif _modified_since(obj, if_unmodified_since):
        raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Unmodified-Since")


def _copy_object(original: Callable[[S3Response], Any], response: S3Response) -> Any:
    _check_copy_source(response)
    return original(response)


def _upload(response: S3Response) -> FakeMultipart:
    upload_id = response.querystring["uploadId"][0]
    return response.backend.get_bucket(response.bucket_name).multiparts[upload_id]


def _algorithm(upload: FakeMultipart) -> str | None:
    algorithm = upload.metadata.get("x-amz-checksum-algorithm")
    return str(algorithm).upper() if algorithm else None


def _part_checksum(upload: FakeMultipart, number: int) -> tuple[str, str] | None:
    algorithm = _algorithm(upload)
    if algorithm is None:
        return None
    return algorithm, compute_checksum(upload.parts[number].value, algorithm).decode("ascii")


def _upload_part_copy(original: Callable[[S3Response], Any], response: S3Response) -> Any:
    _check_copy_source(response)
    status, headers, body = original(response)
    checksum = _part_checksum(_upload(response), int(response.querystring["partNumber"][0]))
    if status == 200 and checksum is not None:
        algorithm, value = checksum
        element = f"<Checksum{algorithm}>{value}</Checksum{algorithm}>"
        body = _text(body).replace("</CopyPartResult>", f"{element}</CopyPartResult>")
        headers["content-length"] = str(len(body.encode("utf-8")))
    return status, headers, body


def _list_parts_checksums(original: Callable[[S3Response], Any], response: S3Response) -> Any:
    status, headers, body = original(response)
    if status != 200:
        return status, headers, body
    upload = _upload(response)

    def with_checksum(match: re.Match[str]) -> str:
        checksum = _part_checksum(upload, int(match.group(2)))
        if checksum is None:
            return match.group(0)
        algorithm, value = checksum
        return f"{match.group(1)}<Checksum{algorithm}>{value}</Checksum{algorithm}>"

    body = re.sub(r"(<Part><PartNumber>(\d+)</PartNumber>)", with_checksum, _text(body))
    headers["content-length"] = str(len(body.encode("utf-8")))
    return status, headers, body


def _complete_checks_the_checksum(
    original: Callable[..., Any],
    response: S3Response,
    request: Any,
    body: bytes,
    bucket_name: str,
    query: Any,
    key_name: str,
) -> Any:
    if "uploadId" not in query or "uploads" in query:
        return original(response, request, body, bucket_name, query, key_name)
    upload = response.backend.get_bucket(bucket_name).multiparts.get(query["uploadId"][0])
    algorithm = _algorithm(upload) if upload is not None else None
    given = request.headers.get(f"x-amz-checksum-{algorithm.lower()}") if algorithm else None
    if upload is not None and algorithm and given:
        numbers = [number for number, _ in response._complete_multipart_body(body)]
        assembled = b"".join(upload.parts[n].value for n in numbers if n in upload.parts)
        if compute_checksum(assembled, algorithm).decode("ascii") != given:
            raise S3ClientError("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
    status, headers, out = original(response, request, body, bucket_name, query, key_name)
    key = response.backend.get_object(bucket_name, key_name)
    if status == 200 and algorithm and key is not None and key.checksum_value and key.checksum_type == "FULL_OBJECT":
        elements = (
            f"<Checksum{algorithm}>{key.checksum_value}</Checksum{algorithm}><ChecksumType>FULL_OBJECT</ChecksumType>"
        )
        out = _text(out).replace("</CompleteMultipartUploadResult>", f"{elements}</CompleteMultipartUploadResult>")
        headers["content-length"] = str(len(out.encode("utf-8")))
    return status, headers, out


def _s3_preconditions(headers: Any, obj: FakeKey | None) -> Any:
    """The request headers as S3 evaluates them: an If-Match that holds makes If-Unmodified-Since moot."""
    if_match = headers.get("If-Match")
    if obj is None or not if_match or if_match.strip('"') != obj.etag.strip('"'):
        return headers
    kept = Headers(headers)
    kept.remove("If-Unmodified-Since")
    return kept


def _get_key_aws_preconditions(original: Callable[..., Any], response: S3Response, *args: Any, **kwargs: Any) -> Any:
    version_id = response.querystring.get("versionId", [None])[0]
    obj = response.backend.get_object(response.bucket_name, response.parse_key_name(), version_id=version_id)
    received = response.headers
    response.headers = _s3_preconditions(received, obj)
    try:
        return original(response, *args, **kwargs)
    finally:
        response.headers = received


def _head_object_like_s3(
    original: Callable[..., Any], response: S3Response, bucket_name: str, query: Any, key_name: str, headers: Any
) -> Any:
    version_id = query.get("versionId", [None])[0]
    obj = response.backend.get_object(bucket_name, key_name, version_id=version_id)
    status, out_headers, body = original(response, bucket_name, query, key_name, _s3_preconditions(headers, obj))
    checksum_mode = headers.get("x-amz-checksum-mode") == "ENABLED"
    if status == 200 and obj is not None and checksum_mode and obj.checksum_algorithm and obj.checksum_type:
        name = f"x-amz-checksum-{obj.checksum_algorithm.lower()}"
        out_headers["x-amz-checksum-type"] = obj.checksum_type
        if obj.checksum_type == "COMPOSITE" and name in out_headers:
            out_headers[name] = f"{obj.checksum_value}-{obj.checksum_parts}"
    return status, out_headers, body


def _multipart_init(original: Callable[..., None], upload: FakeMultipart, *args: Any, **kwargs: Any) -> None:
    original(upload, *args, **kwargs)
    upload.initiated = utcnow()  # type: ignore[attr-defined]


def _list_multipart_uploads_like_s3(original: Callable[[S3Response], Any], response: S3Response) -> Any:
    """S3's listing: by key, then by initiation; after `key-marker` (and, for that key, after the upload
    `upload-id-marker`); at most `max-uploads` (1,000), with the next markers when truncated; each upload's
    own initiation time."""
    query = {name: values[0] for name, values in response.querystring.items()}
    uploads = sorted(
        (
            u
            for u in response.backend.list_multipart_uploads(response.bucket_name).values()
            if u.key_name.startswith(query.get("prefix", ""))
        ),
        key=lambda u: (u.key_name, getattr(u, "initiated", None) or utcnow()),
    )
    key_marker, id_marker = query.get("key-marker", ""), query.get("upload-id-marker", "")
    if key_marker:
        ids = [u.id for u in uploads if u.key_name == key_marker]
        after_id = ids.index(id_marker) + 1 if id_marker in ids else (0 if id_marker else len(ids))
        same = [u for u in uploads if u.key_name == key_marker][after_id:]
        uploads = same + [u for u in uploads if u.key_name > key_marker]
    limit = min(int(query.get("max-uploads", 1000)), 1000)
    page, truncated = uploads[:limit], len(uploads) > limit
    result: dict[str, Any] = {
        "Bucket": response.bucket_name,
        "KeyMarker": key_marker,
        "UploadIdMarker": id_marker,
        "MaxUploads": limit,
        "IsTruncated": truncated,
        "Uploads": [
            {
                "Key": u.key_name,
                "UploadId": u.id,
                "StorageClass": "STANDARD",
                "Initiated": iso_8601_datetime_with_milliseconds(getattr(u, "initiated", None) or utcnow()),
                "ChecksumAlgorithm": u.metadata.get("x-amz-checksum-algorithm"),
                "ChecksumType": u.metadata.get("x-amz-checksum-type"),
            }
            for u in page
        ],
    }
    if truncated:
        result.update(NextKeyMarker=page[-1].key_name, NextUploadIdMarker=page[-1].id)
    response.data["Action"] = "ListMultipartUploads"
    return response.serialized(ActionResult(result))


def _apply_change_set(original: Callable[[ChangeSet], None]) -> Callable[[ChangeSet], None]:
    @functools.wraps(original)
    def apply(self: ChangeSet) -> None:
        original(self)
        stack = self.stack
        stack.template = self.template
        stack._parse_template()
        stack.parameters = self.parameters
        stack.output_map = stack._create_output_map()

    apply.__s3h_patched__ = True  # type: ignore[attr-defined]
    return apply


def _update_termination_protection(self: CloudFormationResponse) -> Any:
    [stack] = self.cloudformation_backend.describe_stacks(self._get_param("StackName"))
    stack.enable_termination_protection = str(self._get_param("EnableTerminationProtection")).lower() == "true"
    return ActionResult({"StackId": stack.stack_id})


def _delete_refuses_a_protected_stack(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_stack(self: CloudFormationResponse) -> Any:
        stacks = self.cloudformation_backend.describe_stacks(self._get_param("StackName"))
        if stacks and getattr(stacks[0], "enable_termination_protection", False):
            name = stacks[0].name
            raise ValidationError(message=f"Stack [{name}] cannot be deleted while TerminationProtection is enabled")
        return original(self)

    delete_stack.__s3h_patched__ = True  # type: ignore[attr-defined]
    return delete_stack


def apply() -> None:
    CloudFormationResponse.update_termination_protection = _update_termination_protection  # type: ignore[attr-defined]
    if not getattr(CloudFormationResponse.delete_stack, PATCHED, False):
        CloudFormationResponse.delete_stack = _delete_refuses_a_protected_stack(  # type: ignore[method-assign]
            CloudFormationResponse.delete_stack
        )
    moto_dynamodb.apply()  # the functions write from thread pools: transactions must be atomic, as in DynamoDB
    if not getattr(ChangeSet.apply, PATCHED, False):
        ChangeSet.apply = _apply_change_set(ChangeSet.apply)  # type: ignore[method-assign]
    for name, patch in (
        ("copy_object", _copy_object),
        ("upload_part_copy", _upload_part_copy),
        ("list_parts", _list_parts_checksums),
        ("_key_response_post", _complete_checks_the_checksum),
        ("_get_key", _get_key_aws_preconditions),
        ("head_object", _head_object_like_s3),
        ("list_multipart_uploads", _list_multipart_uploads_like_s3),
    ):
        setattr(S3Response, name, _once(patch)(getattr(S3Response, name)))
    FakeMultipart.__init__ = _once(_multipart_init)(FakeMultipart.__init__)  # type: ignore[method-assign]
