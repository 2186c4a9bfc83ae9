"""End-to-end tier: the deployed stacks on the local LocalStack (`make e2e` starts, deploys and stops it).

Resources are found through the stack outputs (`.localstack/outputs.json`, written by
`tools/deploy_stacks.py --target localstack`). Every test here is marked `e2e` and skips cleanly when
LocalStack is not running.

Every test starts with no active run and ends with none (`isolated`): its teardown, after its own outcome is
recorded, cancels the run it left, leaves the transfer queue empty and no function running, and, if it failed,
removes the failure-ledger entries and DLQ messages of the runs it started. So one failing case never fails
the ones after it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from tests.localstack_env import ENDPOINT, healthy

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ROOT / ".localstack" / "outputs.json"
T = TypeVar("T")
LOG = logging.getLogger("tests.e2e")
OUTCOMES = pytest.StashKey[dict[str, pytest.TestReport]]()


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Each phase's report on the item, so that a fixture's teardown knows how its test went."""
    report = yield
    item.stash.setdefault(OUTCOMES, {})[report.when] = report
    return report


@pytest.fixture(autouse=True)
def isolated(request: pytest.FixtureRequest, deployment: Any) -> Iterator[None]:
    """No active run, no message, no invocation before the test and after it (tests.e2e.support.leave_quiet)."""
    from tests.e2e.support import forget_runs, leave_quiet

    name = request.node.nodeid
    before = leave_quiet(deployment, f"before {name}", purge_at_once=True)
    if before:
        LOG.warning("%s: found the deployment busy and quietened it: %s", name, "; ".join(before))
    started = datetime.now(UTC)
    yield
    outcomes = request.node.stash.get(OUTCOMES, {})
    failed = any(report.failed for report in outcomes.values())
    after = leave_quiet(deployment, f"after {name}" + (" (failed)" if failed else ""), purge_at_once=failed)
    if failed:
        runs = {run.run_id for run in deployment.runs.list(limit=100) if run.started_at >= started}
        after += forget_runs(deployment, runs)
    if after:
        LOG.warning("%s: left the deployment quiet: %s", name, "; ".join(after))


@pytest.fixture
def faults() -> Iterator[Any]:
    """Faults injected into the local LocalStack (its plugin and our Lambda executor); cleared after."""
    from tests.faults import Faults

    with Faults() as injected:
        yield injected
