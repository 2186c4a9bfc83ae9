"""Fixtures for the template tests: the decoded templates (no network, no AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.cfn_model import load_template


@pytest.fixture(scope="session")
def producer() -> dict[str, Any]:
    return load_template("producer.yaml")


@pytest.fixture(scope="session")
def consumer() -> dict[str, Any]:
    return load_template("consumer.yaml")
