"""Sharded planning on the deployed stacks: a run cut into several shards (handed on and split while they
run) copies everything and closes once; a run from a synthetic S3 Inventory report (LocalStack makes none:
the test writes a manifest and gzipped CSV files into the inventory bucket), its MD5s checked; guarded
delete propagation's safety cases."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import pytest

from hydration.models import RunStatus
from tests.e2e.support import Matrix, leave_quiet
from tests.faults import Faults


@pytest.fixture(scope="module")
def matrix(deployment: Any, producer_s3: Any, outputs: dict[str, Any]) -> Iterator[Matrix]:
    the_matrix = Matrix(deployment, producer_s3, outputs)
    leave_quiet(deployment, "the planning cases start", purge_at_once=True)  # whatever an earlier module left
    the_matrix.forget("pl/")  # what an interrupted session left
    the_matrix.run()  # a marker to start from (the checks read it)
    yield the_matrix
    leave_quiet(deployment, "the planning cases end", purge_at_once=False)


@pytest.fixture
def prefix(matrix: Matrix) -> Iterator[str]:
    """The case's own key prefix, forgotten after it (each case starts and ends quiet: `isolated`)."""
    name = f"pl/{uuid.uuid4().hex[:8]}/"
    yield name
    matrix.forget(name)


def _env(matrix: Matrix, **changes: str) -> Any:
    """The planner's and its workers' environment changed as a stack update would; returns the undo."""
    undo = [matrix.function_env(service, **changes) for service in ("planner", "planner-worker")]
    return lambda: [step() for step in undo]


def _report_run(matrix: Matrix, url: str) -> str:
    """The run of this report: started here, or by the inventory rule (the report's manifest.checksum
    arriving; LocalStack delivers S3's events to the rule even while the schedules are off)."""
    planner = matrix.deployment.function_name("planner")
    answer = matrix.deployment.functions.invoke(planner, {"inventory": url, "full": True})
    if answer["started"]:
        return str(answer["run_id"])
    active = matrix.deployment.runs.active()
    assert active is not None, answer
    assert active.inventory == url, answer
    return active.run_id


def test_a_run_in_several_shards_copies_everything_and_closes_once(matrix: Matrix, prefix: str) -> None:
    keys = [f"{prefix}{i:03d}{' +%ü'[i % 4]}.bin" for i in range(240)]
    for key in keys:
        matrix.put(key)
    undo = _env(matrix, LIST_PAGE_SIZE="20", MAX_PAGES_PER_INVOCATION="3", SHARD_SPLIT_PAGES="1", PLANNER_SHARDS="6")
    try:
        run = matrix.run({"prefix": prefix})
    finally:
        undo()
    assert run.status is RunStatus.COMPLETED
    assert (run.keys_listed, run.keys_enqueued, run.objects_transferred) == (240, 240, 240)
    assert run.shards_total > 1
    assert run.list_calls <= math.ceil(240 / 20) + run.shards_total  # nothing listed twice
    matrix.assert_all_landed(prefix)
    assert matrix.finalize(run.run_id)["action"] == "finished"  # closed once, and only once


# --------------------------------------------------------------------------- S3 Inventory as the source


def _report(matrix: Matrix, keys: list[str], *, bad_md5: bool = False) -> str:
    """A report as S3 writes one, into the inventory bucket; the manifest.checksum's s3:// URL."""
    bucket = matrix.outputs["InventoryBucketName"]
    s3 = matrix.consumer
    folder = f"inventory/{matrix.bucket}/s3-hydration/{uuid.uuid4().hex[:6]}/"
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for key in keys:
        head = matrix.producer.head_object(Bucket=matrix.bucket, Key=key)
        modified = head["LastModified"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        writer.writerow(
            [matrix.bucket, quote_plus(key, safe="/"), head["ContentLength"], modified, head["ETag"].strip('"')]
        )
    body = gzip.compress(out.getvalue().encode())
    s3.put_object(Bucket=bucket, Key=folder + "data/0.csv.gz", Body=body)
    md5 = "0" * 32 if bad_md5 else hashlib.md5(body, usedforsecurity=False).hexdigest()
    manifest = json.dumps(
        {
            "sourceBucket": matrix.bucket,
            "destinationBucket": f"arn:aws:s3:::{bucket}",
            "version": "2016-11-30",
            "creationTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
            "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag",
            "files": [{"key": folder + "data/0.csv.gz", "size": len(body), "MD5checksum": md5}],
        }
    ).encode()
    s3.put_object(Bucket=bucket, Key=folder + "manifest.json", Body=manifest)
    checksum = hashlib.md5(manifest, usedforsecurity=False).hexdigest()
    s3.put_object(Bucket=bucket, Key=folder + "manifest.checksum", Body=checksum)
    return f"s3://{bucket}/{folder}manifest.checksum"


def test_a_run_from_an_inventory_report(matrix: Matrix, prefix: str) -> None:
    keys = [f"{prefix}{name}" for name in ("a.bin", "with space.bin", "plus+sign.bin", "pct%41.bin", "ü.bin")]
    for key in keys:
        matrix.put(key)
    refused = _report_run(matrix, _report(matrix, keys, bad_md5=True))
    run = matrix.wait(refused)
    assert (run.status, run.keys_enqueued) == (RunStatus.FAILED, 0)
    assert "MD5" in (run.error or "")
    assert _consumer_keys(matrix, prefix) == []  # nothing of the refused report was copied

    run = matrix.wait(_report_run(matrix, _report(matrix, keys)))
    assert run.status is RunStatus.COMPLETED
    assert (run.keys_listed, run.keys_enqueued, run.list_calls) == (5, 5, 0)  # read, not listed
    matrix.assert_all_landed(prefix)


# --------------------------------------------------------------------------- guarded deletes


ALL = ["back.bin", "gone.bin", "keep.bin", "keep2.bin", "keep3.bin"]  # in S3's order


@pytest.fixture
def deletes(matrix: Matrix, prefix: str) -> Iterator[str]:
    """Hard deletes on, scoped to the case's prefix (its full runs list only it), with room under the caps."""
    undo = _env(matrix, DELETE_MODE="hard", TRANSFER_PREFIXES=prefix, MAX_DELETE_COUNT="5", MAX_DELETE_PERCENT="100")
    try:
        for name in ALL:
            matrix.put(prefix + name)
        matrix.run({"full": True})
        yield prefix
    finally:
        undo()


def _consumer_keys(matrix: Matrix, prefix: str) -> list[str]:
    listed = matrix.consumer.list_objects_v2(Bucket=matrix.deployment.bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"][len(prefix) :] for o in listed)


def _deletions(matrix: Matrix, run_id: str) -> dict[str, str]:
    from hydration.aws.deletions import DeletionStore

    store = DeletionStore(matrix.deployment.client("dynamodb"), matrix.outputs["BooksTableName"], "unused")
    return {key.rsplit("/", 1)[1]: outcome for key, outcome in store.of_run(run_id).items()}


def test_deletes_only_what_two_complete_listings_missed_and_a_head_confirms(
    matrix: Matrix, faults: Faults, deletes: str
) -> None:
    """gone.bin is deleted from the producer; back.bin is missing from the producer's listings (hidden) but
    still there (a HEAD answers 200)."""
    prefix = deletes
    matrix.producer.delete_object(Bucket=matrix.bucket, Key=prefix + "gone.bin")
    producer_account = matrix.outputs.get("ProducerAccountId", "222222222222")
    faults.add(service="s3", action="hide", match=f"^{prefix}back.bin$", account=producer_account)

    once = matrix.run({"full": True})
    assert _deletions(matrix, once.run_id) == {}  # seen missing once: nothing is a candidate yet
    assert _consumer_keys(matrix, prefix) == ALL

    dry = matrix.deployment.functions.invoke(
        matrix.deployment.function_name("planner"), {"full": True, "dry_run": True}
    )
    dry = dry["run_id"]
    assert matrix.wait(dry).status is RunStatus.COMPLETED
    assert _deletions(matrix, dry) == {"gone.bin": "would-delete", "back.bin": "kept"}  # exactly the missing key
    assert _consumer_keys(matrix, prefix) == ALL  # and nothing deleted

    twice = matrix.run({"full": True})
    assert _deletions(matrix, twice.run_id) == {"gone.bin": "deleted", "back.bin": "kept"}
    assert twice.objects_deleted == 1
    assert _consumer_keys(matrix, prefix) == [name for name in ALL if name != "gone.bin"]


def test_a_run_over_the_cap_deletes_nothing(matrix: Matrix, deletes: str) -> None:
    prefix = deletes
    for name in ("gone.bin", "back.bin"):
        matrix.producer.delete_object(Bucket=matrix.bucket, Key=prefix + name)
    undo = _env(matrix, MAX_DELETE_COUNT="1")
    try:
        matrix.run({"full": True})
        over = matrix.run({"full": True})
    finally:
        undo()
    assert "MAX_DELETE_COUNT" in (over.deletes_refused or "")
    assert _deletions(matrix, over.run_id) == {"gone.bin": "refused", "back.bin": "refused"}
    assert _consumer_keys(matrix, prefix) == ALL
