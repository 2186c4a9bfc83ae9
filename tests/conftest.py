"""Shared test fixtures: fake credentials before anything builds a client, and cache resets."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.moto_faults import Faults, install
from tests.moto_faults import faults as inject

# No test may reach a real AWS endpoint: fake credentials are set before any client is built.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "S3Hydration",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "s3-hydration-test",
    "POWERTOOLS_DEV": "false",
}.items():
    os.environ.setdefault(_name, _value)


# Property tests: the gate (`make test`, CI) draws the same examples on every run, so a landing never depends
# on a lucky draw; `make fuzz` draws new ones, round after round, and keeps what fails in .hypothesis/ to replay.
# Neither times an example (Hypothesis's default deadline, 200 ms, fails a test whose example a busy machine
# stalls: a timed assertion, which this suite does not make; `make bench` measures speed).
settings.register_profile("gate", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("fuzz", derandomize=False, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))

install()  # before any client exists: every botocore session built from now on gets the fault hooks


def reset_caches() -> None:
    """Forget cached clients, settings and dependencies (each test gets a fresh moto world)."""
    from copier import dependencies as copier_handler
    from finalizer import dependencies as finalizer_handler
    from hydration import settings
    from hydration.aws import clients
    from planner import dependencies as planner_handler

    clients.default_session.cache_clear()
    clients._client.cache_clear()
    clients.producer_s3.cache_clear()
    settings.planner_settings.cache_clear()
    settings.copier_settings.cache_clear()
    settings.finalizer_settings.cache_clear()
    copier_handler.deps.cache_clear()
    planner_handler.deps.cache_clear()
    finalizer_handler.deps.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def faults() -> Iterator[Faults]:
    """Faults injected from the test side into every client the functions build (tests/moto_faults.py)."""
    with inject() as registry:
        yield registry


@pytest.fixture
def restores_held() -> Iterator[None]:
    """moto restores an archived object at once; here a restore stays in progress until the test completes it
    (moto's state manager, model `s3::keyrestore`, advanced by hand)."""
    from moto.moto_api import state_manager

    state_manager.set_transition(model_name="s3::keyrestore", transition={"progression": "manual", "times": 10**9})
    try:
        yield
    finally:
        state_manager.unset_transition(model_name="s3::keyrestore")
