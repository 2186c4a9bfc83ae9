"""The planner's core promise, as a property: every selected key is enqueued exactly once per run, no other
key is, whatever the page size and however often the listing is checkpointed and continued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydration import MARKER_KEY
from hydration.closing import Closing
from hydration.models import FailureRecord, Outcome, PlannerRequest, RunStatus
from hydration.settings import PlannerSettings
from planner.context import Budget, PlannerDeps
from planner.enqueue import Queue
from planner.service import PlanResult, plan
from tests.fakes import (
    FakeEvents,
    FakeLedger,
    FakeListingS3,
    FakeManifest,
    FakeMarker,
    FakeRuns,
    FakeSqs,
    RecordingContinuation,
)

BASE = datetime(2026, 11, 1, tzinfo=UTC)


def _settings(**overrides: object) -> PlannerSettings:
    values: dict[str, object] = {
        "consumer_bucket": "consumer",
        "runs_table": "runs",
        "books_table": "books",
        "failures_table": "failures",
        "manifest_table": "manifest",
        "producer_bucket": "producer",
        "producer_role_arn": "arn:aws:iam::222222222222:role/p",
        "external_id": "ext",
        "transfer_queue_url": "q",
        "enqueue_concurrency": 2,
    } | overrides
    return PlannerSettings(**values)  # type: ignore[arg-type]


def _deps(
    s3: FakeListingS3,
    sqs: FakeSqs,
    runs: FakeRuns,
    continuation: RecordingContinuation,
    settings: PlannerSettings | None = None,
    ledger: FakeLedger | None = None,
    manifest: FakeManifest | None = None,
) -> PlannerDeps:
    settings = settings or _settings()
    ledger = ledger or FakeLedger()
    manifest = manifest or FakeManifest(ledger=ledger)
    return PlannerDeps(
        settings=settings,
        producer_s3=s3,  # type: ignore[arg-type]
        consumer_s3=s3,  # type: ignore[arg-type]
        runs=runs,
        books=runs.books,
        ledger=ledger,
        lookup=manifest.lookup,
        held=manifest.held,
        queue=Queue(sqs, "q", settings.keys_per_message, settings.enqueue_attempts),  # type: ignore[arg-type]
        closing=Closing(runs=runs, ledger=ledger, marker=FakeMarker(), events=FakeEvents()),
        continuation=continuation,
        clock=lambda: BASE + timedelta(days=30),
    )


def _plan(request: PlannerRequest, deps: PlannerDeps, pages: int = 0) -> PlanResult:
    run_id = request.continue_run or f"run-{len(deps.runs.runs)}"  # type: ignore[attr-defined]
    return plan(request, deps, Budget(None, 60, pages), run_id=run_id, request_id="req")


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
    deps = _deps(s3, sqs, runs, continuation, config)

    result = _plan(PlannerRequest(since=since), deps, pages_per_invocation)
    invocations = 1
    while result.continued:  # what the self-invocation does on AWS
        assert continuation.run_ids[-1] == result.run_id
        result = _plan(PlannerRequest(continue_run=result.run_id), deps, pages_per_invocation)
        invocations += 1
        assert invocations < 200

    expected = sorted(k for k, (_, _, lm) in listing.items() if lm >= since and k != MARKER_KEY)
    assert sorted(sqs.keys()) == expected
    stored = runs.get(result.run_id)  # type: ignore[arg-type]
    # Nothing enqueued: the run closes at the end of planning; else it drains until its keys settle.
    assert stored.status is (RunStatus.DRAINING if expected else RunStatus.COMPLETED)
    assert stored.keys_enqueued == len(expected)
    assert all(json.loads(b)["run_id"] == result.run_id for b in sqs.bodies)


def test_failed_entries_are_retried_until_they_land() -> None:
    listing = {f"k{i:02}": (1, '"e"', BASE) for i in range(25)}
    sqs = FakeSqs(fail_first={"k03", "k17", "k24"})
    result = _plan(PlannerRequest(full=True), _deps(FakeListingS3(listing), sqs, FakeRuns(), RecordingContinuation()))
    assert sorted(sqs.keys()) == sorted(listing)
    assert result.keys_enqueued == 25


def test_a_key_that_cannot_be_enqueued_fails_alone_and_the_run_goes_on() -> None:
    """One key SQS keeps refusing: it goes to the failure ledger and settles as failed; every other key is
    enqueued and the run drains (it never stalls the pipeline)."""
    listing = {f"k{i:02}": (1, '"e"', BASE) for i in range(12)}
    runs, ledger = FakeRuns(), FakeLedger()
    settings = _settings(enqueue_attempts=2, keys_per_message=1)
    sqs = FakeSqs(fail_always={"k05"})
    deps = _deps(FakeListingS3(listing), sqs, runs, RecordingContinuation(), settings, ledger)

    result = _plan(PlannerRequest(full=True), deps)

    assert sorted(sqs.keys()) == sorted(set(listing) - {"k05"})
    run = runs.get(result.run_id)  # type: ignore[arg-type]
    assert (run.status, run.keys_enqueued, run.objects_failed) == (RunStatus.DRAINING, 12, 1)
    failure = ledger.get("k05")
    assert failure is not None
    assert failure.error_code == "EnqueueFailed"
    assert [task.outcome for task in runs.books.tasks(run.run_id)["k05"]] == [Outcome.FAILED]


def test_a_key_listed_and_in_the_ledger_is_enqueued_once_with_its_ledger_force() -> None:
    listing = {"a": (1, '"e"', BASE), "b": (1, '"e"', BASE)}
    failed = _failure("a", force=True)
    runs, ledger, sqs = FakeRuns(), FakeLedger([failed]), FakeSqs()
    result = _plan(PlannerRequest(), _deps(FakeListingS3(listing), sqs, runs, RecordingContinuation(), ledger=ledger))
    objects = {o["key"]: o for body in sqs.bodies for o in json.loads(body)["objects"]}
    assert sorted(sqs.keys()) == ["a", "b"]
    assert (objects["a"]["force"], objects["b"]["force"]) == (True, False)
    assert result.ledger_keys_enqueued == 1


def test_the_watermark_stays_before_a_multipart_upload_in_flight() -> None:
    """S3 stamps a completed multipart upload with its start: the marker must not pass an upload in flight."""
    started = BASE + timedelta(days=29, hours=23)  # an hour before the run starts
    s3 = FakeListingS3({}, uploads={"big.bin": started})
    runs = FakeRuns()
    result = _plan(PlannerRequest(), _deps(s3, FakeSqs(), runs, RecordingContinuation()))
    run = runs.get(result.run_id)  # type: ignore[arg-type]
    assert run.watermark == started
    assert (run.inflight_uploads, run.held_back_by) == (1, "big.bin")
    assert run.status is RunStatus.COMPLETED
    assert run.marker_written == started


def test_an_upload_in_flight_however_old_holds_the_marker_and_is_named(caplog: pytest.LogCaptureFixture) -> None:
    """An upload in flight for 30 days (past the old 7-day horizon) still holds the marker: when it completes,
    its LastModified is its start, and the next run must select it. Past INFLIGHT_UPLOAD_ALARM_SECONDS the
    planner names it in a warning (the alarm reads the age metric)."""
    old = BASE  # 30 days before the run
    s3 = FakeListingS3({}, uploads={"big.bin": BASE + timedelta(days=29), "abandoned.bin": old})
    runs = FakeRuns()
    with caplog.at_level("WARNING"):
        result = _plan(PlannerRequest(), _deps(s3, FakeSqs(), runs, RecordingContinuation()))
    run = runs.get(result.run_id)  # type: ignore[arg-type]
    assert (run.watermark, run.marker_written, run.held_back_by) == (old, old, "abandoned.bin")
    warnings = [(r.getMessage(), getattr(r, "key", None)) for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [("InflightUploadPinsMarker", "abandoned.bin")]


def _failure(key: str, force: bool = False) -> FailureRecord:
    return FailureRecord(
        key=key,
        size=1,
        etag='"old"',
        last_modified=BASE,
        bucket="producer",
        run_id="earlier",
        force=force,
        error_code="AccessDenied",
        error_message="x",
        attempts=5,
        failed_at=BASE,
    )


@settings(max_examples=60, deadline=None)
@given(
    ages=objects_strategy,
    failed=st.sets(st.text(alphabet="ab/ ü+%", min_size=1, max_size=6), max_size=8),
    page_size=st.integers(min_value=1, max_value=7),
    pages_per_invocation=st.integers(min_value=0, max_value=3),
    snapshot_limit=st.sampled_from([0, 3, 10_000]),
)
def test_every_ledger_key_is_enqueued_once_with_its_ledger_force_whatever_the_checkpoints(
    ages: dict[str, int], failed: set[str], page_size: int, pages_per_invocation: int, snapshot_limit: int
) -> None:
    """Listed or not, each key of the failure ledger is enqueued exactly once per run, with the force it failed
    with, whether the ledger is held for the invocation or (too large: `snapshot_limit`) read page by page."""
    import planner.listing

    listing = {key: (1, f'"{i}"', BASE + timedelta(seconds=age)) for i, (key, age) in enumerate(ages.items())}
    ledger = FakeLedger([_failure(key, force=i % 2 == 0) for i, key in enumerate(sorted(failed))])
    runs, sqs, continuation = FakeRuns(), FakeSqs(), RecordingContinuation()
    config = _settings(list_page_size=page_size, max_pages_per_invocation=pages_per_invocation)
    deps = _deps(FakeListingS3(listing), sqs, runs, continuation, config, ledger)
    limit = planner.listing.LEDGER_SNAPSHOT_LIMIT
    planner.listing.LEDGER_SNAPSHOT_LIMIT = snapshot_limit
    try:
        result = _plan(PlannerRequest(full=True), deps, pages_per_invocation)
        while result.continued:
            result = _plan(PlannerRequest(continue_run=result.run_id), deps, pages_per_invocation)
    finally:
        planner.listing.LEDGER_SNAPSHOT_LIMIT = limit

    sent = [o for body in sqs.bodies for o in json.loads(body)["objects"]]
    assert sorted(o["key"] for o in sent) == sorted((set(listing) - {MARKER_KEY}) | failed)
    forced = {o["key"] for o in sent if o["force"]}
    assert forced == {f.key for f in ledger if f.force}
    assert runs.get(result.run_id).ledger_keys_enqueued == len(failed)  # type: ignore[arg-type]


def test_a_rerun_reads_the_ledger_once_per_invocation_and_the_manifest_once_per_100_keys() -> None:
    """Nothing changed: the listing, one read of the ledger, and the manifest alone in reads of 100 keys."""
    from hydration.models import ManifestEntry

    listing = {f"k{i:03}": (1, '"e"', BASE) for i in range(250)}
    held = {
        key: ManifestEntry(key=key, etag='"e"', last_modified=BASE, size=1, copied_at=BASE)
        for key in listing
        if key != "k007"
    }
    ledger = FakeLedger([_failure("k007", force=True)])
    manifest = FakeManifest(held, ledger=ledger)
    runs, sqs = FakeRuns(), FakeSqs()
    config = _settings(list_page_size=100, max_pages_per_invocation=2)
    deps = _deps(FakeListingS3(listing), sqs, runs, RecordingContinuation(), config, ledger, manifest)

    result = _plan(PlannerRequest(full=True), deps, pages=2)  # two pages, then a checkpoint
    assert result.continued
    assert ledger.scans == 1
    result = _plan(PlannerRequest(continue_run=result.run_id), deps, pages=2)

    assert not result.continued
    assert ledger.scans == 2  # once per invocation; the re-enqueue at the end uses what was read
    assert manifest.reads == [("manifest", 100), ("manifest", 100), ("manifest", 50)]
    assert sorted(sqs.keys()) == ["k007"]
    objects = [o for body in sqs.bodies for o in json.loads(body)["objects"]]
    assert objects[0]["force"] is True
    assert (result.keys_unchanged, result.ledger_keys_enqueued) == (249, 1)


def test_archived_ledger_keys_are_re_enqueued_only_once_a_restore_was_requested() -> None:
    """The planner re-enqueues what the ledger port yields: failures and archived keys whose restore was
    requested; an archived key without one costs the run no request (issue 15)."""
    cold = _failure("cold").model_copy(update={"archived": True, "storage_class": "GLACIER"})
    thawing = _failure("thawing").model_copy(update={"archived": True, "restore_requested_at": BASE})
    ledger = FakeLedger([_failure("failed"), cold, thawing])
    runs, sqs = FakeRuns(), FakeSqs()
    listing = {"new": (1, '"e"', BASE + timedelta(days=29))}
    result = _plan(PlannerRequest(), _deps(FakeListingS3(listing), sqs, runs, RecordingContinuation(), ledger=ledger))
    assert sorted(sqs.keys()) == ["failed", "new", "thawing"]
    assert result.ledger_keys_enqueued == 2
    assert [f.key for f in ledger.archived()] == ["cold", "thawing"]  # still listed
