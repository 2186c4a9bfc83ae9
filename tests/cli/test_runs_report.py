"""`runs report`: what a run did and what it cost, counted from known books (sheets opened and settled by the
real books store) with the documented rules at the default prices, and with prices overridden."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from hydration.aws.dynamo import to_item
from hydration.models import Outcome, RunKind, RunRecord, RunStatus, Settlement, Sheet, Task
from tests.cli.conftest import Deployed, json_out, text_records
from tests.integration.harness import REGION

MIB = 1024 * 1024
T0 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
RUN_ID = "20240501T060000Z-abc123"


@pytest.fixture
def known_run(deployed: Deployed) -> RunRecord:
    """A full run: 1,500 keys listed, 2 unchanged, 198 enqueued; 190 transferred (1 MiB, 1 S3 request and
    120 ms each), 5 skipped, 3 failed; planning took 60 s, the run 10 minutes."""
    books = deployed.world.stores.books
    bucket = deployed.world.producer_bucket
    keys = [f"data/{i:03d}" for i in range(198)]
    tasks = [Task(key=k, size=MIB, etag='"e"', last_modified=T0, run_id=RUN_ID, bucket=bucket) for k in keys]
    sheets = [Sheet.of(RUN_ID, f"{n:02d}", bucket, tasks[n * 10 : n * 10 + 10], T0) for n in range(20)]
    books.open(RUN_ID, sheets)  # 20 sheets (messages of 10 keys, the last of 8) in one transaction
    slot = {task.key: (sheet.id, task.slot) for sheet in sheets for task in sheet.tasks}

    def settled(key: str, outcome: Outcome, *cost: int) -> Settlement:
        return Settlement(key, outcome, *cost, sheet=slot[key][0], slot=slot[key][1])

    books.settle(  # in one transaction: a conditional update of each of the 20 sheets
        RUN_ID,
        [settled(k, Outcome.TRANSFERRED, MIB, 1, 120) for k in keys[:190]]
        + [settled(k, Outcome.SKIPPED) for k in keys[190:195]]
        + [settled(k, Outcome.FAILED) for k in keys[195:]],
    )
    run = RunRecord(
        run_id=RUN_ID,
        status=RunStatus.COMPLETED_WITH_FAILURES,
        kind=RunKind.FULL,
        watermark=T0,
        prefixes=[""],
        planning_complete=True,
        keys_listed=1500,
        keys_unchanged=2,
        started_at=T0,
        heartbeat_at=T0 + timedelta(seconds=60),
        ended_at=T0 + timedelta(seconds=600),
        failed_count=3,
    )
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=deployed.world.runs_table,
        Item=to_item(run.model_dump(mode="json", exclude=set(RunRecord.COUNTERS))),
    )
    return deployed.world.stores.runs.get(RUN_ID)


# (item, quantity) as documented in hydration_cli.ops.costs, for the known run and the default deployment
# (server-side, KeysPerMessage 10, BatchSize 10, CopyConcurrency 32; 1769/1024/256 MB)
EXPECTED = {
    "copies: PUT, COPY, UploadPartCopy": 190,  # the books' s3_requests, less the reads
    "copies: HEAD, GET": 0,  # one request per object copied: no pinned HEAD among them
    "listing (LIST)": 3,  # ceil(1500 / 1000) + 1 ListMultipartUploads
    "copier compute": 22.8 / 32 + 2 * 0.25,  # copy time over 32 in flight + 2 invocations' overhead, 1 GB
    "planner workers compute": 60 * 1769 / 1024,  # 60 s of one worker (the run has no more shards), 1,769 MB
    "finalizer compute": 2 * 0.5 * 0.25,  # 2 passes of 0.5 s in 600 s, 256 MB
    "invocations": 2 + 1 + 2,  # copier (20 messages, 10 a batch), planner, finalizer
    "send, receive, delete": 3 * 2,  # 20 messages (one a sheet), 10 per request
    "books: sheets opened": 2 * 20,  # 20 sheets under 1 KB, in a transaction
    "books: sheets settled": 2 * 20,  # 20 conditional updates, still under 1 KB with their outcomes
    "books: counters, checkpoints": 2 * (2 + 1),  # 2 transactions' counter items; 1 checkpoint (none counted)
    "manifest, ledger, run record": 190 + 3 + 10,  # manifest, ledger, run record
    "manifest and ledger reads": (200 + 2 * 198) / 2,  # the planner's lookups (enqueued + unchanged), the
    # copier's: eventually consistent, half a unit each
    "data keys (S3 Bucket Keys)": 2 * 190 * 0.01,  # source and copy, 99 % saved by S3 Bucket Keys
}
PRICE = {
    "copies: PUT, COPY, UploadPartCopy": 0.005 / 1000,
    "copies: HEAD, GET": 0.0004 / 1000,
    "listing (LIST)": 0.005 / 1000,
    "copier compute": 0.0000166667,
    "planner workers compute": 0.0000166667,
    "finalizer compute": 0.0000166667,
    "invocations": 0.20 / 1e6,
    "send, receive, delete": 0.40 / 1e6,
    "books: sheets opened": 0.625 / 1e6,
    "books: sheets settled": 0.625 / 1e6,
    "books: counters, checkpoints": 0.625 / 1e6,
    "manifest, ledger, run record": 0.625 / 1e6,
    "manifest and ledger reads": 0.125 / 1e6,
    "data keys (S3 Bucket Keys)": 0.03 / 10000,
}


def test_report_counts_the_cost_from_the_books(deployed: Deployed, run_cli, known_run: RunRecord) -> None:
    assert (known_run.s3_requests, known_run.copy_ms, known_run.keys_settled) == (190, 22_800, 198)
    assert (known_run.sheets, known_run.sheet_settles, known_run.book_transactions) == (20, 20, 2)
    assert known_run.sheet_bytes < 20 * 1024  # each sheet one write unit
    result = run_cli("runs", "report", RUN_ID, "--output", "json")
    assert result.exit_code == 0, result.output
    out = json_out(result)
    assert (out["duration_seconds"], out["planning_seconds"]) == (600, 60)
    assert out["objects_per_second"] == pytest.approx(190 / 600)
    assert out["bytes_per_second"] == pytest.approx(190 * MIB / 600)
    lines = {line["item"]: line for line in out["cost"]["lines"]}
    assert {item: line["quantity"] for item, line in lines.items()} == pytest.approx(EXPECTED)
    assert {item: line["usd"] for item, line in lines.items()} == pytest.approx(
        {item: EXPECTED[item] * PRICE[item] for item in EXPECTED}
    )
    assert out["cost"]["total_usd"] == pytest.approx(sum(EXPECTED[i] * PRICE[i] for i in EXPECTED))


def test_report_table(deployed: Deployed, run_cli, known_run: RunRecord) -> None:
    result = run_cli("runs", "report", RUN_ID)
    assert result.exit_code == 0, result.output
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.split("\n\n")[0].splitlines())
    assert rows == {
        "run": f"{RUN_ID} (full, COMPLETED_WITH_FAILURES)",
        "objects": "190 transferred, 5 skipped, 0 vanished, 3 failed of 198 keys enqueued; 190.0 MiB copied",
        "listed": "1,500 keys (2 unchanged: the consumer holds them)",
        "duration": "10m00s (planning 1m00s); 2024-05-01 06:00:00Z .. 2024-05-01 06:10:00Z",
        "throughput": "0.32 objects/s, 324.3 KiB/s",
        "copies": "190 S3 requests, 23s of copy time",
        "cost": f"about {sum(EXPECTED[i] * PRICE[i] for i in EXPECTED):.4f} USD (estimated, below)",
    }
    cost = result.stdout.split("\n\n")[1].splitlines()
    assert cost[0].split() == ["SERVICE", "ITEM", "QUANTITY", "USD", "PER", "USD", "COUNTED", "AS"]
    assert re.split(r"\s{2,}", cost[2])[:5] == [
        "S3",
        "copies: PUT, COPY, UploadPartCopy",
        "190 requests",
        "0.005/1,000",
        "0.0010",
    ]
    mine = sum(EXPECTED[i] * PRICE[i] for i in EXPECTED) * 1e6 / 190
    replication = 0.25 + 1.0 + 5.0 + 2 * 0.01 * 0.03 * 100  # a job, a million objects and PUTs, KMS
    assert any(
        f"per million objects: {mine:.2f} USD ({mine / replication:.2f}x S3 Batch Replication's" in c for c in cost
    )
    assert "prices (us-east-1 list prices; --price NAME=USD to change):" in cost
    assert "  kms-requests = 0.03 USD per 10,000 requests: KMS requests" in cost
    assert "  lambda-gb-second = 0.0000166667 USD per 1 GB-s: Lambda compute (x86)" in cost


def test_prices_can_be_overridden(deployed: Deployed, run_cli, known_run: RunRecord) -> None:
    result = run_cli(
        "runs", "report", RUN_ID, "--price", "s3-write=0.01", "--price", "kms-requests=0", "--output", "text"
    )
    assert result.exit_code == 0, result.output
    records = text_records(result)
    costs = {r[2]: float(r[6]) for r in records if r[0] == "COST"}
    assert costs["copies: PUT, COPY, UploadPartCopy"] == pytest.approx(190 * 0.01 / 1000)
    assert costs["listing (LIST)"] == pytest.approx(3 * 0.01 / 1000)
    assert costs["data keys (S3 Bucket Keys)"] == 0
    assert ["PRICE", "s3-write", "0.01", "1000", "requests"] in records
    [total] = [float(r[1]) for r in records if r[0] == "TOTAL"]
    assert total == pytest.approx(sum(costs.values()))


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("s3-put=1", "expected NAME=VALUE with NAME one of s3-write, s3-read,"),
        ("s3-write=cheap", "'s3-write=cheap': 'cheap' is not a number"),
        ("s3-write", "expected NAME=VALUE"),
    ],
)
def test_a_bad_price_is_a_usage_error(deployed: Deployed, run_cli, price: str, message: str) -> None:
    result = run_cli("runs", "report", RUN_ID, "--price", price)
    assert result.exit_code == 2
    assert message in result.stderr


def test_report_of_a_run_just_made(deployed: Deployed, run_cli) -> None:
    # Given a run copied by the real handlers: its books count the copies' S3 requests
    deployed.world.s3.put_object(Bucket=deployed.world.producer_bucket, Key="data/a.txt", Body=b"data")
    run_id = json_out(run_cli("trigger", "--yes", "--wait", "--interval", "0", "--output", "json"))["run_id"]
    out = json_out(run_cli("runs", "report", run_id, "--output", "json"))
    lines = {line["item"]: line["quantity"] for line in out["cost"]["lines"]}
    assert lines["copies: PUT, COPY, UploadPartCopy"] == 1  # the CopyObject
    assert lines["copies: HEAD, GET"] == 1  # the pinned HEAD
    assert lines["data keys (S3 Bucket Keys)"] == pytest.approx(0.02)
    assert lines["books: sheets opened"] == 2  # one sheet of one key: 1 unit, in a transaction
    assert lines["books: sheets settled"] == 2
    assert out["run"]["objects_transferred"] == 1
    assert (out["run"]["sheets"], out["run"]["sheet_settles"], out["run"]["checkpoints"]) == (1, 1, 1)


def test_report_shows_the_planning_and_every_deletion(deployed: Deployed, known_run: RunRecord, run_cli) -> None:
    """A sharded run's planning (its shards, its listing calls) and its guarded deletions, each with what
    became of it."""
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=deployed.world.runs_table,
        Key={"run_id": {"S": RUN_ID}},
        UpdateExpression="SET shards_total = :s, list_calls = :l, probes = :p",
        ExpressionAttributeValues={":s": {"N": "4"}, ":l": {"N": "6"}, ":p": {"N": "3"}},
    )
    deletions = deployed.world.stores.deletions
    deletions.settle(RUN_ID, "old/a.txt", "deleted")
    deletions.settle(RUN_ID, "old/b.txt", "kept")

    table = run_cli("runs", "report", RUN_ID)
    text = run_cli("runs", "report", RUN_ID, "--output", "text")

    assert table.exit_code == 0, table.output
    assert "planning    4 shard(s), 6 ListObjectsV2 calls listing, 3 cutting" in table.stdout
    assert "deletes     1 deleted, 1 kept" in table.stdout
    assert re.search(r"^  deleted\s+old/a.txt$", table.stdout, re.MULTILINE)
    assert [r for r in text_records(text) if r[0] == "DELETE"] == [
        ["DELETE", "deleted", "old/a.txt"],
        ["DELETE", "kept", "old/b.txt"],
    ]
