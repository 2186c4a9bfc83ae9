"""What the manifest's conditional writes cost against the BatchWriteItem they replaced (issue 15).

A copier batch of N landed keys writes N manifest entries. Before: BatchWriteItem, 25 puts a call (chunks side
by side), last writer wins. Now: one conditional PutItem per entry (BatchWriteItem takes no conditions), 8
in flight. This measures, for one batch, the requests, the write capacity DynamoDB reports consumed and the
wall time, against LocalStack (over HTTP; LocalStack serves DynamoDB with moto) or, without an endpoint,
moto in-process. Not part of `make bench`; run it alone:

    .venv/bin/python -m bench.manifest_writes [--endpoint http://127.0.0.1:4566] [--entries 100] [--repeat 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from hydration.aws.dynamo import write_batch
from hydration.aws.manifest import Manifest, _item
from hydration.models import ManifestEntry

TABLE = "manifest-bench"


def _entries(count: int, round_: int) -> list[ManifestEntry]:
    now = datetime.now(UTC)
    return [
        ManifestEntry(
            key=f"data/{round_:03}/object-{i:05}.json",
            etag=f'"{i:032x}"',
            last_modified=now - timedelta(hours=1),
            size=16384,
            copied_at=now,
            checksum="CRC64NVME:AAAAAAAAAAA=",
            run_id="20261206T060000Z-abcdef",
            destination="",
            written_after=now - timedelta(seconds=2),
            written_before=now,
        )
        for i in range(count)
    ]


class _Counter:
    """The DynamoDB requests a client sends (botocore's retries included), by operation."""

    def __init__(self, client: Any) -> None:
        self.calls: dict[str, int] = {}
        client.meta.events.register("before-call.dynamodb.*", self._call)

    def _call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100, help="entries per batch (a copier batch: 10 x 10)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--endpoint", help="a DynamoDB endpoint (LocalStack); default: moto in-process")
    args = parser.parse_args()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "test")
    with mock_aws() if args.endpoint is None else contextlib.nullcontext():
        client = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name="us-east-1")
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_table(TableName=TABLE)
            client.get_waiter("table_not_exists").wait(TableName=TABLE)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        counter = _Counter(client)
        manifest = Manifest(client, TABLE)
        batch_s, conditional_s = [], []
        for round_ in range(args.repeat):
            entries = _entries(args.entries, round_)
            started = time.perf_counter()
            write_batch(client, {TABLE: [_item(e) for e in entries]})
            batch_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert manifest.put_many(entries) == []  # the same versions again: every write goes through
            conditional_s.append(time.perf_counter() - started)
        batch_calls = counter.calls.get("BatchWriteItem", 0) / args.repeat
        put_calls = counter.calls.get("PutItem", 0) / args.repeat
        where = f"DynamoDB at {args.endpoint}" if args.endpoint else "moto in-process"
        print(f"{args.entries} entries per batch, {args.repeat} batches, {where}")
        print("| write | requests per batch | wall ms per batch (median) |")
        print("|---|--:|--:|")
        print(f"| BatchWriteItem, 25 a call (before) | {batch_calls:.0f} | {statistics.median(batch_s) * 1000:.1f} |")
        print(
            f"| conditional PutItem, 8 in flight (now) | {put_calls:.0f} "
            f"| {statistics.median(conditional_s) * 1000:.1f} |"
        )
        client.delete_table(TableName=TABLE)


if __name__ == "__main__":
    main()
