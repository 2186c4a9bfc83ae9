"""Sharded planning on moto: a bucket of 20,000 keys with adversarial names planned with 1, 4 and 16 shards and
hand-ons forced every few pages; a worker killed mid-shard; a shard's hand-on lost; a 503 storm on listing.
Each time: the enqueued set is the seeded set, each key exactly once in the books, and the run's listing
stayed within ceil(keys / 1000) + shards + probes ListObjectsV2 calls."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hydration.models import KeptCut, RunStatus, ShardStatus, iso
from tests.fakes import RecordingContinuation
from tests.integration.harness import (
    REGION,
    World,
    cold_start,
    create_world,
    invoke_finalizer,
    invoke_planner,
    queue_objects,
    replace_continuation,
    run_planner_workers,
)
from tests.moto_faults import Faults


def adversarial_keys() -> list[str]:
    """20,000 keys: 90 % under one prefix with no delimiter below it (a flat key space), spaces, `+`, `%`,
    non-ASCII, keys that are prefixes of others and keys right where a midpoint falls."""
    suffixes = ["", " ", "+", "%20", "%", "ü", "~", " x", "+y", "漢"]
    keys = [f"big/{i:05d}{suffixes[i % len(suffixes)]}" for i in range(18_000)]
    keys += [f"{top}/{i:04d} {top}" for top in ("a", "ü", "z z", "%41") for i in range(300)]
    keys += [f"flat{i:04d}+" for i in range(717)]
    keys += ["big", "big/", "big/5", "big/X", "big/2", "big/0", "big/?", "a/", "a", "b", "~", "ü", "%", "+", " "]
    keys += [f"big/{i:05d}" + "\U0001f600" for i in range(0, 18_000, 800)]  # beyond the BMP
    keys += [f"big/{i:05d}a" for i in range(0, 18_000, 400)]  # right after a key: no room between
    assert len(set(keys)) == len(keys) == 20_000, len(keys)
    return keys


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[World, list[str]]]:
    """One moto world for the module, the producer bucket seeded once (20,000 objects take a while)."""
    with mock_aws():
        world = create_world(World())
        keys = adversarial_keys()
        s3 = boto3.client("s3", region_name=REGION)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=world.producer_bucket, Key=k, Body=b"x"), keys))
        yield world, keys


@pytest.fixture
def world(seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The seeded world with the functions' environment, no run active, empty queues."""
    world, _ = seeded
    for name, value in world.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KEYS_PER_MESSAGE", "100")  # fewer messages to read back: the keys are what matter
    monkeypatch.setenv("PLANNER_FUNCTION_NAME", "s3-hydration-planner")
    continuation = RecordingContinuation()
    replace_continuation(monkeypatch, continuation)
    world.continued = continuation.run_ids
    _record_finalizer_continuations(monkeypatch, continuation)
    yield world
    active = world.stores.runs.active()
    if active is not None:
        world.stores.runs.cancel(active.run_id, "test over")
    for url in (world.queue_url, world.planner_queue_url):
        _empty(world, url)


def _empty(world: World, url: str) -> None:
    """Every message of a queue deleted (moto allows one PurgeQueue a minute)."""
    while got := world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
        "Messages", []
    ):
        for message in got:
            world.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _record_finalizer_continuations(monkeypatch: pytest.MonkeyPatch, continuation: RecordingContinuation) -> None:
    """The finalizer's `continue_run` invocations of the coordinator are recorded (the test makes them)."""
    from finalizer import dependencies as finalizer_dependencies

    real = finalizer_dependencies.deps

    def deps() -> Any:
        built = real()
        built.planner = continuation
        return built

    deps.cache_clear = real.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(finalizer_dependencies, "deps", deps)


def _list_calls(faults: Faults) -> Any:
    """Counts every ListObjectsV2 call the functions make from now on (a rule that lets them through)."""
    return faults.add("s3.ListObjectsV2", "", action="call", before=lambda: None)


def _assert_planned_exactly_once(world: World, run_id: str, keys: list[str]) -> None:
    sent = Counter(obj["key"] for obj in queue_objects(world) if obj["run_id"] == run_id)
    assert sorted(sent) == sorted(keys)
    assert set(sent.values()) == {1}  # no key sent twice
    books = Counter(task.key for task in world.stores.books.tasks(run_id))
    assert sorted(books) == sorted(keys)
    assert set(books.values()) == {1}
    run = world.stores.runs.get(run_id)
    assert (run.status, run.planning_complete, run.keys_enqueued, run.keys_listed) == (
        RunStatus.DRAINING,
        True,
        len(keys),
        len(keys),
    )


@pytest.mark.parametrize("shards", [1, 4, 16])
def test_every_key_is_planned_exactly_once_whatever_the_shards_and_hand_ons(
    world: World, seeded: tuple[World, list[str]], shards: int, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = seeded[1]
    cold_start(monkeypatch, PLANNER_SHARDS=str(shards), MAX_PAGES_PER_INVOCATION="3", SHARD_SPLIT_PAGES="2")
    calls = _list_calls(faults)

    planned = invoke_planner({"full": True})

    run = world.stores.runs.get(planned["run_id"])
    _assert_planned_exactly_once(world, run.run_id, keys)
    every = world.stores.shards.of_run(run.run_id)
    assert all(shard.status is ShardStatus.DONE for shard in every)
    assert sum(shard.hand_ons for shard in every) >= len(keys) // 1000 // 3 - len(every)  # forced every 3 pages
    if shards > 1:
        assert sum(shard.splits for shard in every) > 0  # the flat prefix spread out while it ran
        assert len(every) > shards // 2
    # The listing's cost: ceil(keys / 1000) + shards + probes calls, as the run counted them, and as made.
    assert calls.seen == run.list_calls + run.probes
    assert run.list_calls <= math.ceil(len(keys) / 1000) + run.shards_total
    assert run.shards_total == len(every)


def test_a_worker_killed_mid_shard_loses_and_duplicates_nothing(
    world: World, seeded: tuple[World, list[str]], faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies on a page's listing (its process killed): its message comes back, but its lease holds
    the shard until it expires; then the coordinator sends the shard again and the next worker resumes from
    its last checkpoint. Whatever was enqueued before the kill is not enqueued again."""
    keys = seeded[1]
    cold_start(monkeypatch, PLANNER_SHARDS="1", HEARTBEAT_SECONDS="0.001", SHARD_LEASE_SECONDS="600")
    faults.add("s3.ListObjectsV2", "", action="crash", skip=8, times=1)  # the 9th call: mid-shard

    planned = invoke_planner({"full": True})

    run_id = planned["run_id"]
    assert world.stores.runs.get(run_id).status is RunStatus.PLANNING  # its only shard is held by the dead worker
    (shard,) = world.stores.shards.of_run(run_id)
    assert shard.owner is not None
    assert shard.position is not None
    _age(world, run_id, shard.shard_id, "lease_until", "dispatched_at")  # time passes: the lease expires
    assert invoke_finalizer({"run_id": run_id})["action"] == "resumed-planning"  # nothing queued, nothing held
    assert world.continued == [run_id]
    invoke_planner({"continue_run": run_id})
    _assert_planned_exactly_once(world, run_id, keys)


def test_a_lost_hand_on_is_sent_again(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = seeded[1]
    cold_start(monkeypatch, PLANNER_SHARDS="1", MAX_PAGES_PER_INVOCATION="5")
    planned = invoke_planner({"full": True}, drain=False)
    run_id = planned["run_id"]
    run_planner_workers(world, max_polls=1, drain=False)  # 5 pages, then handed on
    _empty(world, world.planner_queue_url)  # the hand-on is lost
    (shard,) = world.stores.shards.of_run(run_id)
    assert (shard.status, shard.owner, shard.hand_ons, shard.keys_listed) == (ShardStatus.OPEN, None, 1, 5000)
    assert invoke_finalizer({"run_id": run_id})["action"] == "resumed-planning"
    assert invoke_planner({"continue_run": run_id}, drain=False)["continued"] is False  # sent moments ago: wait
    _age(world, run_id, shard.shard_id, "dispatched_at")
    assert invoke_planner({"continue_run": run_id}, drain=False)["continued"] is True
    run_planner_workers(world)
    _assert_planned_exactly_once(world, run_id, keys)


def test_a_flat_prefix_is_first_cut_into_shards_of_about_even_size(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flat` (717 keys with no delimiter below it, 15 pages of 50) cut into 6 shards: evenly from its first
    key to where probes put its end (an estimate a little past the farthest key found: the last shard, which
    runs on to the prefix's end, may come out small, never large), so no shard holds just the first page.
    (Where a few outliers sort far beyond the dense keys, as under `big/`, the cut is uneven and the shards
    split while they run: the test above.)"""
    keys = [key for key in seeded[1] if key.startswith("flat")]
    cold_start(monkeypatch, PLANNER_SHARDS="7", LIST_PAGE_SIZE="50")
    planned = invoke_planner({"prefix": "flat", "dry_run": True}, drain=False)
    shards = world.stores.shards.of_run(planned["run_id"])
    sizes = [sum(1 for key in keys if shard.range.holds(key)) for shard in shards]
    assert (len(shards), sum(sizes)) == (6, len(keys))
    share = len(keys) / 6
    assert all(size <= 2 * share for size in sizes), sizes  # no shard the tail that all wait for
    assert all(size >= share / 2 for size in sizes[:-1]), sizes  # the last runs on past the estimated end


def test_a_prefix_of_little_more_than_a_page_is_not_cut_into_slivers(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flat`'s 717 keys in pages of 500: probes beyond the first page find nothing, so there is no end to cut
    up to; the prefix is one shard, not 6 cut inside its first page."""
    keys = [key for key in seeded[1] if key.startswith("flat")]
    cold_start(monkeypatch, PLANNER_SHARDS="7", LIST_PAGE_SIZE="500")
    planned = invoke_planner({"prefix": "flat", "dry_run": True}, drain=False)
    shards = world.stores.shards.of_run(planned["run_id"])
    assert [sum(1 for key in keys if shard.range.holds(key)) for shard in shards] == [len(keys)]


def test_a_worker_with_a_minute_lists_its_shard_in_one_invocation(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PlannerWorkerTimeout=60 (allowed) with the 60 s checkpoint margin: the margin is capped at a quarter of
    the time the invocation starts with, so a worker a second into its minute lists its whole shard (20
    pages) instead of handing it on after every page (seen on LocalStack: 97 hand-ons for 50 pages)."""
    keys = seeded[1]
    cold_start(monkeypatch, PLANNER_SHARDS="1", CHECKPOINT_MARGIN_SECONDS="60")
    planned = invoke_planner({"full": True}, drain=False)
    run_id = planned["run_id"]
    polled = run_planner_workers(world, max_polls=1, drain=False, remaining_ms=59_000)
    (shard,) = world.stores.shards.of_run(run_id)
    assert (polled.invocations, shard.status, shard.hand_ons, shard.keys_listed) == (1, ShardStatus.DONE, 0, 20_000)
    _assert_planned_exactly_once(world, run_id, keys)


def test_a_503_storm_on_listing_is_ridden_out(
    world: World, seeded: tuple[World, list[str]], faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 answers 503 SlowDown to listings beyond what the client retries (botocore's retries do not see the
    moto tier's injected answers: every one fails its call, as a storm longer than botocore's attempts
    would; the LocalStack fault matrix has botocore's own backoff): the shard's worker fails, its message
    comes back (after a backoff on AWS) and the next worker resumes from the shard's checkpoint."""
    keys = seeded[1]
    cold_start(monkeypatch, PLANNER_SHARDS="4", HEARTBEAT_SECONDS="0.001")
    storm = faults.add("s3.ListObjectsV2", "", code="SlowDown", status=503, skip=8, times=2)

    planned = invoke_planner({"full": True})

    assert storm.hits == 2
    _assert_planned_exactly_once(world, planned["run_id"], keys)


def _age(world: World, run_id: str, shard_id: str, *fields: str) -> None:
    """An hour passes for these time fields of a shard."""
    an_hour_ago = iso(datetime.now(UTC) - timedelta(hours=1))
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=world.books_table,
        Key={"run_id": {"S": f"{run_id}#shards"}, "key": {"S": shard_id}},
        UpdateExpression="SET " + ", ".join(f"{name} = :h" for name in fields),
        ExpressionAttributeValues={":h": {"S": an_hour_ago}},
    )


def test_a_prefix_of_a_few_pages_is_not_cut_finer_than_two_pages_a_shard(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flat`'s 717 keys in pages of 120 (6 pages) with PLANNER_SHARDS=16: at most 3 shards, each worth about
    two pages of listing (a worker's start, its ledger and manifest reads and its books cost more than a
    sliver's listing), not 15 of 48 keys each."""
    keys = [key for key in seeded[1] if key.startswith("flat")]
    cold_start(monkeypatch, PLANNER_SHARDS="16", LIST_PAGE_SIZE="120")
    planned = invoke_planner({"prefix": "flat", "dry_run": True}, drain=False)
    shards = world.stores.shards.of_run(planned["run_id"])
    sizes = [sum(1 for key in keys if shard.range.holds(key)) for shard in shards]
    assert sum(sizes) == len(keys)
    assert 1 <= len(shards) <= 3, sizes


def test_boundaries_cut_finer_than_the_keys_need_are_merged_for_the_next_run(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run reuses the boundaries the run before kept. `a/` (301 keys) was last cut every 10 keys (30 shards of
    half a page, as a key space that shrank leaves them): the run lists those 30, and keeps only bounds with at
    least two pages (40 keys) of its listing below them and above the last, so the next run starts from 7
    shards or fewer, each of 40 keys or more."""
    keys = sorted(key for key in seeded[1] if key.startswith("a/"))
    scope = "listing:a/"
    world.stores.shards.remember(scope, KeptCut(points=[f"a/{i:04d}" for i in range(10, 300, 10)]), "an-earlier-run")
    cold_start(monkeypatch, PLANNER_SHARDS="40", LIST_PAGE_SIZE="20")
    planned = invoke_planner({"prefix": "a/"})
    run = world.stores.runs.get(planned["run_id"])
    assert (run.shards_total, run.keys_listed) == (30, len(keys))

    kept = world.stores.shards.boundaries(scope)
    assert kept.listed == {"a/": len(keys)}
    bounds: list[str | None] = [None, *kept.points, None]
    sizes = [
        sum(1 for key in keys if (lo is None or key > lo) and (hi is None or key <= hi))
        for lo, hi in itertools.pairwise(bounds)
    ]
    assert sum(sizes) == len(keys)
    assert 1 <= len(sizes) <= 7, sizes
    assert min(sizes) >= 40, sizes


def test_boundaries_of_a_key_space_that_shrank_to_a_shard_are_forgotten(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ü/` (301 keys) was last cut into 30 shards; in pages of 200 the whole prefix is less than two pages:
    the run keeps no bound, and the 29 it was cut by are not left for the next run either."""
    scope = "listing:ü/"
    world.stores.shards.remember(scope, KeptCut(points=[f"ü/{i:04d}" for i in range(10, 300, 10)]), "an-earlier-run")
    cold_start(monkeypatch, PLANNER_SHARDS="40", LIST_PAGE_SIZE="200")
    planned = invoke_planner({"prefix": "ü/"})
    assert world.stores.runs.get(planned["run_id"]).shards_total == 30
    assert world.stores.shards.boundaries(scope).points == []


def test_a_prefix_the_last_run_found_small_is_one_shard_without_discovery_or_probes(
    world: World, seeded: tuple[World, list[str]], faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ü/` (300 keys) in pages of 100: a run with nothing kept takes a first page, delimiter discovery and
    probes to cut it, and keeps how many keys it listed; the next run finds that fewer than four pages
    (two shards' worth) and lists the prefix as one shard at once: its ListObjectsV2 calls are its three
    pages and the one probe that finds nothing two pages beyond the second (no split)."""
    keys = sorted(key for key in seeded[1] if key.startswith("ü/"))
    world.stores.shards.remember("listing:ü/", KeptCut(), "nothing-kept")
    cold_start(monkeypatch, PLANNER_SHARDS="16", LIST_PAGE_SIZE="100")
    first = world.stores.runs.get(invoke_planner({"prefix": "ü/"})["run_id"])
    assert first.keys_listed == len(keys)
    assert first.probes > 0
    assert world.stores.shards.boundaries("listing:ü/").listed == {"ü/": len(keys)}
    world.stores.runs.cancel(first.run_id, "the next run")
    calls = _list_calls(faults)

    run = world.stores.runs.get(invoke_planner({"prefix": "ü/"})["run_id"])

    assert (run.shards_total, run.list_calls, run.probes, calls.seen) == (1, 3, 1, 4)
    _assert_planned_exactly_once(world, run.run_id, keys)


def test_a_prefix_that_grew_since_the_last_run_found_it_small_splits_while_it_runs(
    world: World, seeded: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last run listed 10 keys under `big/`; it holds 18,000 now: the run starts it as one shard, which
    splits as it lists (as any large shard does), and every key is planned exactly once."""
    keys = sorted(key for key in seeded[1] if key.startswith("big/"))
    world.stores.shards.remember("listing:big/", KeptCut(listed={"big/": 10}), "an-earlier-run")
    cold_start(monkeypatch, PLANNER_SHARDS="8", SHARD_SPLIT_PAGES="2")

    run = world.stores.runs.get(invoke_planner({"prefix": "big/"})["run_id"])

    shards = world.stores.shards.of_run(run.run_id)
    assert len(shards) > 1
    assert all(shard.shard_id.startswith("s0000") for shard in shards)  # all split from the one it was cut into
    _assert_planned_exactly_once(world, run.run_id, keys)
