"""Shared test fixtures: fake credentials before anything builds a client, and cache resets."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

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


def reset_caches() -> None:
    """Forget cached clients, settings and dependencies (each test gets a fresh moto world)."""
    from copier import handler as copier_handler
    from hydration import settings
    from hydration.aws import clients

    clients.default_session.cache_clear()
    clients._client.cache_clear()
    clients.producer_s3.cache_clear()
    settings.planner_settings.cache_clear()
    settings.copier_settings.cache_clear()
    settings.finalizer_settings.cache_clear()
    copier_handler.deps.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    reset_caches()
    yield
    reset_caches()
