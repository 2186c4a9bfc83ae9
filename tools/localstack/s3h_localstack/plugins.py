"""Plugin entry points (declared in tools/localstack/pyproject.toml), imported by LocalStack's plux loader.

- ``localstack.lambda.runtime_executor`` ``s3h-local``: select with ``LAMBDA_RUNTIME_EXECUTOR=s3h-local``.
- ``localstack.aws.provider`` ``dynamodb:s3h_moto``: select with ``PROVIDER_OVERRIDE_DYNAMODB=s3h_moto``.
  LocalStack's own DynamoDB providers (default and v2) both run DynamoDB Local, which is downloaded
  (Java + jar) on first use and cannot be offline; this one serves DynamoDB from moto's in-memory backend.
- ``localstack.hooks.on_infra_start`` ``s3h_bind_gateway_to_listen_host``: LocalStack's Twisted gateway binds
  IPv4 listeners to every interface whatever host GATEWAY_LISTEN names; this makes it bind that host
  (127.0.0.1 for us).
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
