"""The planner's core promise, as properties: every selected key is enqueued exactly once per run and no
other key is, whatever the number of shards, the order workers take them in, the page size, and however
often a shard is handed on or split while it runs."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydration import MARKER_KEY
from hydration.models import ManifestEntry, Outcome, PlannerRequest, RunStatus, ShardStatus
from tests.fakes import FakeLedger, FakeListingS3, FakeManifest, FakeSqs
from tests.unit.planning import BASE, Planning, failure
from tests.unit.planning import settings as planner_settings

keys_strategy = st.text(alphabet="ab/ ü+%~", min_size=1, max_size=6) | st.just(MARKER_KEY)
objects_strategy = st.dictionaries(keys=keys_strategy, values=st.integers(0, 10 * 24 * 3600), max_size=40)


@settings(max_examples=80)
@given(
    ages=objects_strategy,
    since_offset=st.integers(min_value=0, max_value=10 * 24 * 3600),
    page_size=st.integers(min_value=1, max_value=7),
    pages_per_invocation=st.integers(min_value=0, max_value=3),
    shards=st.sampled_from([1, 2, 4, 16]),
    split_pages=st.integers(min_value=1, max_value=3),
    seed=st.integers(0, 1000),
)
def test_each_selected_key_is_enqueued_exactly_once(
    ages: dict[str, int],
    since_offset: int,
    page_size: int,
    pages_per_invocation: int,
    shards: int,
    split_pages: int,
    seed: int,
) -> None:
    listing = {key: (1, f'"{i}"', BASE + timedelta(seconds=age)) for i, (key, age) in enumerate(ages.items())}
    since = BASE + timedelta(seconds=since_offset)
    config = planner_settings(list_page_size=page_size, planner_shards=shards, shard_split_pages=split_pages)
    world = Planning(FakeListingS3(listing), config)

    started = world.start(PlannerRequest(since=since))
    world.drain(pages_per_invocation, random.Random(seed))

    expected = sorted(k for k, (_, _, lm) in listing.items() if lm >= since and k != MARKER_KEY)
    assert sorted(world.sqs.keys()) == expected
    run = world.run(str(started.run_id))
    # Nothing enqueued: the run closes at the end of planning; else it drains until its keys settle.
    assert run.status is (RunStatus.DRAINING if expected else RunStatus.COMPLETED)
    assert run.keys_enqueued == len(expected)
    assert run.keys_listed == len(listing)
    assert all(s.status is ShardStatus.DONE for s in world.shards.of_run(run.run_id))
    assert all(json.loads(b)["run_id"] == run.run_id for b in world.sqs.bodies)


@settings(max_examples=60)
@given(
    ages=objects_strategy,
    failed=st.sets(st.text(alphabet="ab/ ü+%", min_size=1, max_size=6), max_size=8),
    page_size=st.integers(min_value=1, max_value=7),
    pages_per_invocation=st.integers(min_value=0, max_value=3),
    prefixes=st.sampled_from(["", "a", "a,b/", "ü,a/,b"]),
    seed=st.integers(0, 1000),
)
def test_every_ledger_key_is_enqueued_once_with_its_ledger_force_whatever_the_shards(
    ages: dict[str, int], failed: set[str], page_size: int, pages_per_invocation: int, prefixes: str, seed: int
) -> None:
    """Listed or not, each key of the failure ledger within the run's scope is enqueued exactly once per run
    (by the shard whose range holds it), with its ledger force; one outside the scope (narrowed since it
    failed) is no longer followed."""
    listing = {key: (1, f'"{i}"', BASE + timedelta(seconds=age)) for i, (key, age) in enumerate(ages.items())}
    ledger = FakeLedger([failure(key, force=i % 2 == 0) for i, key in enumerate(sorted(failed))])
    config = planner_settings(
        list_page_size=page_size, transfer_prefixes=prefixes, planner_shards=4, shard_split_pages=1
    )
    world = Planning(FakeListingS3(listing), config, ledger=ledger)

    started = world.start(PlannerRequest(full=True))
    world.drain(pages_per_invocation, random.Random(seed))

    scope = config.transfer_prefixes or [""]
    in_scope = {k for k in listing if any(k.startswith(p) for p in scope)} - {MARKER_KEY}
    followed = {f.key for f in ledger if any(f.key.startswith(p) for p in scope)}
    sent = world.sent_objects()
    assert sorted(o["key"] for o in sent) == sorted(in_scope | followed)
    assert {o["key"] for o in sent if o["force"]} == {f.key for f in ledger if f.force and f.key in followed}
    assert world.run(str(started.run_id)).ledger_keys_enqueued == len(followed)


def test_a_listed_key_in_the_ledger_is_enqueued_once_with_its_ledger_force() -> None:
    listing = {"a": (1, '"e"', BASE), "b": (1, '"e"', BASE)}
    world = Planning(FakeListingS3(listing), ledger=FakeLedger([failure("a", force=True)]))
    world.start(PlannerRequest())
    world.drain()
    objects = {o["key"]: o for o in world.sent_objects()}
    assert sorted(objects) == ["a", "b"]
    assert (objects["a"]["force"], objects["b"]["force"]) == (True, False)
    assert world.run().ledger_keys_enqueued == 1


def test_failed_entries_are_retried_until_they_land() -> None:
    listing = {f"k{i:02}": (1, '"e"', BASE) for i in range(25)}
    world = Planning(FakeListingS3(listing), sqs=FakeSqs(fail_first={"k03", "k17", "k24"}))
    world.start(PlannerRequest(full=True))
    world.drain()
    assert sorted(world.sqs.keys()) == sorted(listing)
    assert world.run().keys_enqueued == 25


def test_a_key_that_cannot_be_enqueued_fails_alone_and_the_run_goes_on() -> None:
    """One key SQS keeps refusing: it goes to the failure ledger and settles as failed; every other key is
    enqueued and the run drains (it never stalls the pipeline)."""
    listing = {f"k{i:02}": (1, '"e"', BASE) for i in range(12)}
    config = planner_settings(enqueue_attempts=2, keys_per_message=1)
    world = Planning(FakeListingS3(listing), config, sqs=FakeSqs(fail_always={"k05"}))
    world.start(PlannerRequest(full=True))
    world.drain()
    assert sorted(world.sqs.keys()) == sorted(set(listing) - {"k05"})
    run = world.run()
    assert (run.status, run.keys_enqueued, run.objects_failed) == (RunStatus.DRAINING, 12, 1)
    entry = world.ledger.get("k05")
    assert entry is not None
    assert entry.error_code == "EnqueueFailed"
    assert [task.outcome for task in world.runs.books.tasks(run.run_id)["k05"]] == [Outcome.FAILED]


def test_the_watermark_stays_before_a_multipart_upload_in_flight() -> None:
    """S3 stamps a completed multipart upload with its start: the marker must not pass an upload in flight."""
    started = BASE + timedelta(days=29, hours=23)  # an hour before the run starts
    world = Planning(FakeListingS3({}, uploads={"big.bin": started}))
    world.start(PlannerRequest())
    world.drain()
    run = world.run()
    assert run.watermark == started
    assert (run.inflight_uploads, run.held_back_by) == (1, "big.bin")
    assert run.status is RunStatus.COMPLETED
    assert run.marker_written == started


def test_an_upload_in_flight_however_old_holds_the_marker_and_is_named(caplog: pytest.LogCaptureFixture) -> None:
    """An upload in flight for 30 days (past the old 7-day horizon) still holds the marker: when it completes,
    its LastModified is its start, and the next run must select it. Past INFLIGHT_UPLOAD_ALARM_SECONDS the
    planner names it in a warning (the alarm reads the age metric)."""
    old = BASE  # 30 days before the run
    world = Planning(FakeListingS3({}, uploads={"big.bin": BASE + timedelta(days=29), "abandoned.bin": old}))
    with caplog.at_level("WARNING"):
        world.start(PlannerRequest())
        world.drain()
    run = world.run()
    assert (run.watermark, run.marker_written, run.held_back_by) == (old, old, "abandoned.bin")
    warnings = [(r.getMessage(), getattr(r, "key", None)) for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [("InflightUploadPinsMarker", "abandoned.bin")]


def test_a_rerun_reads_the_manifest_once_per_100_keys_and_enqueues_only_the_ledger_key() -> None:
    """Nothing changed: the listing, the ledger read per shard, and the manifest alone in reads of 100 keys."""
    listing = {f"k{i:03}": (1, '"e"', BASE) for i in range(250)}
    held = {
        key: ManifestEntry(key=key, etag='"e"', last_modified=BASE, size=1, copied_at=BASE)
        for key in listing
        if key != "k007"
    }
    ledger = FakeLedger([failure("k007", force=True)])
    manifest = FakeManifest(held, ledger=ledger)
    config = planner_settings(list_page_size=100, planner_shards=1)
    world = Planning(FakeListingS3(listing), config, ledger=ledger, manifest=manifest)
    world.start(PlannerRequest(full=True))
    world.drain(pages=2)  # two pages, then a hand-on
    run = world.run()
    assert world.invocations == 2
    assert manifest.reads == [("manifest", 99), ("manifest", 100), ("manifest", 50)]  # k007: from the ledger
    assert world.sqs.keys() == ["k007"]
    assert world.sent_objects()[0]["force"] is True
    assert (run.keys_unchanged, run.ledger_keys_enqueued) == (249, 1)


def test_archived_ledger_keys_are_re_enqueued_only_once_a_restore_was_requested() -> None:
    """The planner re-enqueues what the ledger port yields: failures and archived keys whose restore was
    requested; an archived key without one costs the run no request (issue 15)."""
    cold = failure("cold").model_copy(update={"archived": True, "storage_class": "GLACIER"})
    thawing = failure("thawing").model_copy(update={"archived": True, "restore_requested_at": BASE})
    ledger = FakeLedger([failure("failed"), cold, thawing])
    listing = {"new": (1, '"e"', BASE + timedelta(days=29))}
    world = Planning(FakeListingS3(listing), ledger=ledger)
    world.start(PlannerRequest())
    world.drain()
    assert sorted(world.sqs.keys()) == ["failed", "new", "thawing"]
    assert world.run().ledger_keys_enqueued == 2
    assert [f.key for f in ledger.archived()] == ["cold", "thawing"]  # still listed
