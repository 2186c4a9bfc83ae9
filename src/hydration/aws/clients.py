"""Lazy, cached boto3 clients. Nothing here runs at import time.

Endpoints come from the standard AWS configuration (`AWS_ENDPOINT_URL`, profiles), never from code.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.session import Session as BotocoreSession

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

_lock = threading.Lock()


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


def assumed_role_session(role_arn: str, external_id: str, session_name: str) -> boto3.Session:
    """A session whose credentials come from AssumeRole and refresh before they expire.

    botocore refreshes deferred refreshable credentials ahead of their expiry, so a long run (or a warm
    copier container) never signs a request with expired credentials.
    """
    base = default_session()
    base_botocore: BotocoreSession = base._session
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=base_botocore.create_client,
        source_credentials=base_botocore.get_credentials(),
        role_arn=role_arn,
        extra_args={"RoleSessionName": session_name[:64], "ExternalId": external_id},
    )
    credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
    botocore_session = BotocoreSession()
    botocore_session._credentials = credentials  # type: ignore[attr-defined]
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
