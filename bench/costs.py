"""What each kind of request the pipeline makes costs LocalStack, in CPU: each measured alone, a few hundred
times from 8 threads, made exactly as the pipeline makes it (the same parameters, through the shared package's
stores where there is one). LocalStack is one process whose CPU is the bench's bottleneck, so these figures
are the budget a copied object spends; multiplied by the requests per object of a run they give its CPU per
object (what the copy tables measure as a whole).

And what a run would cost on AWS (`aws_cost`): its books through the same cost model as `runs report`
(hydration_cli.ops.costs), at the list prices of hydration_cli.ops.prices, per million objects, beside S3
Batch Replication and DataSync for the same objects.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bench import data
from bench.env import Stack, client, cpu_seconds, localstack_pid
from hydration.aws.dynamo import batch_get
from hydration.aws.wiring import StateStores
from hydration.models import ManifestEntry, Outcome, RunRecord, Settlement, Sheet, Task
from hydration_cli.ops.costs import Rates, cost_of
from hydration_cli.ops.report import work_of
from hydration_cli.ops.stack import DeployedSettings

THREADS = 8


@dataclass
class Cost:
    request: str  # service.Operation
    how: str  # the pipeline's way (or a peer's)
    requests: int
    objects_per_request: float
    localstack_cpu_ms: float  # per request

    @property
    def per_object_ms(self) -> float:
        return self.localstack_cpu_ms / self.objects_per_request


def _measure(pid: int, calls: list[Callable[[], Any]]) -> float:
    """LocalStack CPU ms per call, the calls made from THREADS threads."""
    calls[0]()  # warm (connections, code paths)
    before = cpu_seconds(pid)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(lambda call: call(), calls[1:]))
    time.sleep(0.2)
    return 1000 * (cpu_seconds(pid) - before) / max(len(calls) - 1, 1)


def measure(stack: Stack, a: data.DataSet, stores: StateStores, objects: int = 400) -> list[Cost]:
    """Run each measurement; `a` must be seeded in the producer bucket."""
    pid = localstack_pid()
    if pid is None:
        return []
    producer, consumer = stack.producer_s3, stack.consumer_s3
    samples = a.samples[: objects + 1]
    kms = stack.kms_key_arn
    heads = {s.key: producer.head_object(Bucket=stack.producer_bucket, Key=s.key)["ETag"] for s in samples}
    dest = data.create_bucket(consumer, f"bench-costs-{secrets.token_hex(3)}", kms)
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms, "BucketKeyEnabled": True}
    costs: list[Cost] = []

    def s3_cost(request: str, how: str, call: Callable[[str], Any]) -> None:
        ms = _measure(pid, [partial(call, s.key) for s in samples])
        costs.append(Cost(request, how, len(samples) - 1, 1, ms))

    try:
        s3_cost(
            "s3.HeadObject",
            "pipeline: the pinned HEAD before a copy (If-Match, ChecksumMode=ENABLED)",
            lambda key: producer.head_object(
                Bucket=stack.producer_bucket, Key=key, IfMatch=heads[key], ChecksumMode="ENABLED"
            ),
        )
        s3_cost(
            "s3.CopyObject",
            "pipeline: pinned, CRC64NVME computed by S3, metadata and tags copied, SSE-KMS with bucket key",
            lambda key: producer.copy_object(
                CopySource={"Bucket": stack.producer_bucket, "Key": key},
                Bucket=dest,
                Key=key,
                MetadataDirective="COPY",
                TaggingDirective="COPY",
                ChecksumAlgorithm="CRC64NVME",
                CopySourceIfMatch=heads[key],
                **sse,
            ),
        )
        s3_cost(
            "s3.CopyObject",
            "s5cmd and the CopyObject loop: metadata copied, SSE-KMS",
            lambda key: consumer.copy_object(
                CopySource={"Bucket": stack.producer_bucket, "Key": key},
                Bucket=dest,
                Key=key,
                MetadataDirective="COPY",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=kms,
            ),
        )
        costs += _books(pid, stores, samples)
        costs += _manifest(pid, stores, samples)
        costs += _queue(pid, samples)
        listing = _measure(pid, [lambda: producer.list_objects_v2(Bucket=stack.producer_bucket, Prefix=a.prefix)] * 5)
        per_page = min(1000, a.count)
        costs.append(Cost("s3.ListObjectsV2", f"a page of {per_page:,} keys", 4, per_page, listing))
    finally:
        data.delete_bucket(consumer, dest)
    return costs


def _sheets(run_id: str, chunk: list[Any], first: int) -> list[Sheet]:
    """The chunk's keys in sheets of ten (one per transfer message), as the planner opens them."""
    now = datetime.now(UTC)
    tasks = [
        Task(run_id=run_id, bucket="bench", key=s.key, size=s.size, etag=f'"{"0" * 32}"', last_modified=now)
        for s in chunk
    ]
    return [Sheet.of(run_id, f"{first + i:08d}", "bench", tasks[i * 10 : i * 10 + 10], now) for i in range(10)]


def _open(stores: StateStores, run_id: str, sheets: list[Sheet]) -> None:
    stores.books.open(run_id, sheets)


def _settle(stores: StateStores, run_id: str, sheets: list[Sheet]) -> None:
    stores.books.settle(
        run_id,
        [
            Settlement(t.key, Outcome.TRANSFERRED, 1, sheet=sheet.id, slot=t.slot)
            for sheet in sheets
            for t in sheet.tasks
        ],
    )


def _books(pid: int, stores: StateStores, samples: list[Any]) -> list[Cost]:
    """A transaction opens (planner) or settles (copier) 100 keys, in 10 sheets of 10 (a copier's batch of 10
    messages), and moves a counter item with them."""
    run_id = f"bench-costs-{secrets.token_hex(3)}"
    chunks = [_sheets(run_id, samples[i : i + 100], i) for i in range(0, len(samples) - 100, 100)]
    opened = _measure(pid, [partial(_open, stores, run_id, chunk) for chunk in chunks])
    settled = _measure(pid, [partial(_settle, stores, run_id, chunk) for chunk in chunks])
    n = len(chunks) - 1
    return [
        Cost("dynamodb.TransactWriteItems", "planner: 10 sheets of 10 keys opened, with their counter", n, 100, opened),
        Cost(
            "dynamodb.TransactWriteItems", "copier: 10 sheets of 10 keys settled, with their counter", n, 100, settled
        ),
    ]


def _manifest(pid: int, stores: StateStores, samples: list[Any]) -> list[Cost]:
    now = datetime.now(UTC)
    entries = [
        ManifestEntry(key=f"zz-bench-costs/{s.key}", etag='"e"', last_modified=now, size=s.size, copied_at=now)
        for s in samples
    ]
    chunks = [entries[i : i + 25] for i in range(0, len(entries), 25)]
    written = _measure(pid, [partial(stores.manifest.put_many, chunk) for chunk in chunks])
    keys = [e.key for e in entries]
    reads = [keys[i : i + 100] for i in range(0, len(keys), 100)]
    db, table = stores.manifest._db, stores.manifest.table
    read = _measure(
        pid,
        [partial(batch_get, db, {table: [{"key": k} for k in chunk]}, consistent=True) for chunk in reads],
    )
    for chunk in [keys[i : i + 25] for i in range(0, len(keys), 25)]:
        db.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": {"key": {"S": k}}}} for k in chunk]})
    return [
        Cost(  # put_many writes each entry by a conditional PutItem (a late copy never replaces a newer entry)
            "dynamodb.PutItem",
            "copier: the manifest entry of a key that landed (conditional)",
            sum(len(chunk) for chunk in chunks[1:]),
            1,
            written * (len(chunks) - 1) / sum(len(chunk) for chunk in chunks[1:]),
        ),
        Cost(
            "dynamodb.BatchGetItem",
            "planner and copier: manifest entries, 100 keys a request",
            len(reads) - 1,
            100,
            read,
        ),
    ]


def _queue(pid: int, samples: list[Any]) -> list[Cost]:
    """SendMessageBatch of 10 messages of 10 keys (the planner's), to a scratch queue."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=f"bench-costs-{secrets.token_hex(3)}")["QueueUrl"]
    body = "x" * 2000  # about a message of ten keys
    try:
        batches = [
            [{"Id": str(i), "MessageBody": body} for i in range(10)]
            for _ in range(max(2, (len(samples) - 1) // 100 + 1))
        ]
        sent = _measure(pid, [partial(sqs.send_message_batch, QueueUrl=url, Entries=entries) for entries in batches])
    finally:
        sqs.delete_queue(QueueUrl=url)
    return [Cost("sqs.SendMessageBatch", "planner: 10 messages of 10 keys", len(batches) - 1, 100, sent)]


def aws_cost(run: RunRecord, settings: dict[str, Any]) -> dict[str, Any]:
    """The run's cost on AWS, modeled from its books with the deployment's knobs (`Pipeline.settings()`)."""
    deployed = DeployedSettings(
        copy_mode=str(settings.get("COPY_MODE") or "server-side"),
        keys_per_message=int(settings.get("KEYS_PER_MESSAGE") or 10),
        batch_size=int(settings.get("BatchSize") or 10),
        copy_concurrency=int(settings.get("COPY_CONCURRENCY") or 32),
        planner_concurrency=int(settings.get("PlannerConcurrency") or 32),
    )
    work, _ = work_of(run, run.ended_at or datetime.now(UTC), deployed.planner_concurrency)  # as `runs report`
    cost = cost_of(work, deployed, Rates.of())
    objects = max(cost.objects, 1)
    books = sum(line.quantity for line in cost.lines if line.item.startswith("books:"))
    return {
        "usd": cost.total_usd,
        "per_million_usd": cost.per_million_objects_usd,
        "dynamodb_write_units_per_object": cost.dynamodb_write_units / objects,
        "books_write_units_per_object": books / objects,
        "peers": {peer.name: peer.per_million_objects_usd for peer in cost.peers},
        "lines": {line.item: line.usd * 1_000_000 / objects for line in cost.lines},
    }
