"""What a run costs on AWS, estimated: the quantities it used (requests by kind, GB-seconds, request units),
counted from what it did (its books: `runs report`, `make bench`) or would do (`estimate`), times the public
prices they are billed at (hydration_cli.ops.prices), per run and per million objects, side by side with what
S3 Batch Replication and DataSync would cost for the same work. Estimates, not a bill: free tiers, savings
plans and other regions' prices are not taken into account, and some quantities follow the rules below.

Counting rules (each cost line says which it used):
- S3: the copies' own requests (the books' `s3_requests`): reads (the pinned HEAD, or GET in stream mode) at
  the GET tier, one per object copied (never more than leaves one write per object), the rest at the
  PUT/COPY tier (stream mode: half each). The listing: one LIST per 1,000 keys listed (twice for a reconcile,
  which lists both buckets), plus one ListMultipartUploads per prefix.
- Lambda: the copier's time is the copies' summed time (`copy_ms`) over the copies in flight per invocation
  (CopyConcurrency, or fewer when an invocation gets fewer keys), plus a fixed overhead per invocation; the
  planner's, its planning time; the finalizer's, one pass every 5 minutes while the run lasts.
- SQS: one message per sheet (KeysPerMessage keys), sent, received and deleted up to 10 per request.
- DynamoDB, the books at their write units (1 per KB of the item started, twice in a transaction, as the books'
  writes all are): each sheet opened (`sheet_bytes` / `sheets`: its size as DynamoDB counts it) and each
  claim; each sheet settle (its size with the outcomes written); each transaction's counter item and each
  planning checkpoint (the run item, taken as under 1 KB). Then one manifest write per object copied, one
  ledger write per failure, the run record's few writes; reads: the planner's manifest read per key looked
  up, the copier's manifest and ledger reads per key (eventually consistent: half a unit per item).
- KMS, S3 Batch Replication and DataSync for the same objects: hydration_cli.ops.peers.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from hydration.models import RunKind
from hydration_cli.ops.peers import KMS_BASIS, PeerCost, batch_replication, datasync, kms_requests
from hydration_cli.ops.prices import ASSUMPTIONS, PRICES, Assumption, CostLine, Lines, Price, Rates, per_million
from hydration_cli.ops.stack import DeployedSettings

__all__ = ["ASSUMPTIONS", "PRICES", "Assumption", "Cost", "CostLine", "Price", "Rates", "Work", "cost_of"]

SQS_BATCH = 10  # messages per SendMessageBatch / ReceiveMessage / DeleteMessageBatch
PLANNER_INVOCATION_SECONDS = 840  # the planner checkpoints and continues in a new invocation about this often
KB = 1024
EVENTUAL_READ_UNITS = 0.5  # an eventually consistent read of an item under 4 KB (StateStores.lookup, held)
# A sheet's size (hydration.aws.sheets) as DynamoDB counts it: its fixed attributes, and per key its entry
# besides the key itself (size, ETag, LastModified, list overheads); once settled, each slot in the `settled`
# and `o_<outcome>` lists, those lists' names and the time of the last settle. tests/unit/test_costs.py
# checks them against the encoder.
SHEET_BYTES = 119
ENTRY_BYTES = 41
OUTCOME_BYTES = 6
SETTLED_BYTES = 44
SHEETS_PER_OPEN = 97  # planner.enqueue.MAX_ACTIONS: sheets a planning transaction opens at most
RUN_RECORD_WRITES = 10  # created (with the lock, in a transaction), claimed, closed (with the lock's release)


class Work(BaseModel):
    """What a run did (from its books) or would do (estimated): the cost model's input."""

    kind: RunKind
    prefixes: int = 1
    keys_listed: int
    keys_looked_up: int  # selected keys the planner looked up in the manifest (enqueued + unchanged)
    keys_enqueued: int
    keys_settled: int
    objects_transferred: int
    objects_failed: int = 0
    bytes_transferred: int = 0
    s3_requests: int  # made by the copies
    copy_seconds: float  # the copies' time, summed
    planner_seconds: float  # planning's wall time
    planner_workers: float = 1.0  # planner workers busy at once meanwhile (their compute: the product)
    run_seconds: float
    sheets: int = 0  # the books' items (a run from before sheets has none: counted per message then)
    sheet_bytes: int = 0
    sheet_settles: int = 0
    claims: int = 0
    book_transactions: int = 0
    checkpoints: int = 0


class Cost(BaseModel):
    lines: list[CostLine]
    total_usd: float
    objects: int  # copied: what "per million objects" divides by
    per_million_objects_usd: float | None
    dynamodb_write_units: float
    peers: list[PeerCost]
    prices: list[Price]
    assumptions: list[Assumption]


def copier_invocations(keys: int, settings: DeployedSettings) -> int:
    """Full batches: BatchSize messages of KeysPerMessage keys (the batching window may make them smaller)."""
    return math.ceil(math.ceil(keys / settings.keys_per_message) / settings.batch_size)


def sheet_bytes_of(keys: int, key_bytes: float) -> float:
    """A sheet of `keys` keys of `key_bytes` bytes, opened (for an estimate: a run's books count the real ones)."""
    return SHEET_BYTES + keys * (key_bytes + ENTRY_BYTES)


def units(size: float) -> int:
    return max(1, math.ceil(size / KB))


def cost_of(work: Work, settings: DeployedSettings, rates: Rates) -> Cost:
    out = Lines(rates)
    _s3(out, work, settings)
    _lambda(out, work, settings, rates)
    messages = work.sheets or math.ceil(work.keys_enqueued / settings.keys_per_message)
    out.add(
        "SQS",
        "send, receive, delete",
        3 * math.ceil(messages / SQS_BATCH),
        "sqs-requests",
        f"{messages:,} message(s) (one a sheet, up to {settings.keys_per_message} keys), 10 per request",
    )
    _dynamodb(out, work, settings, rates)
    kms = kms_requests(work.objects_transferred, rates)
    out.add("KMS", "data keys (S3 Bucket Keys)", kms, "kms-requests", KMS_BASIS)
    objects = work.objects_transferred
    return Cost(
        lines=out.lines,
        total_usd=out.total,
        objects=objects,
        per_million_objects_usd=per_million(out.total, objects),
        dynamodb_write_units=sum(line.quantity for line in out.lines if line.price == "dynamodb-write"),
        peers=[
            batch_replication(work.objects_transferred, rates),
            datasync(work.objects_transferred, work.bytes_transferred, work.keys_listed, rates),
        ],
        prices=list(rates.prices.values()),
        assumptions=list(rates.assumptions.values()),
    )


def _s3(out: Lines, work: Work, settings: DeployedSettings) -> None:
    if settings.copy_mode == "stream":
        reads = work.s3_requests // 2
        basis = "half of the copies' requests (stream mode: GET, then PUT)"
    else:
        reads = max(0, min(work.objects_transferred, work.s3_requests - work.objects_transferred))
        basis = "the pinned HEAD of each object copied"
    out.add(
        "S3", "copies: PUT, COPY, UploadPartCopy", work.s3_requests - reads, "s3-write", "the copies' other requests"
    )
    out.add("S3", "copies: HEAD, GET", reads, "s3-read", basis)
    listings = 2 if work.kind is RunKind.RECONCILE else 1
    lists = listings * math.ceil(work.keys_listed / 1000) + work.prefixes
    out.add("S3", "listing (LIST)", lists, "s3-write", "1 per 1,000 keys listed, +1 ListMultipartUploads per prefix")


def _lambda(out: Lines, work: Work, settings: DeployedSettings, rates: Rates) -> None:
    invocations = copier_invocations(work.keys_enqueued, settings)
    in_flight = max(1, min(settings.copy_concurrency, settings.keys_per_invocation, work.keys_enqueued or 1))
    copier_s = work.copy_seconds / in_flight + invocations * rates["invocation-overhead-ms"] / 1000
    passes = math.ceil(work.run_seconds / rates["finalizer-interval-seconds"]) if work.run_seconds else 0
    finalizer_s = passes * rates["finalizer-pass-ms"] / 1000
    worker_seconds = work.planner_seconds * work.planner_workers
    planner_invocations = max(1, math.ceil(worker_seconds / PLANNER_INVOCATION_SECONDS))
    for name, seconds, memory, basis in (
        (
            "copier",
            copier_s,
            settings.copier_memory_mb,
            f"copy time / {in_flight} in flight + overhead x {invocations}",
        ),
        (
            "planner workers",
            worker_seconds,
            settings.planner_worker_memory_mb,
            f"planning time x {work.planner_workers:g} worker(s)",
        ),
        ("finalizer", finalizer_s, settings.finalizer_memory_mb, f"{passes} pass(es) while the run lasts"),
    ):
        out.add("Lambda", f"{name} compute", seconds * memory / 1024, "lambda-gb-second", f"{basis}, {memory} MB")
    out.add(
        "Lambda",
        "invocations",
        invocations + planner_invocations + passes,
        "lambda-requests",
        "copier batches, planner invocations, finalizer passes",
    )


def _dynamodb(out: Lines, work: Work, settings: DeployedSettings, rates: Rates) -> None:
    sheets = work.sheets or math.ceil(work.keys_enqueued / settings.keys_per_message)
    per_sheet = work.keys_enqueued / sheets if sheets else 0.0
    size = work.sheet_bytes / work.sheets if work.sheets else sheet_bytes_of(round(per_sheet), rates["key-bytes"])
    opened = 2 * (sheets * units(size) + work.claims) if sheets else 0
    out.add(
        "DynamoDB",
        "books: sheets opened",
        opened,
        "dynamodb-write",
        f"{sheets:,} sheet(s) of {size:,.0f} bytes ({units(size)} unit(s)), {work.claims:,} claim(s); 2 per unit",
    )
    settles = work.sheet_settles or sheets
    settled_size = size + per_sheet * OUTCOME_BYTES + SETTLED_BYTES
    out.add(
        "DynamoDB",
        "books: sheets settled",
        2 * settles * units(settled_size) if sheets else 0,
        "dynamodb-write",
        f"{settles:,} conditional update(s) of a sheet ({units(settled_size)} unit(s) once settled); 2 per unit",
    )
    opens = math.ceil(sheets / SHEETS_PER_OPEN)
    transactions = work.book_transactions or opens + copier_invocations(work.keys_settled, settings)
    checkpoints = work.checkpoints or opens
    out.add(
        "DynamoDB",
        "books: counters, checkpoints",
        2 * (transactions + checkpoints),
        "dynamodb-write",
        f"a counter item in each of {transactions:,} transaction(s), {checkpoints:,} planning checkpoint(s)",
    )
    out.add(
        "DynamoDB",
        "manifest, ledger, run record",
        work.objects_transferred + work.objects_failed + RUN_RECORD_WRITES,
        "dynamodb-write",
        "1 manifest write per object copied, 1 ledger write per failure, run record writes",
    )
    out.add(
        "DynamoDB",
        "manifest and ledger reads",
        EVENTUAL_READ_UNITS * (work.keys_looked_up + 2 * work.keys_enqueued),
        "dynamodb-read",
        "the planner's manifest read per key looked up, the copier's manifest and ledger reads per key "
        "(eventually consistent: half a unit each)",
    )
