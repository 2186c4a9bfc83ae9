"""Plugin entry points (declared in tools/localstack/pyproject.toml), imported by LocalStack's plux loader.

- ``localstack.lambda.runtime_executor`` ``s3h-local``: select with ``LAMBDA_RUNTIME_EXECUTOR=s3h-local``.
- ``localstack.aws.provider`` ``dynamodb:s3h_moto``: select with ``PROVIDER_OVERRIDE_DYNAMODB=s3h_moto``.
  LocalStack's own DynamoDB providers (default and v2) both run DynamoDB Local, which is downloaded
  (Java + jar) on first use and cannot be offline; this one serves DynamoDB from moto's in-memory backend,
  with transactions made atomic under concurrent requests (``moto_dynamodb``).
- ``localstack.hooks.on_infra_start`` ``s3h_bind_gateway_to_listen_host``: LocalStack's Twisted gateway binds
  IPv4 listeners to every interface whatever host GATEWAY_LISTEN names; this makes it bind that host
  (127.0.0.1 for us).
- ``localstack.hooks.on_infra_start`` ``s3h_s3_cross_account_upload_part_copy``: UploadPartCopy resolves its
  buckets across accounts, as AWS and LocalStack's own CopyObject do.
- ``localstack.hooks.on_infra_start`` ``s3h_s3_cross_account_copy_object_tags``: CopyObject copies the
  source's tags across accounts, as AWS does.
- ``localstack.hooks.on_infra_start`` ``s3h_s3_list_in_key_order``: ListObjectsV2 with ``EncodingType=url``
  compares raw keys with ``StartAfter`` and the continuation token, as S3 does (UTF-8 binary order), over a
  sorted index of the bucket's keys, its pages written straight to XML rather than by LocalStack's generic
  serializer (``s3h_localstack.listing_index``).
- ``localstack.hooks.on_infra_start`` ``s3h_sqs_esm_concurrency``: SQS event source mappings run several poll
  loops at once, as AWS does (``s3h_localstack.esm_concurrency``).
- ``localstack.hooks.on_infra_start`` ``s3h_fault_injection``: the tests' fault rules, their control endpoint
  ``/_s3h/faults`` and the request handlers applying them (``s3h_localstack.faults``).
"""

from typing import Any

from localstack import config
from localstack.runtime import hooks
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.plugins import Service, aws_provider


class LocalProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "s3h-local"

    def load(self, *args: Any, **kwargs: Any) -> type:
        from s3h_localstack.executor import LocalProcessRuntimeExecutor

        return LocalProcessRuntimeExecutor


@aws_provider(api="dynamodb", name="s3h_moto")
def dynamodb_moto() -> Service:
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher

    from s3h_localstack import moto_dynamodb

    moto_dynamodb.apply()  # atomic transactions under LocalStack's concurrent requests

    class MotoDynamoDBProvider(DynamodbApi):
        """Every operation falls through to moto."""

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)


@hooks.on_infra_start()
def bind_gateway_to_listen_host() -> None:
    from localstack.runtime.server import twisted as twisted_server

    endpoints = twisted_server.endpoints
    original = endpoints.TCP4ServerEndpoint
    if getattr(original, "s3h_patched", False):
        return
    hosts = {listen.port: listen.host for listen in config.GATEWAY_LISTEN}

    def tcp4_server_endpoint(reactor: Any, port: int, *args: Any, **kwargs: Any) -> Any:
        if not args and "interface" not in kwargs and hosts.get(port) not in (None, "", "0.0.0.0"):  # noqa: S104
            kwargs["interface"] = hosts[port]
        return original(reactor, port, *args, **kwargs)

    tcp4_server_endpoint.s3h_patched = True  # type: ignore[attr-defined]
    endpoints.TCP4ServerEndpoint = tcp4_server_endpoint


@hooks.on_infra_start()
def s3_cross_account_upload_part_copy() -> None:
    """LocalStack 2026.3.0 looks up UploadPartCopy's buckets in the *caller's* account only ("TODO: validate
    cross-account UploadPartCopy" in its provider), while CopyObject and CreateMultipartUpload resolve bucket
    names across accounts, as AWS does. The copier's server-side mode signs UploadPartCopy with the producer
    role (account 222222222222) into the consumer bucket (111111111111), so it needs what AWS does: resolve
    both buckets by name. This wraps the handler so that, during the call, its store lookups go through the
    provider's own cross-account resolution. Remove once LocalStack resolves them itself."""
    import functools
    import threading

    from localstack.aws.api.s3 import NoSuchBucket
    from localstack.services.s3.provider import S3Provider

    original = S3Provider.upload_part_copy
    if getattr(original, "s3h_patched", False):
        return
    active = threading.local()
    original_get_store = S3Provider.get_store

    class _CrossAccountBuckets:
        def __init__(self, provider: Any, context: Any) -> None:
            self._provider = provider
            self._context = context

        def get(self, name: str) -> Any:
            saved, active.store = getattr(active, "store", None), None  # the real stores, for the lookup
            try:
                return self._provider._get_cross_account_bucket(self._context, name)[1]
            except NoSuchBucket:
                return None
            finally:
                active.store = saved

    class _CrossAccountStore:
        def __init__(self, provider: Any, context: Any) -> None:
            self.buckets = _CrossAccountBuckets(provider, context)

    def get_store(account_id: str, region_name: str) -> Any:
        override = getattr(active, "store", None)
        return override if override is not None else original_get_store(account_id, region_name)

    @functools.wraps(original)
    def upload_part_copy(self: Any, context: Any, request: Any) -> Any:
        active.store = _CrossAccountStore(self, context)
        try:
            return original(self, context, request)
        finally:
            active.store = None

    upload_part_copy.s3h_patched = True  # type: ignore[attr-defined]
    S3Provider.get_store = staticmethod(get_store)  # type: ignore[method-assign]
    S3Provider.upload_part_copy = upload_part_copy  # type: ignore[method-assign]


@hooks.on_infra_start()
def s3_cross_account_copy_object_tags() -> None:
    """LocalStack 2026.3.0's CopyObject (TaggingDirective COPY) reads the source's tags from the
    *destination* bucket's account store; across accounts the copy gets no tags, while AWS copies them. After
    the original handler, this copies the source's tags from the source account's store. Remove once
    LocalStack reads them from the right store."""
    import functools

    from localstack.services.s3.provider import S3Provider
    from localstack.services.s3.utils import extract_bucket_key_version_id_from_copy_source, get_unique_key_id

    original = S3Provider.copy_object
    if getattr(original, "s3h_patched", False):
        return

    @functools.wraps(original)
    def copy_object(self: Any, context: Any, request: Any) -> Any:
        result = original(self, context, request)
        if request.get("TaggingDirective") == "REPLACE":
            return result
        src_bucket, src_key, src_version = extract_bucket_key_version_id_from_copy_source(request.get("CopySource"))
        src_store, src_s3_bucket = self._get_cross_account_bucket(context, src_bucket)
        dest_store, _ = self._get_cross_account_bucket(context, request["Bucket"])
        if src_store is not dest_store:
            version = src_s3_bucket.get_object(key=src_key, version_id=src_version).version_id
            tags = src_store.tags.get_tags(get_unique_key_id(src_bucket, src_key, version))
            dest_key_id = get_unique_key_id(request["Bucket"], request["Key"], result.get("VersionId"))
            dest_store.tags.delete_all_tags(dest_key_id)
            dest_store.tags.update_tags(dest_key_id, tags)
        return result

    copy_object.s3h_patched = True  # type: ignore[attr-defined]
    S3Provider.copy_object = copy_object  # type: ignore[method-assign]


@hooks.on_infra_start()
def s3_list_in_key_order() -> None:
    """LocalStack 2026.3.0's ListObjectsV2 with ``EncodingType=url`` (which botocore always asks for)
    URL-encodes the keys and ``StartAfter`` *before* comparing them: encoded order is not S3's order
    (``%3A`` sorts before ``0``), so ``StartAfter=p/:`` lists from ``p/000`` again, and a listing resumed
    after a key with a space, ``+``, ``%`` or a non-ASCII character may list keys twice or skip some. S3
    compares the keys themselves and encodes only its answer; this runs the original without the encoding
    and encodes the answer as LocalStack does. Remove once LocalStack compares raw keys.

    Under it, the listing runs over a sorted index of each bucket's keys rather than a sort of the whole
    bucket per call (``listing_index``: as on S3, a call's cost does not grow with the bucket)."""
    import functools
    from urllib import parse as urlparse

    from localstack.aws.api.s3 import EncodingType
    from localstack.services.s3.provider import S3Provider

    from s3h_localstack import listing_index

    if getattr(S3Provider.list_objects_v2, "s3h_patched", False):
        return
    listing_index.install()
    original = S3Provider.list_objects_v2

    @functools.wraps(original)
    def list_objects_v2(self: Any, context: Any, bucket: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("encoding_type") != EncodingType.url:
            return original(self, context, bucket, *args, **kwargs)
        response = original(self, context, bucket, *args, **{**kwargs, "encoding_type": None})
        for item in response.get("Contents") or []:
            item["Key"] = urlparse.quote(item["Key"])
        for common in response.get("CommonPrefixes") or []:
            common["Prefix"] = urlparse.quote(common["Prefix"])
        for name in ("Prefix", "Delimiter", "StartAfter"):
            if response.get(name):
                response[name] = urlparse.quote(response[name])
        response["EncodingType"] = EncodingType.url
        return response

    list_objects_v2.s3h_patched = True  # type: ignore[attr-defined]
    S3Provider.list_objects_v2 = list_objects_v2  # type: ignore[method-assign]


@hooks.on_infra_start()
def sqs_esm_concurrency() -> None:
    from s3h_localstack import esm_concurrency

    esm_concurrency.install()


@hooks.on_infra_start()
def fault_injection() -> None:
    from s3h_localstack import faults

    faults.install()
