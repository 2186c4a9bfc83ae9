"""The failure ledger's archived entries on moto's DynamoDB: what runs iterate (retryable entries only), what
`archived()` lists, a restore request, and an archived key that later fails otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from hydration.keyspace import KeyRange
from hydration.models import Archive, FailureRecord, ObjectRef
from tests.integration.harness import World

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
