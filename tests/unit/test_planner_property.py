"""The planner's core promise, as a property: every selected key is enqueued exactly once per run, no other
key is, whatever the page size and however often the listing is checkpointed and continued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydration import MARKER_KEY
from hydration.errors import EnqueueError
from hydration.models import PlannerRequest, RunStatus
from hydration.settings import PlannerSettings
from planner.service import Budget, PlannerDeps, plan
from tests.fakes import FakeLedger, FakeListingS3, FakeManifest, FakeRuns, FakeSqs, RecordingContinuation

BASE = datetime(2026, 11, 1, tzinfo=UTC)


def _settings(**overrides: object) -> PlannerSettings:
    values: dict[str, object] = {
        "consumer_bucket": "consumer",
        "runs_table": "runs",
        "failures_table": "failures",
        "manifest_table": "manifest",
        "producer_bucket": "producer",
        "producer_role_arn": "arn:aws:iam::222222222222:role/p",
        "external_id": "ext",
        "transfer_queue_url": "q",
        "enqueue_concurrency": 2,
    } | overrides
    return PlannerSettings(**values)  # type: ignore[arg-type]


def _deps(s3: FakeListingS3, sqs: FakeSqs, runs: FakeRuns, continuation: RecordingContinuation) -> PlannerDeps:
    return PlannerDeps(
        producer_s3=s3,  # type: ignore[arg-type]
        consumer_s3=s3,  # type: ignore[arg-type]
        sqs=sqs,  # type: ignore[arg-type]
        runs=runs,  # type: ignore[arg-type]
        ledger=FakeLedger(),  # type: ignore[arg-type]
        manifest=FakeManifest(),  # type: ignore[arg-type]
        continuation=continuation,
        clock=lambda: BASE + timedelta(days=30),
    )


objects_strategy = st.dictionaries(
    keys=st.text(alphabet="ab/ ü+%", min_size=1, max_size=6) | st.just(MARKER_KEY),
    values=st.integers(min_value=0, max_value=10 * 24 * 3600),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(
    ages=objects_strategy,
    since_offset=st.integers(min_value=0, max_value=10 * 24 * 3600),
    page_size=st.integers(min_value=1, max_value=7),
    pages_per_invocation=st.integers(min_value=0, max_value=3),
)
def test_each_selected_key_is_enqueued_exactly_once(
    ages: dict[str, int], since_offset: int, page_size: int, pages_per_invocation: int
) -> None:
    listing = {key: (1, f'"{i}"', BASE + timedelta(seconds=age)) for i, (key, age) in enumerate(ages.items())}
    since = BASE + timedelta(seconds=since_offset)
    s3, sqs, runs, continuation = FakeListingS3(listing), FakeSqs(), FakeRuns(), RecordingContinuation()
    config = _settings(list_page_size=page_size, max_pages_per_invocation=pages_per_invocation)
    deps = _deps(s3, sqs, runs, continuation)

    result = plan(PlannerRequest(since=since), config, deps, Budget(None, 60, pages_per_invocation))
    invocations = 1
    while result.continued:  # what the self-invocation does on AWS
        assert continuation.run_ids[-1] == result.run_id
        result = plan(PlannerRequest(continue_run=result.run_id), config, deps, Budget(None, 60, pages_per_invocation))
        invocations += 1
        assert invocations < 200

    expected = sorted(k for k, (_, _, lm) in listing.items() if lm >= since and k != MARKER_KEY)
    assert sorted(sqs.keys()) == expected
    stored = runs.get(result.run_id)  # type: ignore[arg-type]
    assert stored.status is RunStatus.DRAINING
    assert stored.keys_enqueued == len(expected)
    assert all(json.loads(b)["run_id"] == result.run_id for b in sqs.bodies)


def test_failed_entries_are_retried_until_they_land() -> None:
    listing = {f"k{i:02}": (1, '"e"', BASE) for i in range(25)}
    sqs = FakeSqs(fail_first={"k03", "k17", "k24"})
    runs = FakeRuns()
    result = plan(
        PlannerRequest(full=True),
        _settings(),
        _deps(FakeListingS3(listing), sqs, runs, RecordingContinuation()),
        Budget(None, 60),
    )
    assert sorted(sqs.keys()) == sorted(listing)
    assert result.keys_enqueued == 25


def test_a_key_that_cannot_be_enqueued_fails_the_run_visibly() -> None:
    listing = {f"k{i:02}": (1, '"e"', BASE) for i in range(12)}
    runs = FakeRuns()
    deps = _deps(FakeListingS3(listing), FakeSqs(fail_always={"k05"}), runs, RecordingContinuation())
    with pytest.raises(EnqueueError, match="1 key\\(s\\) could not be enqueued after retries: k05"):
        plan(PlannerRequest(full=True), _settings(enqueue_attempts=2), deps, Budget(None, 60))
    (run,) = runs.runs.values()
    assert run.status is RunStatus.FAILED
    assert "k05" in (run.error or "")
    assert runs.lock is None  # the next trigger may start a run
