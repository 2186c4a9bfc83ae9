"""Data sets A (many small objects), B (few large ones), L (one very large object) and C (keys for the planner
alone); seeding, fresh destination buckets, emptying, and the check that every object landed byte for byte
with its headers, metadata and the consumer's KMS key."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from tools.sample_data import Sample, seed

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


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


def dataset_l(size: int = GIB) -> DataSet:
    """One object far above the multipart threshold."""
    sample = Sample(key="l/huge.bin", size=size, content_type="application/x-bench-huge", metadata={"set": "l"})
    return DataSet("L", "l/", [sample])


def dataset_c(small: int = 10_000, large: int = 50_000) -> tuple[DataSet, DataSet]:
    """Keys of 0-1 bytes for the planner: `c/` holds `large` keys, of which `c/s/` holds the first `small`."""
    small = min(small, large)
    samples = [Sample(key=f"c/{'s' if i < small else 't'}/{i:06}", size=i % 2) for i in range(large)]
    return DataSet(f"C{small}", "c/s/", samples[:small]), DataSet(f"C{large}", "c/", samples)


def seed_dataset(s3: Any, bucket: str, data: DataSet, threads: int = 32) -> None:
    huge = [s for s in data.samples if s.size > 256 * MIB]
    if huge:
        for sample in huge:
            seed_streamed(s3, bucket, sample)
        return
    if data.bytes >= 64 * MIB:
        threads = min(threads, 8)  # bounded memory: whole bodies are built in memory
    seed(s3, bucket, data.samples, threads=threads)


class _Pattern(io.RawIOBase):
    """A sample's body as a stream, from an offset on (it is its key's 32-byte digest repeated), without
    holding it."""

    def __init__(self, key: str, size: int, generation: int = 0, start: int = 0) -> None:
        super().__init__()
        self._unit = Sample(key=key, size=32, generation=generation).body()
        self._size = size
        self._position = start

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        count = min(len(target), self._size - self._position)
        if count <= 0:
            return 0
        offset = self._position % len(self._unit)
        block = (self._unit[offset:] + self._unit * (count // len(self._unit) + 2))[:count]
        target[:count] = block
        self._position += count
        return count


def seed_streamed(s3: Any, bucket: str, sample: Sample, part_size: int = 64 * MIB) -> None:
    """A multipart upload from a stream (CRC64NVME full-object checksum, as S3 gives new objects)."""
    config = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=4)
    extra = {**sample.put_args(), "ChecksumAlgorithm": "CRC64NVME"}
    s3.upload_fileobj(
        io.BufferedReader(_Pattern(sample.key, sample.size, sample.generation), 8 * MIB),
        bucket,
        sample.key,
        ExtraArgs=extra,
        Config=config,
    )


# --------------------------------------------------------------------------- buckets


def listed(s3: Any, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def keys(s3: Any, bucket: str, prefix: str = "") -> Iterator[str]:
    for item in listed(s3, bucket, prefix):
        yield item["Key"]


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


def _md5(sample: Sample, start: int = 0, length: int | None = None) -> bytes:
    """MD5 of a sample's body, or of a range of it (streamed: a body of a GiB is never held)."""
    left = sample.size - start if length is None else min(length, sample.size - start)
    # the body repeats every 32 bytes: a range's digest depends on where in the pattern it starts, and its length
    return _md5_of(sample.key, sample.generation, start % 32, left)


@cache
def _md5_of(key: str, generation: int, phase: int, length: int) -> bytes:
    stream = _Pattern(key, phase + length, generation, start=phase)
    digest = hashlib.md5()  # noqa: S324 - S3's ETag, not a security use
    chunk = bytearray(min(8 * MIB, max(length, 1)))
    left = length
    while left > 0:
        n = stream.readinto(memoryview(chunk)[: min(len(chunk), left)])
        digest.update(memoryview(chunk)[:n])
        left -= n
    return digest.digest()


def expected_etag(sample: Sample, parts: int = 1, part_size: int = 0) -> str:
    """The ETag S3 gives these bytes: their MD5, or for `parts` parts of `part_size`, the MD5 of the parts'
    MD5s and the part count (LocalStack's ETags are these under SSE-KMS too; AWS's are not)."""
    if parts <= 1:
        return f'"{_md5(sample).hex()}"'
    digests = b"".join(_md5(sample, i * part_size, part_size) for i in range(parts))
    return f'"{hashlib.md5(digests).hexdigest()}-{parts}"'  # noqa: S324


@dataclass
class Check:
    """Every object: landed, with the bytes it should have (ETag against the sample's MD5, per part layout),
    and, on the runs that check headers, its Content-Type, user metadata and SSE-KMS under the key."""

    expected: int
    landed: int = 0
    bytes_ok: int = 0
    sampled: int = 0  # objects whose headers were read (HEAD): all of them, or none
    content_type: int = 0
    metadata: int = 0
    kms: int = 0
    problems: list[str] = field(default_factory=list)

    @staticmethod
    def mark(good: int, sampled: int) -> str:
        if not sampled:
            return "-"
        return "yes" if good == sampled else ("no" if good == 0 else f"{good}/{sampled}")

    @property
    def complete(self) -> bool:
        return self.landed == self.expected == self.bytes_ok


def check(s3: Any, bucket: str, data: DataSet, kms_key_arn: str, headers: bool = True) -> Check:
    result = Check(expected=data.count)
    found = {item["Key"]: item for item in listed(s3, bucket, data.prefix)}
    wanted = [s for s in data.samples if s.key in found]
    result.landed = len(wanted)

    def one(s: Sample) -> tuple[bool, tuple[bool, bool, bool] | None]:
        etag = found[s.key]["ETag"]
        parts = int(etag.strip('"').rpartition("-")[2]) if "-" in etag else 1
        part_size = 0
        got: dict[str, Any] | None = None
        try:
            if parts > 1:  # the first part's size gives the layout the copy used
                part_size = s3.head_object(Bucket=bucket, Key=s.key, PartNumber=1)["ContentLength"]
            if headers:
                got = s3.head_object(Bucket=bucket, Key=s.key)
        except ClientError:
            return False, None
        same = etag == expected_etag(s, parts, part_size) and found[s.key]["Size"] == s.size
        if got is None:
            return same, None
        return same, (
            got.get("ContentType") == s.content_type,
            s.metadata.items() <= got.get("Metadata", {}).items(),  # rclone adds mtime/btime
            got.get("ServerSideEncryption") == "aws:kms" and got.get("SSEKMSKeyId") == kms_key_arn,
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        for sample, (same, heads) in zip(wanted, pool.map(one, wanted), strict=True):
            result.bytes_ok += same
            if not same and len(result.problems) < 5:
                result.problems.append(f"{sample.key}: bytes differ")
            if heads is not None:
                result.sampled += 1
                result.content_type += heads[0]
                result.metadata += heads[1]
                result.kms += heads[2]
    return result
