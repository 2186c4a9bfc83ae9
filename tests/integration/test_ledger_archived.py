"""The failure ledger's archived entries on moto's DynamoDB: what runs iterate (retryable entries only), what
`archived()` lists, a restore request, and an archived key that later fails otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from hydration.aws.ledger import FailureLedger, prefix_end, sort_key_condition
from hydration.keyspace import KeyRange
from hydration.models import Archive, FailureRecord, ObjectRef, Origin
from tests.integration.harness import REGION, World

WHEN = datetime(2026, 11, 1, 6, tzinfo=UTC)


def _entry(key: str, archive: Archive | None = None) -> FailureRecord:
    obj = ObjectRef(key=key, size=4, etag='"e"', last_modified=WHEN)
    return FailureRecord.of(
        obj,
        bucket="producer",
        run_id="r-1",
        error_code="InvalidObjectState" if archive else "AccessDenied",
        error_message="x",
        attempts=1,
        failed_at=WHEN,
        archive=archive,
    )


def test_runs_iterate_failures_and_requested_restores_only(world: World) -> None:
    ledger = world.stores.ledger
    ledger.record(_entry("failed.txt"))
    ledger.record(_entry("cold.bin", Archive("GLACIER", None, None)))
    ledger.record(_entry("tiered.bin", Archive("INTELLIGENT_TIERING", "ARCHIVE_ACCESS", None)))

    assert sorted(f.key for f in ledger) == ["failed.txt"]
    assert sorted((f.key, f.storage_class, f.archive_status) for f in ledger.archived()) == [
        ("cold.bin", "GLACIER", None),
        ("tiered.bin", "INTELLIGENT_TIERING", "ARCHIVE_ACCESS"),
    ]
    assert ledger.counts() == (3, 2)

    requested = ledger.request_restore("cold.bin", WHEN)
    assert requested is not None
    assert requested.restore_requested_at == WHEN
    assert sorted(f.key for f in ledger) == ["cold.bin", "failed.txt"]
    assert ledger.request_restore("failed.txt", WHEN) is None  # not archived: nothing to restore
    assert ledger.request_restore("nowhere", WHEN) is None


def test_an_archived_key_that_fails_otherwise_is_no_longer_archived(world: World) -> None:
    ledger = world.stores.ledger
    ledger.record(_entry("cold.bin", Archive("GLACIER", None, WHEN)))
    ledger.record(_entry("cold.bin"))  # restored (or rewritten), then refused for another reason

    entry = ledger.get("cold.bin")
    assert entry is not None
    assert (entry.archived, entry.storage_class, entry.restore_requested_at, entry.error_code) == (
        False,
        None,
        None,
        "AccessDenied",
    )
    assert [f.key for f in ledger] == ["cold.bin"]
    assert ledger.counts().archived == 0


def test_a_shards_read_returns_the_retryable_entries_of_its_range_in_s3s_order(world: World) -> None:
    """`within`: the filtered scan a planner worker reads, bounds as a shard has them (`after` exclusive,
    `upto` inclusive), compared as S3 does (UTF-8 bytes: `ü` after `z`, `~` before `ü`)."""
    ledger = world.stores.ledger
    for key in ("a/0", "a/1", "a/2", "a/z", "a/~", "a/ü", "a/üb", "ab", "b/1"):
        ledger.record(_entry(key))
    ledger.record(_entry("a/3", Archive("GLACIER", None, None)))  # archived, no restore: not re-enqueued

    assert sorted(f.key for f in ledger.within(KeyRange("a/", "a/1", "a/ü"))) == ["a/2", "a/z", "a/~", "a/ü"]
    assert sorted(f.key for f in ledger.within(KeyRange("a/", None, "a/0"))) == ["a/0"]
    assert sorted(f.key for f in ledger.within(KeyRange("a/", "a/~", None))) == ["a/ü", "a/üb"]
    assert sorted(f.key for f in ledger.within(KeyRange(""))) == sorted(f.key for f in ledger)


def test_a_shards_read_reads_its_range_and_not_the_whole_ledger(world: World) -> None:
    """A planner worker reads its range's entries through the ByKey index: with 300 entries in the ledger and
    3 in the range, DynamoDB evaluates those 3 (and at most the range's lower bound), not the 300 a scan did
    (a scan per worker invocation cannot finish once millions of keys failed), whatever each entry's origin."""
    db = boto3.client("dynamodb", region_name=REGION)
    ledger = FailureLedger(db, world.failures_table)
    for i in range(300):
        ledger.record(_entry(f"bulk/{i:04d}"))
    for key, origin in (("x/1", Origin.LEDGER), ("x/2", Origin.REQUEST), ("x/3", Origin.RECONCILE)):
        ledger.record(_entry(key).model_copy(update={"origin": origin}))
    evaluated: list[int] = []
    db.meta.events.register(
        "after-call.dynamodb.*", lambda parsed, **_: evaluated.append(int(parsed.get("ScannedCount", 0)))
    )

    assert sorted(f.key for f in ledger.within(KeyRange("x/", "x/1", None))) == ["x/2", "x/3"]
    assert sum(evaluated) <= 3


def test_a_ledger_without_its_index_yet_is_scanned(world: World) -> None:
    """A stack updated from a version without the index (DynamoDB still backfilling it): the same entries,
    read by a filtered scan."""
    db = boto3.client("dynamodb", region_name=REGION)
    db.create_table(
        TableName="s3h-failures-old",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ledger = FailureLedger(db, "s3h-failures-old")
    for key in ("a/1", "a/2", "a/3", "b/1"):
        ledger.record(_entry(key))

    assert sorted(f.key for f in ledger.within(KeyRange("a/", "a/1", None))) == ["a/2", "a/3"]


@pytest.mark.parametrize(
    ("key_range", "condition"),
    [
        (KeyRange(""), ("", {})),
        (KeyRange("a/"), ("#k BETWEEN :lower AND :upper", {"lower": "a/", "upper": "a0"})),
        (KeyRange("a/", "a/5"), ("#k BETWEEN :lower AND :upper", {"lower": "a/5", "upper": "a0"})),
        (KeyRange("a/", None, "a/5"), ("#k BETWEEN :lower AND :upper", {"lower": "a/", "upper": "a/5"})),
        (KeyRange("", "m"), ("#k >= :lower", {"lower": "m"})),
        (KeyRange("", None, "m"), ("#k <= :upper", {"upper": "m"})),
        (KeyRange("a/", "a/9", "a/5"), None),
    ],
)
def test_a_range_is_one_sort_key_condition(key_range: KeyRange, condition: object) -> None:
    assert sort_key_condition(key_range) == condition


def test_where_a_prefixs_keys_end() -> None:
    top = chr(0x10FFFF)
    assert prefix_end("a/") == "a0"
    assert prefix_end("a" + top + top) == "b"
    assert prefix_end(top) is None
    assert prefix_end("") is None
    assert prefix_end("a\ud7ff") == "a\ue000"  # past the surrogates, which no key holds
    for key in ("a/", "a/" + top * 3, "a/ü", "a/\U0001f600"):
        assert key < prefix_end("a/")
