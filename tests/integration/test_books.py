"""The books table's adapter on moto: sheets opened with a checkpoint in one transaction, claims, each slot
settled once whatever the duplicates (what the cancellation's ALL_OLD item teaches), the sweep's reading,
and the write units the books report about themselves."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from hydration.aws.dynamo import item_size, to_item
from hydration.aws.sheets import sheet_item
from hydration.errors import CheckpointMovedError
from hydration.models import Origin, Outcome, RunKind, RunRecord, RunStatus, Settlement, Shard, Sheet, Task
from tests.integration.harness import REGION, World

T0 = datetime(2026, 11, 1, 6, 0, 7, tzinfo=UTC)
RUN = "20261101T060000Z-a1b2c3"
ETAG = '"0123456789abcdef0123456789abcdef"'


def _tasks(*keys: str, **extra: Any) -> list[Task]:
    return [
        Task(run_id=RUN, bucket="producer-data", key=k, size=16384, etag=ETAG, last_modified=T0, **extra) for k in keys
    ]


def _sheet(sheet_id: str, *keys: str, **extra: Any) -> Sheet:
    return Sheet.of(RUN, sheet_id, "producer-data", _tasks(*keys, **extra), T0)


def _settle(sheet: Sheet, *keys: str, outcome: Outcome = Outcome.TRANSFERRED) -> list[Settlement]:
    slots = {task.key: task.slot for task in sheet.tasks}
    return [Settlement(k, outcome, 16384, 2, 10, sheet=sheet.id, slot=slots[k]) for k in keys]


def _planning_run(world: World) -> RunRecord:
    run = RunRecord(run_id=RUN, status=RunStatus.PLANNING, kind=RunKind.FULL, watermark=T0, started_at=T0)
    world.stores.runs.create(run)
    return run


def test_a_sheet_is_stored_compactly_and_read_back_whole(world: World) -> None:
    books = world.stores.books
    tasks = [
        *_tasks("a/1", "a/2"),
        Task(
            run_id=RUN,
            bucket="producer-data",
            key="b/ü +%",
            size=0,
            etag='"d41d8cd98f00b204e9800998ecf8427e-3"',  # a multipart ETag stays a string
            last_modified=datetime(2026, 11, 1, 6, 0, 7, 123456, tzinfo=UTC),
            version_id="v1",
            force=True,
            origin=Origin.LEDGER,
        ),
    ]
    sheet = Sheet.of(RUN, "00000001.00", "producer-data", tasks, T0)
    assert books.open(RUN, [sheet]) == [sheet]
    (stored,) = books.sheets(RUN)
    assert [t.model_dump(exclude={"enqueued_at", "claim"}) for t in stored.tasks] == [
        t.model_dump(exclude={"enqueued_at", "claim"}) for t in sheet.tasks
    ]
    assert (stored.pending, stored.outcomes) == (3, {})
    counters = books.counters(RUN)
    assert (counters.keys_enqueued, counters.ledger_keys_enqueued, counters.sheets, counters.claims) == (3, 1, 1, 1)
    expires = int(datetime.now(UTC).timestamp()) + 30 * 86400
    assert abs(counters.sheet_bytes - item_size(sheet_item(sheet, expires))) <= 1  # but for the expiry's digits
    assert counters.bytes_enqueued == 2 * 16384


def test_a_claimed_key_is_opened_once_per_run_and_left_out_of_a_later_sheet(world: World) -> None:
    books = world.stores.books
    books.open(RUN, [_sheet("00000001.00", "listed", "failed-before", origin=Origin.LEDGER)])
    again = Sheet.of(
        RUN, "00000002.00", "producer-data", _tasks("other") + _tasks("failed-before", origin=Origin.LEDGER), T0
    )
    (opened,) = books.open(RUN, [again])
    assert [(t.key, t.slot) for t in opened.tasks] == [("other", 0)]  # the claimed key left out, slots again
    assert books.open(RUN, [_sheet("00000003.00", "failed-before", origin=Origin.LEDGER)]) == []
    counters = books.counters(RUN)
    assert (counters.keys_enqueued, counters.sheets, counters.claims) == (3, 2, 2)
    assert sorted(t.key for t in books.tasks(RUN)) == ["failed-before", "listed", "other"]  # each once


def test_sheets_and_a_checkpoint_commit_together_or_not_at_all(world: World) -> None:
    """A planner worker's checkpoint (its shard's progress at the version it holds, and the run still
    planning) commits with the sheets it covers, or nothing does."""
    books, runs, shards = world.stores.books, world.stores.runs, world.stores.shards
    run = _planning_run(world)
    assert shards.cut(RUN, [Shard(run_id=RUN, shard_id="s0000")])
    shard = shards.claim(Shard(run_id=RUN, shard_id="s0000"), "worker-1", datetime(2099, 1, 1, tzinfo=UTC))
    assert shard is not None
    until = datetime(2099, 1, 1, tzinfo=UTC)

    def checkpoint(expected: int, position: str) -> list[Any]:
        at = shard.model_copy(update={"position": position})
        return [shards.checkpoint_action(at, expected, until), runs.planning_check(run)]

    version = shard.version
    books.open(RUN, [_sheet("s0000.00000001.00", "a")], also=checkpoint(version, "a"))
    stored = shards.get(RUN, "s0000")
    assert stored is not None
    assert (stored.version, stored.position) == (version + 1, "a")
    # Another worker read the shard before that checkpoint: its transaction writes nothing at all
    with pytest.raises(CheckpointMovedError):
        books.open(RUN, [_sheet("s0000.00000001.01", "b")], also=checkpoint(version, "b"))
    assert [t.key for t in books.tasks(RUN)] == ["a"]
    assert books.counters(RUN).keys_enqueued == 1
    # A cancelled run takes no checkpoint either
    runs.cancel(RUN, "operator")
    with pytest.raises(CheckpointMovedError):
        books.open(RUN, [_sheet("s0000.00000002.00", "c")], also=checkpoint(version + 1, "c"))
    assert books.counters(RUN).keys_enqueued == 1


def test_each_slot_settles_once_whatever_the_duplicates(world: World) -> None:
    """A condition that fails names the sheet; the sheet as it is tells which slots settled already."""
    books = world.stores.books
    one, two = _sheet("1", "a", "b", "c"), _sheet("2", "d", "e")
    books.open(RUN, [one, two])
    assert len(books.settle(RUN, _settle(one, "a", "b"))) == 2
    # A redelivery overlaps: "b" is settled already (ALL_OLD says so), "c" and the other sheet's keys are not
    settled = books.settle(RUN, _settle(one, "b", "c") + _settle(two, "d", "e") + _settle(one, "c"))
    assert sorted(s.key for s in settled) == ["c", "d", "e"]
    assert books.settle(RUN, _settle(one, "a", "b", "c")) == []
    counters = books.counters(RUN)
    assert (counters.objects_transferred, counters.keys_settled, counters.bytes_transferred) == (5, 5, 5 * 16384)
    assert counters.sheet_settles == 3  # "a b", then "c" and "d e" in one transaction
    assert list(books.unsettled(RUN)) == []
    assert {s.id: (s.pending, s.outcomes) for s in books.sheets(RUN)} == {
        "1": (0, {0: Outcome.TRANSFERRED, 1: Outcome.TRANSFERRED, 2: Outcome.TRANSFERRED}),
        "2": (0, {0: Outcome.TRANSFERRED, 1: Outcome.TRANSFERRED}),
    }


def test_a_slot_that_names_another_key_or_a_missing_sheet_settles_nothing(world: World) -> None:
    books = world.stores.books
    sheet = _sheet("1", "a", "b")
    books.open(RUN, [sheet])
    wrong = [
        Settlement("b", Outcome.TRANSFERRED, sheet="1", slot=0),
        Settlement("z", Outcome.FAILED, sheet="1", slot=9),
    ]
    missing = [Settlement("x", Outcome.TRANSFERRED, sheet="no-such-sheet", slot=0)]
    assert books.settle(RUN, wrong + missing + _settle(sheet, "b")) == _settle(sheet, "b")
    assert [(t.key, t.sheet, t.slot) for t in books.unsettled(RUN)] == [("a", "1", 0)]
    assert books.counters(RUN).keys_settled == 1


def test_the_slots_settled_already_are_learned_without_all_old_too(world: World) -> None:
    """An answer whose cancellation reasons carry no item (as some emulators answer): the sheet is read."""
    from hydration.aws.books import BooksStore

    books = world.stores.books
    sheet = _sheet("1", "a", "b")
    books.open(RUN, [sheet])
    books.settle(RUN, _settle(sheet, "a"))
    db = boto3.client("dynamodb", region_name=REGION)

    def strip(parsed: dict[str, Any], **_: Any) -> None:
        for reason in parsed.get("CancellationReasons", []):
            reason.pop("Item", None)

    db.meta.events.register("after-call.dynamodb.TransactWriteItems", strip)
    stripped = BooksStore(db, world.books_table)
    assert [s.key for s in stripped.settle(RUN, _settle(sheet, "a", "b"))] == ["b"]
    assert books.counters(RUN).objects_transferred == 2


def test_a_sheet_survives_a_plain_json_round_trip(world: World) -> None:
    """`backup` writes items as plain JSON and `restore` writes them back: a sheet, opened and partly
    settled, comes back as it was and settles on."""
    import json

    from hydration.aws.dynamo import from_item

    books = world.stores.books
    sheet = _sheet("1", "a", "b", "c")
    books.open(RUN, [sheet])
    books.settle(RUN, _settle(sheet, "a") + _settle(sheet, "b", outcome=Outcome.SKIPPED))
    db = boto3.client("dynamodb", region_name=REGION)
    key = to_item({"run_id": RUN, "key": "s#1"})
    stored = db.get_item(TableName=world.books_table, Key=key)["Item"]
    plain = json.loads(json.dumps(from_item(stored)))
    db.delete_item(TableName=world.books_table, Key=key)
    db.put_item(TableName=world.books_table, Item=to_item(plain))
    assert db.get_item(TableName=world.books_table, Key=key)["Item"] == stored
    assert [s.key for s in books.settle(RUN, _settle(sheet, "b", "c"))] == ["c"]
    ((back),) = books.sheets(RUN)
    assert back.outcomes == {0: Outcome.TRANSFERRED, 1: Outcome.SKIPPED, 2: Outcome.TRANSFERRED}
    assert [t.etag for t in back.tasks] == [ETAG] * 3


def test_a_sheet_of_a_hundred_keys_settles_in_two_updates(world: World) -> None:
    """A condition stays under DynamoDB's 4 KB per expression: 50 slots an update, one update per sheet per
    transaction."""
    books = world.stores.books
    keys = [f"k{i:03}" for i in range(100)]
    sheet = _sheet("1", *keys)
    books.open(RUN, [sheet])
    assert len(books.settle(RUN, _settle(sheet, *keys))) == 100
    counters = books.counters(RUN)
    assert (counters.keys_settled, counters.sheet_settles, counters.book_transactions) == (100, 2, 3)


def test_concurrent_overlapping_settles_count_each_slot_once(world: World) -> None:
    books = world.stores.books
    sheets = [_sheet(f"{n}", *(f"{n}/{i}" for i in range(10))) for n in range(6)]
    books.open(RUN, sheets)
    rng = random.Random(7)
    batches = [
        [s for sheet in rng.sample(sheets, 3) for s in _settle(sheet, *rng.sample([t.key for t in sheet.tasks], 6))]
        for _ in range(12)
    ]
    settled: list[Settlement] = []
    lock = threading.Lock()

    def settle(batch: list[Settlement]) -> None:
        done = books.settle(RUN, batch)
        with lock:
            settled.extend(done)

    threads = [threading.Thread(target=settle, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wanted = {(s.sheet, s.slot) for batch in batches for s in batch}
    assert sorted((s.sheet, s.slot) for s in settled) == sorted(wanted)  # each once
    assert books.counters(RUN).keys_settled == len(wanted)
    assert len(list(books.unsettled(RUN))) == 60 - len(wanted)


def test_claims_of_keys_too_long_for_a_sort_key_are_hashed(world: World) -> None:
    books = world.stores.books
    long_key = "x" * 1024
    (opened,) = books.open(RUN, [_sheet("1", long_key, origin=Origin.REQUEST)])
    assert books.open(RUN, [_sheet("2", long_key, origin=Origin.REQUEST)]) == []
    item = boto3.client("dynamodb", region_name=REGION).query(
        TableName=world.books_table,
        KeyConditionExpression="run_id = :r AND begins_with(#k, :h)",
        ExpressionAttributeNames={"#k": "key"},
        ExpressionAttributeValues=to_item({":r": RUN, ":h": "h#"}),
    )["Items"]
    assert len(item) == 1
    assert opened.tasks[0].key == long_key
