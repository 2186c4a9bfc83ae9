"""Lazy, cached boto3 clients. Nothing here runs at import time.

Endpoints come from the standard AWS configuration (`AWS_ENDPOINT_URL`, profiles), never from code.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)
from botocore.session import Session as BotocoreSession

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# Reentrant: a client created under it may create the STS client that fetches its credentials.
_lock = threading.RLock()


def client_config(pool: int = 50, *, adaptive: bool = False) -> Config:
    # botocore's standard retry mode: exponential backoff with jitter on throttling and 5xx. The adaptive mode
    # (the planner's listing) also slows the client's own request rate down while S3 answers 503 SlowDown.
    return Config(
        retries={"mode": "adaptive", "max_attempts": 10} if adaptive else {"mode": "standard", "max_attempts": 6},
        max_pool_connections=pool,
        connect_timeout=5,
        read_timeout=120,
        tcp_keepalive=True,
    )


@cache
def default_session() -> boto3.Session:
    return boto3.Session()


@cache
def _client(service: str, pool: int) -> Any:
    with _lock:  # a boto3 Session is not thread-safe while it creates clients
        return default_session().client(service, config=client_config(pool))  # type: ignore[call-overload]


def s3(pool: int = 50) -> S3Client:
    return _client("s3", pool)


def sqs(pool: int = 50) -> SQSClient:
    return _client("sqs", pool)


def dynamodb() -> DynamoDBClient:
    return _client("dynamodb", 50)


def events() -> EventBridgeClient:
    return _client("events", 10)


def lambda_() -> LambdaClient:
    return _client("lambda", 10)


class _AssumedRole(CredentialProvider):
    """A credential provider (botocore's public extension point) that hands out one set of refreshable
    credentials."""

    METHOD = "assume-role"
    CANONICAL_NAME = "custom-s3-hydration-assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


def assumed_role_session(role_arn: str, external_id: str, session_name: str) -> boto3.Session:
    """A session whose credentials come from AssumeRole and refresh before they expire.

    botocore refreshes deferred refreshable credentials ahead of their expiry, so a long run (or a warm
    copier container) never signs a request with expired credentials. Built from public APIs only: the
    fetcher's STS client comes from the default session's `client`, and the credentials reach the new session
    through its `credential_provider` component.
    """
    base = default_session()

    def sts_client(service_name: str, **kwargs: Any) -> Any:
        with _lock:  # a boto3 Session is not thread-safe while it creates clients
            return base.client(service_name, config=client_config(4), **kwargs)  # type: ignore[call-overload]

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args={"RoleSessionName": session_name[:64], "ExternalId": external_id},
    )
    credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
    botocore_session = BotocoreSession()
    botocore_session.register_component("credential_provider", CredentialResolver([_AssumedRole(credentials)]))
    if base.region_name:
        botocore_session.set_config_variable("region", base.region_name)
    return boto3.Session(botocore_session=botocore_session)


@cache
def producer_s3(
    role_arn: str, external_id: str, session_name: str, pool: int = 50, *, adaptive: bool = False
) -> S3Client:
    """S3 client signed with the producer role's credentials, cached for the container's lifetime."""
    session = assumed_role_session(role_arn, external_id, session_name)
    with _lock:
        return session.client("s3", config=client_config(pool, adaptive=adaptive))
