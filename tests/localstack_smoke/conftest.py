"""Fixtures for the LocalStack plumbing smoke test: a running LocalStack, clients per account, throwaway
Lambda functions built from source strings.

If LocalStack is not running, the session starts it with tools/localstack/up.sh and stops it with
tools/localstack/down.sh at the end (also when tests fail); a LocalStack that was already running is left
running.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.localstack_env import ENDPOINT, healthy

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
CONSUMER_ACCOUNT = "111111111111"
PRODUCER_ACCOUNT = "222222222222"

Clients = Callable[..., Any]


@pytest.fixture(scope="session")
def localstack() -> Iterator[str]:
    if healthy():
        yield ENDPOINT
        return
    try:
        subprocess.run([ROOT / "tools/localstack/up.sh"], check=True, timeout=600)  # noqa: S603
        yield ENDPOINT
    finally:
        subprocess.run([ROOT / "tools/localstack/down.sh"], check=False, timeout=120)  # noqa: S603


@pytest.fixture(scope="session")
def aws(localstack: str) -> Clients:
    """``aws("sqs")`` is a client in the consumer account; ``aws("sqs", account=PRODUCER_ACCOUNT)``."""
    cache: dict[tuple[str, str], Any] = {}

    def client(service: str, account: str = CONSUMER_ACCOUNT) -> Any:
        key = (service, account)
        if key not in cache:
            cache[key] = boto3.client(
                service,
                endpoint_url=localstack,
                region_name=REGION,
                aws_access_key_id=account,
                aws_secret_access_key="test",
            )
        return cache[key]

    return client


@pytest.fixture(scope="session")
def lambda_role(aws: Clients) -> str:
    iam = aws("iam")
    name = f"smoke-lambda-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def build_zip(files: dict[str, str]) -> bytes:
    """A deployment package holding ``files`` (archive name -> source text)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def make_function(aws: Clients, lambda_role: str) -> Iterator[Callable[..., str]]:
    """Creates a python3.13 function from source files, waits until it is active, deletes it afterwards."""
    created: list[str] = []
    lam = aws("lambda")

    def make(files: dict[str, str], handler: str = "app.handler", **config: Any) -> str:
        name = f"smoke-{uuid.uuid4().hex[:10]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=lambda_role,
            Handler=handler,
            Code={"ZipFile": build_zip(files)},
            **{"Timeout": 10, **config},
        )
        created.append(name)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return name

    yield make
    for name in created:
        lam.delete_function(FunctionName=name)


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.5, message: str = "condition") -> Any:
    """Polls ``condition`` until it returns a truthy value (returned) or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}; last value: {value!r}")
        time.sleep(interval)
