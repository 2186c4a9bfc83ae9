"""What moto does not do as AWS does and our code relies on, added the way AWS documents it.

- DynamoDB: transactions are atomic and isolated under concurrent requests (tools/localstack/s3h_localstack/
  moto_dynamodb.py, shared with the LocalStack provider).
- S3: moto (5.x) ignores `x-amz-copy-source-if-match` on CopyObject and UploadPartCopy; S3 and LocalStack
  answer 412 PreconditionFailed when the source's ETag differs. The copier's changed-object rule depends on
  it, so the moto tests get it too.
- CloudFormation: moto (5.x) executes a change set's resources but leaves the stack's template, parameters
  and outputs as they were (a stack created by a change set has no outputs). The deploy tool reads the
  outputs after executing its change sets, as on AWS.

Remove each patch once moto does the same.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto.cloudformation.models import ChangeSet
from moto.s3.exceptions import MissingKey, PreconditionFailed
from moto.s3.responses import S3Response
from tools.localstack.s3h_localstack import moto_dynamodb


def _check_copy_source_if_match(response: S3Response) -> None:
    expected = response.headers.get("x-amz-copy-source-if-match")
    if not expected:
        return
    source = response.headers.get("x-amz-copy-source")
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    parsed = urlparse(source)
    bucket, key = unquote(parsed.path).lstrip("/").split("/", 1)
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    obj = response.backend.get_object(bucket, key, version_id=version)
    if obj is None:
        raise MissingKey(key=key)
    if expected.strip('"') != obj.etag.strip('"'):
        raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")


def _guarded(method: Callable[[S3Response], Any]) -> Callable[[S3Response], Any]:
    @functools.wraps(method)
    def wrapper(self: S3Response) -> Any:
        _check_copy_source_if_match(self)
        return method(self)

    wrapper.__s3h_patched__ = True  # type: ignore[attr-defined]
    return wrapper


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


def apply() -> None:
    moto_dynamodb.apply()  # the functions write from thread pools: transactions must be atomic, as in DynamoDB
    for name in ("copy_object", "upload_part_copy"):
        method = getattr(S3Response, name)
        if not getattr(method, "__s3h_patched__", False):
            setattr(S3Response, name, _guarded(method))
    if not getattr(ChangeSet.apply, "__s3h_patched__", False):
        ChangeSet.apply = _apply_change_set(ChangeSet.apply)  # type: ignore[method-assign]
