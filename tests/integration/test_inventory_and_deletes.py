"""S3 Inventory as the source, and guarded delete propagation, on moto (LocalStack makes no inventory
reports: the tests write synthetic ones, a manifest and gzipped CSV files, into the inventory bucket)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest

from hydration import MARKER_KEY
from hydration.aws import clients
from hydration.marker import parse
from hydration.models import Archive, FailureRecord, ObjectRef, RunStatus
from tests.integration.harness import (
    World,
    cold_start,
    consumer_object,
    hydrate,
    invoke_planner,
    put_object,
    queue_objects,
    run_copier,
)

INVENTORY = "s3h-inventory"
COLUMNS = ["Bucket", "Key", "Size", "LastModifiedDate", "ETag", "IsMultipartUploaded"]


def write_report(
    world: World, files: list[list[str]], *, created: datetime | None = None, corrupt: str | None = None
) -> str:
    """A report as S3 writes one: the producer's objects (each file a list of keys) as gzipped CSV rows with
    URL-encoded keys, a manifest listing the files with their MD5, manifest.checksum. `corrupt`: "manifest"
    or "file" (its MD5 does not match). Returns the manifest.checksum's s3:// URL."""
    s3 = world.s3
    folder = f"inventory/{world.producer_bucket}/s3-hydration/{datetime.now(UTC):%Y-%m-%dT%H-%MZ}/"
    entries = []
    for number, keys in enumerate(files):
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for key in keys:
            head = s3.head_object(Bucket=world.producer_bucket, Key=key)
            modified = head["LastModified"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            row = [world.producer_bucket, quote_plus(key, safe="/"), head["ContentLength"], modified]
            writer.writerow([*row, head["ETag"].strip('"'), "false"])
        body = gzip.compress(out.getvalue().encode())
        data_key = f"inventory/{world.producer_bucket}/s3-hydration/data/{number}.csv.gz"
        s3.put_object(Bucket=INVENTORY, Key=data_key, Body=body)
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        entries.append({"key": data_key, "size": len(body), "MD5checksum": "0" * 32 if corrupt == "file" else md5})
    manifest = json.dumps(
        {
            "sourceBucket": world.producer_bucket,
            "destinationBucket": f"arn:aws:s3:::{INVENTORY}",
            "version": "2016-11-30",
            "creationTimestamp": str(int((created or datetime.now(UTC)).timestamp() * 1000)),
            "fileFormat": "CSV",
            "fileSchema": ", ".join(COLUMNS),
            "files": entries,
        }
    ).encode()
    checksum = hashlib.md5(manifest, usedforsecurity=False).hexdigest()
    s3.put_object(Bucket=INVENTORY, Key=folder + "manifest.json", Body=manifest)
    s3.put_object(
        Bucket=INVENTORY, Key=folder + "manifest.checksum", Body=("f" * 32 if corrupt == "manifest" else checksum)
    )
    return f"s3://{INVENTORY}/{folder}manifest.checksum"


@pytest.fixture
def inventory(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    world.s3.create_bucket(Bucket=INVENTORY)
    cold_start(monkeypatch, INVENTORY_BUCKET=INVENTORY)
    return world


def _marker(world: World) -> datetime:
    return parse(world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode()).synced_to


AWKWARD = ["plain.txt", "with space.txt", "plus+sign.txt", "percent%41.txt", "Zürich δ.txt", "deep/a b/c+d"]


def test_a_run_from_an_inventory_report_copies_what_the_report_lists(inventory: World) -> None:
    world = inventory
    for key in AWKWARD:
        put_object(world, key, key.encode())
    created = datetime.now(UTC) + timedelta(seconds=5)
    url = write_report(world, [AWKWARD[:3], AWKWARD[3:]], created=created)

    run = hydrate(world, {"inventory": url})

    assert run["status"] == "COMPLETED"
    assert (run["shards_total"], run["keys_listed"], run["keys_enqueued"], run["list_calls"]) == (3, 6, 6, 0)
    for key in AWKWARD:
        assert consumer_object(world, key)["body"] == key.encode()
    assert _marker(world) == created.replace(microsecond=(created.microsecond // 1000) * 1000)  # the report's time
    again = hydrate(world, {"inventory": write_report(world, [AWKWARD])})
    assert (again["keys_enqueued"], again["keys_unchanged"]) == (0, 6)  # within the lookback, but held already


def _failed(world: World, key: str, archive: Archive | None = None) -> FailureRecord:
    """A ledger entry for a key, as a run that failed to copy its current version records one."""
    if archive is None:
        head = world.s3.head_object(Bucket=world.producer_bucket, Key=key)
        obj = ObjectRef(key=key, size=head["ContentLength"], etag=head["ETag"], last_modified=head["LastModified"])
    else:
        obj = ObjectRef(key=key, size=1, etag='"e"', last_modified=datetime(2026, 1, 1, tzinfo=UTC))
    failure = FailureRecord.of(
        obj,
        bucket=world.producer_bucket,
        run_id="an-earlier-run",
        error_code="InvalidObjectState" if archive else "AccessDenied",
        error_message="x",
        attempts=3,
        failed_at=datetime.now(UTC),
        archive=archive,
    )
    world.stores.ledger.record(failure)
    return failure


def test_an_inventory_run_enqueues_a_ledger_key_once_and_reads_the_ledger_once(inventory: World) -> None:
    """A key in the failure ledger is the run's ledger shard's to enqueue; a file's worker leaves it out,
    whichever file lists it, so it is enqueued once. The worker learns which of its rows are in the ledger
    with the read it makes for the manifest (one BatchGetItem over both tables), not by reading the whole
    ledger once per file: with 200 other entries (archived keys, listed and not retried) the planning reads
    the ledger's 202 entries once (the ledger shard's scan), where each of the two files' workers read them
    all again."""
    world = inventory
    for key in AWKWARD:
        put_object(world, key, key.encode())
    failed = ["with space.txt", "deep/a b/c+d"]
    for key in failed:
        _failed(world, key)
    for number in range(200):
        _failed(world, f"cold/{number:03d}", Archive("GLACIER", None, None))
    url = write_report(world, [AWKWARD[:3], AWKWARD[3:]])
    scanned: list[int] = []

    def count(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("table") == world.failures_table:
            scanned.append(int(parsed.get("ScannedCount", 0)))

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["table"] = params.get("TableName")

    db = clients.dynamodb()  # the functions' client (cached, built lazily)
    db.meta.events.register("before-parameter-build.dynamodb.Scan", remember)
    db.meta.events.register("after-call.dynamodb.Scan", count)

    planned = invoke_planner({"inventory": url})

    assert (planned["keys_enqueued"], planned["ledger_keys_enqueued"]) == (6, 2)
    assert sorted(obj["key"] for obj in queue_objects(world)) == sorted(AWKWARD)  # each key once
    assert sum(scanned) == 202  # the ledger shard's scan, and no other
    run_copier(world)
    run = world.stores.runs.get(planned["run_id"])
    assert (run.status, run.objects_transferred) == (RunStatus.COMPLETED, 6)
    for key in AWKWARD:
        assert consumer_object(world, key)["body"] == key.encode()
    assert [world.stores.ledger.get(key) for key in failed] == [None, None]  # landed: out of the ledger


@pytest.mark.parametrize("corrupt", ["manifest", "file"])
def test_a_report_whose_md5_does_not_match_is_refused(inventory: World, corrupt: str) -> None:
    world = inventory
    for key in AWKWARD:
        put_object(world, key, key.encode())
    url = write_report(world, [AWKWARD], corrupt=corrupt)

    if corrupt == "manifest":  # refused by the coordinator: the run is recorded FAILED
        with pytest.raises(Exception, match="MD5"):
            invoke_planner({"inventory": url})
    else:  # refused by the file's worker, before anything of it is enqueued
        invoke_planner({"inventory": url})

    (run,) = world.stores.runs.list()
    assert (run.status, run.keys_enqueued) == (RunStatus.FAILED, 0)
    assert "MD5" in (run.error or "")
    assert queue_objects(world) == []
    assert world.stores.runs.active() is None  # the lock is released: the next run can start


def test_an_inventory_from_another_bucket_is_not_read(inventory: World) -> None:
    with pytest.raises(Exception, match="not in the inventory bucket"):
        invoke_planner({"inventory": "s3://someone-elses-bucket/x/manifest.json"})


# --------------------------------------------------------------------------- guarded deletes


@pytest.fixture
def deletes(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    cold_start(monkeypatch, DELETE_MODE="hard", MAX_DELETE_COUNT="10", MAX_DELETE_PERCENT="100")
    for key in ("keep.txt", "gone.txt", "other.txt", "back.txt"):
        put_object(world, key, key.encode())
    assert hydrate(world)["status"] == "COMPLETED"
    return world


def _consumer_keys(world: World) -> list[str]:
    listed = world.s3.list_objects_v2(Bucket=world.consumer_bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed if o["Key"] != MARKER_KEY)


def _deletions(world: World, run_id: str) -> dict[str, Any]:
    return world.stores.deletions.of_run(run_id)


def test_a_key_seen_missing_once_is_not_deleted_twice_it_is(deletes: World) -> None:
    world = deletes
    world.s3.delete_object(Bucket=world.producer_bucket, Key="gone.txt")

    first = hydrate(world)
    assert "gone.txt" in _consumer_keys(world)  # absent from one complete listing: kept
    assert _deletions(world, first["run_id"]) == {}

    second = hydrate(world)
    assert _deletions(world, second["run_id"]) == {"gone.txt": "deleted"}
    assert _consumer_keys(world) == ["back.txt", "keep.txt", "other.txt"]
    assert second["objects_deleted"] == 1
    assert world.stores.manifest.get_many(["gone.txt"]) == {}  # if it comes back, it is copied again


def test_a_dry_run_deletes_nothing_and_reports_exactly_the_missing_keys(deletes: World) -> None:
    world = deletes
    world.s3.delete_object(Bucket=world.producer_bucket, Key="gone.txt")
    world.s3.delete_object(Bucket=world.producer_bucket, Key="other.txt")
    hydrate(world)  # seen missing once
    dry = invoke_planner({"dry_run": True})
    assert dry["status"] == "COMPLETED"
    assert _deletions(world, dry["run_id"]) == {"gone.txt": "would-delete", "other.txt": "would-delete"}
    assert _consumer_keys(world) == ["back.txt", "gone.txt", "keep.txt", "other.txt"]
    real = hydrate(world)  # the dry run recorded no sighting: the real run still sees them a second time
    assert _deletions(world, real["run_id"]) == {"gone.txt": "deleted", "other.txt": "deleted"}


def test_a_run_over_the_cap_deletes_nothing(deletes: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = deletes
    for key in ("gone.txt", "other.txt"):
        world.s3.delete_object(Bucket=world.producer_bucket, Key=key)
    hydrate(world)
    cold_start(monkeypatch, MAX_DELETE_COUNT="1")
    over = hydrate(world)
    assert over["status"] == "COMPLETED"  # refusing deletes does not fail the copies
    assert "MAX_DELETE_COUNT" in (over["deletes_refused"] or "")
    assert _deletions(world, over["run_id"]) == {"gone.txt": "refused", "other.txt": "refused"}
    assert _consumer_keys(world) == ["back.txt", "gone.txt", "keep.txt", "other.txt"]


def test_a_source_that_answers_200_on_head_is_never_deleted(
    deletes: World, faults: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing from two listings, but back by the time of the delete (a HEAD answers 200): kept."""
    world = deletes
    world.s3.delete_object(Bucket=world.producer_bucket, Key="back.txt")
    hydrate(world)
    faults.add("s3.HeadObject", "^back.txt$", action="call", before=lambda: put_object(world, "back.txt", b"again"))
    run = hydrate(world)
    assert _deletions(world, run["run_id"]) == {"back.txt": "kept"}
    assert consumer_object(world, "back.txt")["body"] == b"back.txt"


def test_soft_deletes_move_the_object_under_the_trash_prefix(deletes: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = deletes
    cold_start(monkeypatch, DELETE_MODE="soft")
    world.s3.delete_object(Bucket=world.producer_bucket, Key="gone.txt")
    hydrate(world)
    hydrate(world)
    assert "gone.txt" not in _consumer_keys(world)
    trashed = consumer_object(world, "_s3_hydration_trash/gone.txt")
    assert (trashed["body"], trashed["head"]["SSEKMSKeyId"]) == (b"gone.txt", world.kms_key_arn)
    assert hydrate(world)["status"] == "COMPLETED"  # the trash is not itself a candidate
    assert _consumer_keys(world) == ["_s3_hydration_trash/gone.txt", "back.txt", "keep.txt", "other.txt"]
