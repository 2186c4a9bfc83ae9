"""Settings fail the cold start with a message that names the variable."""

from __future__ import annotations

import pytest

from hydration.errors import InvalidRequestError
from hydration.settings import CopierSettings, CopyMode, FinalizerSettings, PlannerSettings

BASE = {
    "CONSUMER_BUCKET": "consumer-bucket",
    "RUNS_TABLE": "runs",
    "BOOKS_TABLE": "books",
    "FAILURES_TABLE": "failures",
    "MANIFEST_TABLE": "manifest",
    "PRODUCER_BUCKET": "producer-bucket",
    "PRODUCER_ROLE_ARN": "arn:aws:iam::222222222222:role/producer-access",
    "EXTERNAL_ID": "ext-id",
    "TRANSFER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111111111111/transfer",
    "CONSUMER_KMS_KEY_ID": "arn:aws:kms:us-east-1:111111111111:key/abc",
    "UPLOADS_TABLE": "uploads",
    "PLANNER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111111111111/planner",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults(env: pytest.MonkeyPatch) -> None:
    copier = CopierSettings.load()
    assert copier.copy_mode is CopyMode.SERVER_SIDE
    assert copier.multipart_threshold_bytes == 64 * 1024 * 1024
    assert copier.visibility_step_seconds == 60
    planner = PlannerSettings.load()
    assert planner.transfer_prefixes == []
    assert planner.lookback_seconds == 3600
    assert FinalizerSettings.load().drain_confirm_seconds == 60


def test_lists_are_comma_separated(env: pytest.MonkeyPatch) -> None:
    env.setenv("TRANSFER_PREFIXES", "data/, logs/ ,,")
    assert PlannerSettings.load().transfer_prefixes == ["data/", "logs/"]


def test_missing_variable_is_named(env: pytest.MonkeyPatch) -> None:
    env.delenv("PRODUCER_ROLE_ARN")
    with pytest.raises(InvalidRequestError, match="PRODUCER_ROLE_ARN is required but not set"):
        CopierSettings.load()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("COPY_MODE", "fast", "COPY_MODE"),
        ("PRODUCER_ROLE_ARN", "producer-access", "PRODUCER_ROLE_ARN"),
        ("MULTIPART_THRESHOLD_BYTES", "1024", "MULTIPART_THRESHOLD_BYTES"),
        ("MAX_RECEIVE_COUNT", "zero", "MAX_RECEIVE_COUNT"),
        ("VISIBILITY_STEP_SECONDS", "1", "VISIBILITY_STEP_SECONDS"),  # a step shorter than a beat's round trip
    ],
)
def test_invalid_variable_is_named(env: pytest.MonkeyPatch, name: str, value: str, expected: str) -> None:
    env.setenv(name, value)
    with pytest.raises(InvalidRequestError, match=expected):
        CopierSettings.load()


def test_external_id_is_not_printed(env: pytest.MonkeyPatch) -> None:
    assert "ext-id" not in repr(CopierSettings.load())


@pytest.mark.parametrize("lookback", ["0", "60", "899"])
def test_a_lookback_below_the_clock_skew_floor_is_refused_with_the_reason(
    env: pytest.MonkeyPatch, lookback: str
) -> None:
    """LOOKBACK_SECONDS=0 left no margin for skew between the planner's clock (the watermark) and S3's
    (LastModified): S3 accepts requests from a clock up to 15 minutes off, so the floor is 900 seconds."""
    env.setenv("LOOKBACK_SECONDS", lookback)
    with pytest.raises(InvalidRequestError, match=r"LOOKBACK_SECONDS .*must be at least 900 .*15 minutes"):
        PlannerSettings.load()


def test_the_lookback_floor_itself_is_accepted(env: pytest.MonkeyPatch) -> None:
    env.setenv("LOOKBACK_SECONDS", "900")
    assert PlannerSettings.load().lookback_seconds == 900
