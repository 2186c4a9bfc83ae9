from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests import moto_patches
from tests.fakes import RecordingContinuation
from tests.integration.harness import World, create_world

moto_patches.apply()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        w = create_world(World())
        for name, value in w.env().items():
            monkeypatch.setenv(name, value)
        continuation = RecordingContinuation()
        from planner import handler as planner_handler

        real_build = planner_handler.build_deps

        def build_deps(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            deps = real_build(*args, **kwargs)  # type: ignore[arg-type]
            deps.continuation = continuation
            return deps

        monkeypatch.setattr(planner_handler, "build_deps", build_deps)
        w.continued = continuation.run_ids
        yield w
