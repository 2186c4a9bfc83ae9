"""The whole pipeline on moto: real handlers, a faithful SQS poller, outcomes read back from the buckets."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from hydration import MARKER_KEY
from hydration.marker import parse
from hydration.models import RunStatus
from tests.integration.harness import (
    MIB,
    World,
    cold_start,
    consumer_object,
    hydrate,
    invoke_finalizer,
    invoke_planner,
    put_object,
    queue_messages,
    queue_objects,
    run_copier,
)
from tests.moto_faults import Faults

HEADERS = {
    "ContentType": "application/x-thing",
    "ContentEncoding": "gzip",
    "ContentLanguage": "de-CH",
    "ContentDisposition": 'attachment; filename="x.bin"',
    "CacheControl": "max-age=60",
    "Expires": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    "Metadata": {"owner": "data-team", "source-system": "erp"},
    "Tagging": "classification=internal&team=data",
}

# Small, zero-byte, above the multipart threshold (5 MiB here), and keys that break naive URL handling.
MIXED = {
    "small/a.json": b'{"a": 1}',
    "small/empty.bin": b"",
    "big/object.bin": bytes(range(256)) * (6 * MIB // 256 + 7),
    "unicode/Zürich – δ 漢字.txt": "grüezi".encode(),
    "spaces/with space.txt": b"spaces",
    "plus/a+b=c.txt": b"plus",
    "percent/100%25 done%.txt": b"percent",
    "deep/a/b/c/d/e/f.txt": b"deep",
}


def _marker(world: World) -> datetime:
    body = world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode()
    return parse(body).synced_to


def _run(world: World, run_id: str) -> dict:
    return world.stores.runs.get(run_id).model_dump()


@pytest.mark.parametrize("mode", ["server-side", "stream"])
def test_mixed_data_set_lands_byte_for_byte_with_headers_tags_and_the_consumer_key(
    world: World, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    cold_start(monkeypatch, COPY_MODE=mode)
    for key, body in MIXED.items():
        put_object(world, key, body, **HEADERS)

    result = hydrate(world)

    assert result["status"] == "COMPLETED"
    for key, body in MIXED.items():
        got = consumer_object(world, key)
        assert got["body"] == body, key
        head = got["head"]
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == world.kms_key_arn, key
        for name in (
            "ContentType",
            "ContentEncoding",
            "ContentLanguage",
            "ContentDisposition",
            "CacheControl",
        ):
            assert head[name] == HEADERS[name], (key, name)
        assert head["Metadata"] == HEADERS["Metadata"], key
        assert got["tags"] == {"classification": "internal", "team": "data"}, key
    big = world.s3.head_object(Bucket=world.consumer_bucket, Key="big/object.bin")
    assert big["ETag"].endswith('-2"')  # really copied in parts (6 MiB + a bit, 5 MiB parts)
    uploads = world.s3.list_multipart_uploads(Bucket=world.consumer_bucket).get("Uploads", [])
    assert uploads == []
    run = _run(world, result["run_id"])
    assert run["objects_transferred"] == len(MIXED)
    assert run["bytes_transferred"] == sum(len(b) for b in MIXED.values())


def test_marker_is_the_watermark_when_the_listing_started_and_is_readable(world: World) -> None:
    put_object(world, "a.txt", b"a")
    before = datetime.now(UTC)
    result = hydrate(world)
    planned = result["planned"]
    marker_text = world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)["Body"].read().decode()
    first_line = marker_text.splitlines()[0]
    assert datetime.fromisoformat(first_line.replace("Z", "+00:00")) == datetime.fromisoformat(planned["watermark"])
    assert before <= _marker(world) <= datetime.now(UTC)
    assert json.loads(marker_text.splitlines()[1])["run_id"] == result["run_id"]
    # The marker itself is never copied, even when it sits in the producer bucket too.
    assert all(m["key"] != MARKER_KEY for m in queue_objects(world))


def test_incremental_run_selects_only_what_changed_since_the_marker(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_object(world, "old.txt", b"old")
    hydrate(world)
    put_object(world, "new.txt", b"new")
    put_object(world, "old2.txt", b"changed")

    cold_start(monkeypatch, LOOKBACK_SECONDS="900")
    planned = invoke_planner({})
    keys = sorted(m["key"] for m in queue_objects(world))
    # old.txt may be selected again (S3 keeps LastModified to the second, the bound is rounded down), but
    # the consumer holds that version: it is not enqueued.
    assert keys == ["new.txt", "old2.txt"]
    assert planned["keys_enqueued"] == 2


def test_rerun_copies_nothing_and_enqueues_nothing_the_consumer_holds(world: World) -> None:
    for i in range(5):
        put_object(world, f"k{i}", f"v{i}".encode())
    hydrate(world)
    first = {k: world.s3.head_object(Bucket=world.consumer_bucket, Key=f"k{k}")["LastModified"] for k in range(5)}

    result = hydrate(world)  # all 5 are within the 1 h lookback: selected again, found in the manifest

    run = _run(world, result["run_id"])
    assert run["keys_unchanged"] == 5
    assert run["keys_enqueued"] == 0
    assert run["objects_transferred"] == 0
    assert first == {
        k: world.s3.head_object(Bucket=world.consumer_bucket, Key=f"k{k}")["LastModified"] for k in range(5)
    }


def test_the_copier_skips_a_version_the_consumer_already_holds(world: World) -> None:
    """Messages can still arrive for a held version (a duplicate, a ledger retry, a redrive): the copier checks
    the manifest too."""
    put_object(world, "held.txt", b"held")
    hydrate(world)
    invoke_planner({"full": True})  # enqueues nothing: the manifest holds it
    assert queue_objects(world) == []
    invoke_finalizer()
    invoke_finalizer()
    listed = world.s3.list_objects_v2(Bucket=world.producer_bucket)["Contents"][0]
    body = {  # the first message format, as a DLQ may still hold it
        "v": 1,
        "run_id": "manual",
        "bucket": world.producer_bucket,
        "key": "held.txt",
        "size": listed["Size"],
        "etag": listed["ETag"],
        "last_modified": listed["LastModified"].isoformat(),
    }
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=json.dumps(body))
    modified = world.s3.head_object(Bucket=world.consumer_bucket, Key="held.txt")["LastModified"]
    assert run_copier(world).responses == [{"batchItemFailures": []}]
    assert world.s3.head_object(Bucket=world.consumer_bucket, Key="held.txt")["LastModified"] == modified


def test_duplicate_deliveries_are_harmless(world: World) -> None:
    put_object(world, "dup.txt", b"once")
    invoke_planner({})
    (message,) = queue_messages(world)
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=json.dumps(message))  # a second delivery
    polled = run_copier(world)
    assert all(r == {"batchItemFailures": []} for r in polled.responses)
    assert consumer_object(world, "dup.txt")["body"] == b"once"


def test_same_size_multipart_replacement_is_copied_again(world: World) -> None:
    """A same-size replacement uploaded by multipart keeps an older LastModified (its upload start); the
    manifest compares the ETag, so the new bytes still land."""
    size = 6 * MIB
    put_object(world, "rep.bin", b"a" * size)
    hydrate(world)
    s3 = world.s3
    upload = s3.create_multipart_upload(Bucket=world.producer_bucket, Key="rep.bin")
    parts = []
    for number, chunk in enumerate((b"b" * 5 * MIB, b"b" * MIB), start=1):
        etag = s3.upload_part(
            Bucket=world.producer_bucket,
            Key="rep.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=chunk,
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=world.producer_bucket,
        Key="rep.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    hydrate(world)
    assert consumer_object(world, "rep.bin")["body"] == b"b" * size


def test_one_active_run_at_a_time(world: World) -> None:
    put_object(world, "a.txt", b"a")
    first = invoke_planner({})
    second = invoke_planner({"full": True})
    assert second["started"] is False
    assert second["run_id"] == first["run_id"]
    assert second["status"] == "DRAINING"
    assert len(queue_objects(world)) == 1


def test_dry_run_enqueues_nothing(world: World) -> None:
    for key in ("a", "b", "c"):
        put_object(world, key, b"12345")
    result = invoke_planner({"dry_run": True})
    assert result["dry_run"] is True
    assert result["keys_enqueued"] == 3
    assert result["bytes_enqueued"] == 15
    assert result["sample_keys"] == ["a", "b", "c"]
    assert queue_objects(world) == []
    assert invoke_finalizer()["action"] == "idle"


def test_prefix_run_copies_the_prefix_and_leaves_the_marker(world: World) -> None:
    put_object(world, "keep/a.txt", b"a")
    put_object(world, "other/b.txt", b"b")
    result = hydrate(world, {"prefix": "keep/"})
    assert result["marker_written"] is None
    assert consumer_object(world, "keep/a.txt")["body"] == b"a"
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key="other/b.txt")
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)


def test_prefix_outside_the_configured_scope_is_rejected(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from hydration.errors import InvalidRequestError

    cold_start(monkeypatch, TRANSFER_PREFIXES="data/")
    with pytest.raises(InvalidRequestError, match="prefix: 'logs/' is outside the configured transfer prefixes"):
        invoke_planner({"prefix": "logs/"})
    assert invoke_finalizer()["action"] == "idle"  # no run was started


def test_since_run_selects_by_time(world: World) -> None:
    put_object(world, "a.txt", b"a")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert invoke_planner({"since": future})["keys_enqueued"] == 0
    invoke_finalizer()
    invoke_finalizer()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert invoke_planner({"since": past})["keys_enqueued"] == 1


def test_invalid_payload_starts_nothing_and_names_the_field(world: World) -> None:
    from hydration.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="since: 'tomorrow' is not an ISO-8601 date or time"):
        invoke_planner({"since": "tomorrow"})
    with pytest.raises(InvalidRequestError, match="fulll: unknown field"):
        invoke_planner({"fulll": True})
    assert boto3.client("dynamodb").scan(TableName=world.runs_table)["Count"] == 0


def test_listing_failure_fails_the_run_and_releases_the_lock(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    cold_start(monkeypatch, PRODUCER_BUCKET="no-such-bucket")
    with pytest.raises(Exception, match="NoSuchBucket"):
        invoke_planner({})
    runs = boto3.client("dynamodb").scan(TableName=world.runs_table)["Items"]
    assert [r["status"]["S"] for r in runs] == ["FAILED"]
    with pytest.raises(world.s3.exceptions.NoSuchKey):
        world.s3.get_object(Bucket=world.consumer_bucket, Key=MARKER_KEY)
    cold_start(monkeypatch, PRODUCER_BUCKET=world.producer_bucket)
    assert invoke_planner({})["started"] is True


def test_a_forced_copy_that_failed_keeps_its_force_through_the_ledger(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Any
) -> None:
    """Reconcile finds a key missing in the consumer (the manifest still says it is there) and enqueues it
    forced; the copy fails for good; the next run re-enqueues it from the ledger, still forced, so it is
    copied rather than skipped as 'already held'."""
    put_object(world, "k.txt", b"the bytes")
    hydrate(world)
    world.s3.delete_object(Bucket=world.consumer_bucket, Key="k.txt")  # lost out of band
    cold_start(monkeypatch, KEYS_PER_MESSAGE="1")
    faults.add("s3.CopyObject", "^k.txt$", code="AccessDenied", status=403)
    failed = hydrate(world, {"reconcile": True})
    assert failed["status"] == "COMPLETED_WITH_FAILURES"
    entry = world.stores.ledger.get("k.txt")
    assert entry is not None
    assert entry.force is True

    faults.clear()
    again = hydrate(world)

    assert again["status"] == "COMPLETED"
    assert consumer_object(world, "k.txt")["body"] == b"the bytes"
    assert world.stores.ledger.get("k.txt") is None


def test_a_header_only_change_is_copied(world: World) -> None:
    """Same bytes (a single-part ETag is their MD5), new content type and metadata: a new version."""
    put_object(world, "h.txt", b"same bytes", ContentType="text/plain", Metadata={"v": "1"})
    hydrate(world)
    # S3 keeps LastModified to the second: a rewrite within the same second as the version copied cannot be
    # told apart in a listing (docs/faults.md). Rewrite in the next second, as any real edit would be.
    first = world.s3.head_object(Bucket=world.producer_bucket, Key="h.txt")["LastModified"]
    time.sleep(max(0.0, 1.05 - (datetime.now(UTC) - first.replace(microsecond=0)).total_seconds()))
    world.s3.copy_object(
        Bucket=world.producer_bucket,
        Key="h.txt",
        CopySource={"Bucket": world.producer_bucket, "Key": "h.txt"},
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"v": "2"},
    )
    run = hydrate(world, {"full": True})
    assert run["objects_transferred"] == 1
    head = consumer_object(world, "h.txt")["head"]
    assert (head["ContentType"], head["Metadata"]) == ("application/json", {"v": "2"})


def test_a_key_sqs_cannot_carry_raw_is_copied(world: World) -> None:
    key = "odd/\uffff\ufffe.txt"
    put_object(world, key, b"odd")
    assert hydrate(world)["status"] == "COMPLETED"
    assert consumer_object(world, key)["body"] == b"odd"


def test_a_redelivery_that_reads_the_manifest_stale_copies_again_and_counts_once(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner's and the copier's lookups of the manifest and the ledger read eventually consistent (half
    a read unit an item): every BatchGetItem they send says so. A redelivery moments after the first copy
    landed may then read no entry yet: it copies the key again (the same bytes) and the run counts it once."""
    consistent = faults.add("dynamodb.BatchGetItem", "'ConsistentRead': True", action="call", before=lambda: None)
    eventual = faults.add("dynamodb.BatchGetItem", "'ConsistentRead': False", action="call", before=lambda: None)
    put_object(world, "stale.txt", b"once")
    planned = invoke_planner({})
    (message,) = queue_messages(world)
    assert run_copier(world).responses == [{"batchItemFailures": []}]
    from hydration.aws import wiring

    read = wiring.StateStores.lookup
    monkeypatch.setattr(wiring.StateStores, "lookup", lambda stores, keys: ({}, read(stores, keys)[1]))
    cold_start(monkeypatch)  # the copier's next container reads through the stale lookup
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=json.dumps(message))  # delivered again

    assert run_copier(world).responses == [{"batchItemFailures": []}]
    assert consumer_object(world, "stale.txt")["body"] == b"once"
    run = world.stores.runs.get(planned["run_id"])
    assert (run.status, run.keys_enqueued, run.keys_settled, run.objects_transferred) == (RunStatus.COMPLETED, 1, 1, 1)
    assert consistent.seen == 0
    assert eventual.seen >= 2  # the planner's lookup and the copier's
