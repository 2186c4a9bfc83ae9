"""Data sets A (many small objects), B (few large ones) and C (keys for the planner alone); seeding,
fresh destination buckets, emptying, and the check that headers, metadata and the KMS key survived."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from tools.sample_data import Sample, seed

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class DataSet:
    name: str
    prefix: str
    samples: list[Sample]

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self.samples)


def dataset_a(count: int = 2000, size: int = 16 * KIB) -> DataSet:
    """Many small objects, each with a content type and user metadata (no tags: no contender but the
    pipeline copies tags, so tags would only add requests to the pipeline's stream mode)."""
    samples = [
        Sample(
            key=f"a/{i // 250:02}/object-{i:06}.json",
            size=size,
            content_type="application/json",
            metadata={"set": "a", "seq": str(i)},
        )
        for i in range(count)
    ]
    return DataSet("A", "a/", samples)


def dataset_b(count: int = 16, size: int = 32 * MIB) -> DataSet:
    samples = [
        Sample(
            key=f"b/large-{i:03}.bin",
            size=size,
            content_type="application/x-bench-large",
            metadata={"set": "b", "seq": str(i)},
        )
        for i in range(count)
    ]
    return DataSet("B", "b/", samples)


def dataset_c(small: int = 10_000, large: int = 50_000) -> tuple[DataSet, DataSet]:
    """Keys of 0-1 bytes for the planner: `c/` holds `large` keys, of which `c/s/` holds the first `small`."""
    small = min(small, large)
    samples = [Sample(key=f"c/{'s' if i < small else 't'}/{i:06}", size=i % 2) for i in range(large)]
    return DataSet(f"C{small}", "c/s/", samples[:small]), DataSet(f"C{large}", "c/", samples)


def seed_dataset(s3: Any, bucket: str, data: DataSet, threads: int = 32) -> None:
    if data.bytes >= 64 * MIB:
        threads = min(threads, 8)  # bounded memory: whole bodies are built in memory
    seed(s3, bucket, data.samples, threads=threads)


# --------------------------------------------------------------------------- buckets


def keys(s3: Any, bucket: str, prefix: str = "") -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def empty(s3: Any, bucket: str, prefix: str = "", threads: int = 8) -> int:
    """Delete every object under the prefix (DeleteObjects, 1,000 keys a call); returns the count."""
    batch: list[str] = []
    batches: list[list[str]] = []
    for key in keys(s3, bucket, prefix):
        batch.append(key)
        if len(batch) == 1000:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)

    def delete(chunk: list[str]) -> int:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        return len(chunk)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(delete, batches))


def create_bucket(s3: Any, name: str, kms_key_arn: str) -> str:
    """A fresh, empty destination whose default encryption is SSE-KMS under the consumer key."""
    s3.create_bucket(Bucket=name)
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn}}
            ]
        },
    )
    return name


def delete_bucket(s3: Any, name: str) -> None:
    try:
        empty(s3, name)
        s3.delete_bucket(Bucket=name)
    except ClientError:
        pass


# --------------------------------------------------------------------------- what survived the copy


@dataclass
class Check:
    """Landed objects counted; for a spread sample: Content-Type, user metadata, SSE-KMS under the key."""

    expected: int
    landed: int = 0
    sampled: int = 0
    content_type: int = 0
    metadata: int = 0
    kms: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    @staticmethod
    def mark(good: int, sampled: int) -> str:
        if not sampled:
            return "-"
        return "yes" if good == sampled else ("no" if good == 0 else f"{good}/{sampled}")

    @property
    def complete(self) -> bool:
        return self.landed == self.expected


def check(s3: Any, bucket: str, data: DataSet, kms_key_arn: str, dest_prefix: str = "", sample: int = 24) -> Check:
    result = Check(expected=data.count)
    landed = set(keys(s3, bucket, dest_prefix + data.prefix))
    result.landed = sum(1 for s in data.samples if dest_prefix + s.key in landed)
    step = max(1, data.count // sample)
    chosen = data.samples[::step][:sample]

    def head(s: Sample) -> tuple[bool, bool, bool] | None:
        try:
            got = s3.head_object(Bucket=bucket, Key=dest_prefix + s.key)
        except ClientError:
            return None
        return (
            got.get("ContentType") == s.content_type,
            s.metadata.items() <= got.get("Metadata", {}).items(),  # rclone adds mtime/btime
            got.get("ServerSideEncryption") == "aws:kms" and got.get("SSEKMSKeyId") == kms_key_arn,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        for found in pool.map(head, chosen):
            result.sampled += 1
            if found:
                result.content_type += found[0]
                result.metadata += found[1]
                result.kms += found[2]
    return result
