"""The sync marker and the manifest know the scope they were made for (TRANSFER_PREFIXES, DESTINATION_PREFIX):
a run after a scope change copies what the new scope needs, on moto."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from hydration import MARKER_KEY
from hydration.marker import parse
from tests.integration.harness import World, cold_start, consumer_object, hydrate, put_object
from tests.integration.producer_times import age_object

DAY = timedelta(days=1)


def _marker(world: World) -> Any:
    return parse(world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode())


def _put_old(world: World, key: str, body: bytes) -> None:
    """An object written a day ago: older than the marker minus the lookback of any later run."""
    put_object(world, key, body)
    age_object(world, key, DAY)


def _consumer_keys(world: World) -> set[str]:
    listed = world.s3.list_objects_v2(Bucket=world.consumer_bucket).get("Contents", [])
    return {item["Key"] for item in listed} - {MARKER_KEY}


def test_widening_the_prefixes_copies_the_older_objects_of_the_new_prefix(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: the marker is global, so the older objects under a newly added prefix were never copied and
    the runs said COMPLETED."""
    # Given a deployment that hydrated a/ (its marker), and objects under b/ written before that
    cold_start(monkeypatch, TRANSFER_PREFIXES="a/")
    _put_old(world, "a/old.txt", b"a old")
    _put_old(world, "b/old.txt", b"b old")
    first = hydrate(world)
    assert first["status"] == "COMPLETED"
    assert _consumer_keys(world) == {"a/old.txt"}
    # When TRANSFER_PREFIXES gains b/
    cold_start(monkeypatch, TRANSFER_PREFIXES="a/,b/")
    widened = hydrate(world)
    # Then b/ is selected in full and its older object lands; a/ stays incremental (nothing selected there)
    assert widened["status"] == "COMPLETED"
    assert consumer_object(world, "b/old.txt")["body"] == b"b old"
    assert (widened["keys_enqueued"], widened["keys_unchanged"]) == (1, 0)
    # The marker records the scope it was made for (the first one recorded a/ alone)
    assert _marker(world).detail["scope"] == {"prefixes": ["a/", "b/"], "destination_prefix": ""}
    assert ([b["prefix"] for b in widened["bounds"]], widened["since"]) == (["a/"], None)


def test_widening_a_prefix_to_its_parent_copies_the_part_that_was_not_covered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_start(monkeypatch, TRANSFER_PREFIXES="data/eu/")
    _put_old(world, "data/eu/x.txt", b"eu")
    _put_old(world, "data/us/y.txt", b"us")
    hydrate(world)
    cold_start(monkeypatch, TRANSFER_PREFIXES="data/")

    widened = hydrate(world)

    assert widened["status"] == "COMPLETED"
    assert consumer_object(world, "data/us/y.txt")["body"] == b"us"
    # data/eu/ keeps its incremental bound: its day-old object is not even selected again.
    assert (widened["keys_enqueued"], widened["keys_unchanged"]) == (1, 0)
    assert [bound["prefix"] for bound in widened["bounds"]] == ["data/eu/"]


def test_a_new_destination_prefix_gets_every_key_even_from_an_incremental_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: the manifest was keyed by the source key alone, so after DESTINATION_PREFIX changed even a full
    run said `enqueued 0 unchanged N` and nothing reached the new destination."""
    for key in ("k1.txt", "k2.txt"):
        _put_old(world, key, key.encode())
    hydrate(world)
    cold_start(monkeypatch, DESTINATION_PREFIX="v2/")

    moved = hydrate(world)

    assert moved["status"] == "COMPLETED"
    assert (moved["keys_enqueued"], moved["keys_unchanged"]) == (2, 0)
    for key in ("k1.txt", "k2.txt"):
        assert consumer_object(world, f"v2/{key}")["body"] == key.encode()
        assert consumer_object(world, key)["body"] == key.encode()  # the old destination's objects stay
    assert _marker(world).detail["scope"]["destination_prefix"] == "v2/"
    # Idempotent again under the new destination: the next run copies nothing.
    again = hydrate(world)
    assert (again["keys_enqueued"], again["objects_transferred"]) == (0, 0)


def test_a_full_run_after_the_destination_changed_copies_everything_there(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_object(world, "k.txt", b"k")
    hydrate(world)
    cold_start(monkeypatch, DESTINATION_PREFIX="v2/")

    full = hydrate(world, {"full": True})

    assert (full["status"], full["keys_enqueued"], full["keys_unchanged"]) == ("COMPLETED", 1, 0)
    assert consumer_object(world, "v2/k.txt")["body"] == b"k"


def test_manifest_entries_written_before_destinations_were_recorded_hold_for_the_markers_destination(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade: entries and a marker without a recorded destination are taken as made for the configured
    one (nothing copied again), and the marker written next records it."""
    put_object(world, "k.txt", b"k")
    hydrate(world)
    _forget_recorded_scope(world)

    same = hydrate(world, {"full": True})

    assert (same["keys_enqueued"], same["keys_unchanged"]) == (0, 1)
    cold_start(monkeypatch, DESTINATION_PREFIX="v2/")
    moved = hydrate(world)
    assert (moved["keys_enqueued"], moved["objects_transferred"]) == (1, 1)
    assert consumer_object(world, "v2/k.txt")["body"] == b"k"


def test_narrowing_the_prefixes_lets_the_marker_move_and_widening_again_catches_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_start(monkeypatch, TRANSFER_PREFIXES="a/,b/")
    _put_old(world, "a/1.txt", b"a1")
    _put_old(world, "b/1.txt", b"b1")
    hydrate(world)
    cold_start(monkeypatch, TRANSFER_PREFIXES="a/")
    narrowed = hydrate(world)
    assert narrowed["status"] == "COMPLETED"
    # While b/ is out of scope it changes, long enough ago that no lookback reaches it
    put_object(world, "b/1.txt", b"b1 changed")
    age_object(world, "b/1.txt", timedelta(hours=2))
    hydrate(world)  # in scope: a/ only
    assert consumer_object(world, "b/1.txt")["body"] == b"b1"
    cold_start(monkeypatch, TRANSFER_PREFIXES="a/,b/")

    widened = hydrate(world)

    assert widened["status"] == "COMPLETED"
    assert consumer_object(world, "b/1.txt")["body"] == b"b1 changed"
    assert _marker(world).detail["scope"]["prefixes"] == ["a/", "b/"]


def test_a_failure_ledger_key_outside_a_narrowed_scope_no_longer_holds_the_marker(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydration.models import FailureRecord

    cold_start(monkeypatch, TRANSFER_PREFIXES="a/,b/")
    put_object(world, "a/1.txt", b"a1")
    hydrate(world)
    stale = age_object(world, "a/1.txt", 30 * DAY)
    world.stores.ledger.record(
        FailureRecord(
            key="b/denied.txt",
            size=1,
            etag='"x"',
            last_modified=stale,
            bucket=world.producer_bucket,
            run_id="earlier",
            error_code="AccessDenied",
            error_message="the producer role no longer reads b/",
            attempts=5,
            failed_at=stale,
        )
    )
    cold_start(monkeypatch, TRANSFER_PREFIXES="a/")

    narrowed = hydrate(world)

    assert narrowed["status"] == "COMPLETED"
    assert narrowed["planned"]["ledger_keys_enqueued"] == 0
    assert _marker(world).synced_to > stale + 29 * DAY
    assert world.stores.ledger.get("b/denied.txt") is not None  # listed still (failures list), not dropped


def _forget_recorded_scope(world: World) -> None:
    """Make the state look as a deployment before this change left it: no scope in the marker, no destination
    in the manifest entries."""
    marker = _marker(world)
    detail = {k: v for k, v in marker.detail.items() if k != "scope"}
    text = marker.render().splitlines()[0] + "\n" + json.dumps(detail) + "\n"
    world.s3.put_object(Bucket=world.consumer_bucket, Key=MARKER_KEY, Body=text.encode())
    db = boto3.client("dynamodb")
    for item in db.scan(TableName=world.manifest_table)["Items"]:
        db.update_item(TableName=world.manifest_table, Key={"key": item["key"]}, UpdateExpression="REMOVE destination")
