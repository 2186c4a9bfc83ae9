"""What copying the same objects would cost with AWS's own services, at the same prices
(hydration_cli.ops.prices): S3 Batch Replication and DataSync; and the KMS rule every way of copying shares.

- KMS: without S3 Bucket Keys, a copy asks KMS twice (the source's data key, the copy's); with them (both
  templates enable them, and so would a replication or DataSync destination) S3 asks for a bucket-level key
  per requester and period instead of per object: counted as `1 - bucket-key-reduction` of those requests.
- S3 Batch Replication, for the same objects: a job, the objects processed, one replication PUT each, KMS;
  per million objects: one job, and a million objects.
- DataSync (Basic mode): the GB copied, a LIST per 1,000 keys on each side, per object a HEAD and a GET of the
  source, a PUT and a verifying HEAD of the copy, KMS (a lower bound: its full verification reads more).
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from hydration_cli.ops.prices import CostLine, Lines, Rates, per_million

GIB = 1024**3
KMS_BASIS = "2 per object copied (source and copy), less what S3 Bucket Keys save (bucket-key-reduction)"


class PeerCost(BaseModel):
    """What another way of copying the same objects costs."""

    name: str
    lines: list[CostLine]
    total_usd: float
    per_million_objects_usd: float | None


def kms_requests(objects: int, rates: Rates) -> float:
    return 2 * objects * (1 - rates["bucket-key-reduction"])


def batch_replication(objects: int, rates: Rates) -> PeerCost:
    out = Lines(rates)
    out.add("S3", "Batch Operations job", 1, "batch-operations-job", "one Batch Replication job")
    out.add("S3", "Batch Operations objects", objects, "batch-operations-objects", "the objects copied")
    out.add("S3", "replication PUTs", objects, "s3-write", "one replication request per object")
    out.add("KMS", "data keys (S3 Bucket Keys)", kms_requests(objects, rates), "kms-requests", KMS_BASIS)
    return _peer("S3 Batch Replication", out, objects, fixed=out.lines[0].usd)


def datasync(objects: int, nbytes: int, keys_listed: int, rates: Rates) -> PeerCost:
    out = Lines(rates)
    out.add("DataSync", "data copied", nbytes / GIB, "datasync-gb", "the bytes copied (Basic mode)")
    out.add("S3", "LIST", 2 * math.ceil(keys_listed / 1000), "s3-write", "both buckets listed")
    out.add("S3", "HEAD, GET", 3 * objects, "s3-read", "a HEAD and a GET of the source, a verifying HEAD of the copy")
    out.add("S3", "PUT", objects, "s3-write", "one PUT per object")
    out.add("KMS", "data keys (S3 Bucket Keys)", kms_requests(objects, rates), "kms-requests", KMS_BASIS)
    return _peer("DataSync (Basic mode)", out, objects)


def _peer(name: str, out: Lines, objects: int, fixed: float = 0.0) -> PeerCost:
    """Per million objects: what scales with the objects, scaled to a million, and what a run pays once (a
    Batch Operations job), once."""
    scaled = per_million(out.total - fixed, objects)
    return PeerCost(
        name=name,
        lines=out.lines,
        total_usd=out.total,
        per_million_objects_usd=scaled + fixed if scaled is not None else None,
    )
