from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from hydration.aws.uploads import UploadStore
from tests import moto_patches
from tests.fakes import RecordingContinuation
from tests.integration.harness import World, create_world, replace_continuation

moto_patches.apply()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        w = create_world(World())
        for name, value in w.env().items():
            monkeypatch.setenv(name, value)
        continuation = RecordingContinuation()
        replace_continuation(monkeypatch, continuation)
        w.continued = continuation.run_ids
        yield w


@pytest.fixture
def uploads(world: World) -> UploadStore:
    """The uploads table in the test's moto world (the transfer tests record their multipart copies there)."""
    from tests.integration.transfer_support import create_uploads_table

    return create_uploads_table()
