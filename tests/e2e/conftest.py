"""End-to-end tier: the deployed stacks on the local LocalStack (`make e2e` starts, deploys and stops it).

Resources are found through the stack outputs (`.localstack/outputs.json`, written by
`tools/deploy_stacks.py --target localstack`). Every test here is marked `e2e` and skips cleanly when
LocalStack is not running.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from tests.localstack_env import ENDPOINT, healthy

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ROOT / ".localstack" / "outputs.json"
T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def outputs() -> dict[str, Any]:
    if not healthy() or not OUTPUTS.exists():
        pytest.skip("LocalStack with the deployed stacks is not running (make localstack-up)")
    return json.loads(OUTPUTS.read_text())


@pytest.fixture(scope="session", autouse=True)
def _consumer_environment(outputs: dict[str, Any]) -> Iterator[None]:
    """The test process talks to LocalStack as the consumer account, like the CLI on an operator's box."""
    wanted = {
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_ACCESS_KEY_ID": outputs.get("ConsumerAccountId", "111111111111"),
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": outputs.get("Region", "us-east-1"),
        "AWS_REGION": outputs.get("Region", "us-east-1"),
    }
    saved = {k: os.environ.get(k) for k in [*wanted, "AWS_SESSION_TOKEN"]}
    os.environ.update(wanted)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def deployment(outputs: dict[str, Any]) -> Any:
    from hydration_cli.deployment import Deployment

    return Deployment(stack=outputs.get("ConsumerStackName", "s3-hydration-consumer"))


@pytest.fixture(scope="session")
def producer_s3(outputs: dict[str, Any]) -> Any:
    return boto3.Session(
        aws_access_key_id=outputs.get("ProducerAccountId", "222222222222"),
        aws_secret_access_key="test",
        region_name=outputs.get("Region", "us-east-1"),
    ).client("s3", endpoint_url=ENDPOINT)


def poll[T](check: Callable[[], T | None], timeout: float = 120, interval: float = 0.5, what: str = "condition") -> T:
    """Bounded polling: the value once `check` returns something truthy, or a clear failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def faults() -> Iterator[Any]:
    """Faults injected into the local LocalStack (its plugin and our Lambda executor); cleared after."""
    from tests.faults import Faults

    with Faults() as injected:
        yield injected
