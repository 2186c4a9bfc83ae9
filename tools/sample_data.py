"""Sample data for the demo, the end-to-end tests and the benchmark: objects with headers, metadata, tags.

Every object is derived from its key (deterministic bytes), so a verifier needs only the key list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    key: str
    size: int
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    generation: int = 0  # bump to produce different bytes for the same key

    def body(self) -> bytes:
        seed = hashlib.sha256(f"{self.key}#{self.generation}".encode()).digest()
        whole, rest = divmod(self.size, len(seed))
        return seed * whole + seed[:rest]

    def put_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"ContentType": self.content_type, "Metadata": self.metadata}
        if self.tags:
            args["Tagging"] = urlencode(self.tags)
        return args


def demo_set(count: int = 300, big_bytes: int = 9 * MIB, prefix: str = "demo/") -> list[Sample]:
    """A few hundred objects: small JSON and text, zero-byte, awkward key names, one above the multipart
    threshold; each with a content type, user metadata and tags."""
    awkward = ["with space.txt", "plus+sign.txt", "percent%41.txt", "Zürich_δ_漢字.txt", "a/deeply/nested/key.txt"]
    samples = [
        Sample(
            key=f"{prefix}big/large-object.bin",
            size=big_bytes,
            content_type="application/octet-stream",
            metadata={"kind": "large"},
            tags={"size-class": "large"},
        ),
        Sample(key=f"{prefix}empty/zero-bytes.bin", size=0, metadata={"kind": "empty"}, tags={"size-class": "zero"}),
    ]
    samples += [
        Sample(
            key=f"{prefix}awkward/{name}",
            size=64 + i,
            content_type="text/plain; charset=utf-8",
            metadata={"kind": "awkward"},
        )
        for i, name in enumerate(awkward)
    ]
    for i in range(max(0, count - len(samples))):
        kind = "json" if i % 2 else "text"
        samples.append(
            Sample(
                key=f"{prefix}{kind}/{i // 100:02}/object-{i:05}.{kind if kind == 'json' else 'txt'}",
                size=512 + (i * 37) % 15_000,
                content_type="application/json" if kind == "json" else "text/plain",
                metadata={"kind": kind, "batch": str(i // 100)},
                tags={"team": "data", "seq": str(i % 7)},
            )
        )
    return samples


def seed(s3: Any, bucket: str, samples: Iterable[Sample], threads: int = 16) -> int:
    """Put every sample into the bucket; returns the bytes written."""
    samples = list(samples)

    def put(sample: Sample) -> int:
        s3.put_object(Bucket=bucket, Key=sample.key, Body=sample.body(), **sample.put_args())
        return sample.size

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(put, samples))


def verify(s3: Any, bucket: str, samples: Iterable[Sample], kms_key_arn: str, dest_prefix: str = "") -> list[str]:
    """Every sample in the bucket, byte for byte, SSE-KMS under the key, with its headers and tags.
    Returns the problems found (empty: all good)."""

    def check(sample: Sample) -> list[str]:
        key = dest_prefix + sample.key
        try:
            got = s3.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            return [f"{key}: {type(exc).__name__}: {exc}"]
        problems = []
        if got["Body"].read() != sample.body():
            problems.append(f"{key}: bytes differ")
        if got.get("ServerSideEncryption") != "aws:kms" or got.get("SSEKMSKeyId") != kms_key_arn:
            problems.append(f"{key}: encrypted with {got.get('SSEKMSKeyId')!r}, not the consumer key")
        if got.get("ContentType") != sample.content_type:
            problems.append(f"{key}: content type {got.get('ContentType')!r}")
        if got.get("Metadata", {}) != sample.metadata:
            problems.append(f"{key}: metadata {got.get('Metadata')!r}")
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
        if tags != sample.tags:
            problems.append(f"{key}: tags {tags!r}")
        return problems

    with ThreadPoolExecutor(max_workers=16) as pool:
        return [p for found in pool.map(check, list(samples)) for p in found]
