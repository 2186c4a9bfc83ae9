"""What a run costs on AWS, estimated: the quantities it used (requests, GB-seconds, request units), counted
from what it did (its books: `runs report`) or would do (`estimate`), times the public prices they are billed
at. Estimates, not a bill: free tiers, savings plans and other regions' prices are not taken into account,
some quantities are counted from the run's totals with the rules below, and the prices are list prices
(us-east-1, on-demand) that `--price NAME=USD` overrides.

Counting rules (each cost line says which it used):
- S3: the copies' own requests (the books' `s3_requests`), priced at the PUT/COPY tier in server-side mode
  (the HEADs among them cost less: an upper bound); in stream mode half of them are GETs. The listing:
  one LIST per 1,000 keys listed (twice for a reconcile, which lists both buckets), plus one
  ListMultipartUploads per prefix.
- Lambda: the copier's time is the copies' summed time (`copy_ms`) over the copies in flight per invocation
  (CopyConcurrency, or fewer when an invocation gets fewer keys), plus a fixed overhead per invocation; the
  planner's, its planning time; the finalizer's, one pass every 5 minutes while the run lasts.
- SQS: messages = keys enqueued / KeysPerMessage, each sent, received and deleted, up to 10 messages per
  request (SendMessageBatch, the event source mapping's ReceiveMessage and DeleteMessageBatch).
- DynamoDB: the books open and settle each key in transactions of up to 99 keys and a counter item (a
  transactional write costs 2 write units per item); the planner and the copier read the manifest and the
  failure ledger for each key (strongly consistent: 1 read unit per item each); one manifest write per object
  copied; the run record's writes (creation, a heartbeat every 20 s of planning, the close).
- KMS: one request per object copied (the source's data key; S3 Bucket Keys, which the copies use on the
  consumer side, make the consumer key's requests negligible).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel

from hydration.models import RunKind
from hydration_cli.ops.stack import DeployedSettings

HEARTBEAT_SECONDS = 20  # the planner's heartbeat (HEARTBEAT_SECONDS), one run record write each
BOOKS_CHUNK = 99  # keys per books transaction (hydration.aws.books.CHUNK)
SQS_BATCH = 10  # messages per SendMessageBatch / ReceiveMessage / DeleteMessageBatch
PLANNER_INVOCATION_SECONDS = 840  # the planner checkpoints and continues in a new invocation about this often


class Price(BaseModel):
    """A public list price: `usd` per `per` `unit`."""

    name: str
    usd: float
    per: int
    unit: str
    what: str

    def of(self, quantity: float) -> float:
        return quantity * self.usd / self.per


# us-east-1, on-demand list prices (2025); override with --price NAME=USD (USD per the same `per` units)
PRICES: tuple[Price, ...] = (
    Price(name="s3-write", usd=0.005, per=1000, unit="requests", what="S3 Standard PUT, COPY, POST, LIST requests"),
    Price(name="s3-read", usd=0.0004, per=1000, unit="requests", what="S3 Standard GET, HEAD and other requests"),
    Price(name="lambda-gb-second", usd=0.0000166667, per=1, unit="GB-s", what="Lambda compute (x86)"),
    Price(name="lambda-requests", usd=0.20, per=1_000_000, unit="requests", what="Lambda invocations"),
    Price(name="sqs-requests", usd=0.40, per=1_000_000, unit="requests", what="SQS standard queue requests"),
    Price(name="dynamodb-write", usd=0.625, per=1_000_000, unit="WRU", what="DynamoDB on-demand write request units"),
    Price(name="dynamodb-read", usd=0.125, per=1_000_000, unit="RRU", what="DynamoDB on-demand read request units"),
    Price(name="kms-requests", usd=0.03, per=10_000, unit="requests", what="KMS requests"),
)


class Assumption(BaseModel):
    """A figure the model assumes (override with --assume NAME=VALUE)."""

    name: str
    value: float
    what: str


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        name="planner-keys-per-second",
        value=1000,
        what="keys the planner lists, selects and enqueues per second (512 MB: about a third of a vCPU)",
    ),
    Assumption(
        name="copy-request-ms",
        value=100,
        what="latency of one S3 copy request (CopyObject, UploadPartCopy; a GET or a PUT in stream mode)",
    ),
    Assumption(name="copy-mib-per-second", value=80, what="MiB one copy request moves per second"),
    Assumption(
        name="invocation-overhead-ms",
        value=250,
        what="a copier invocation's own work: manifest and ledger reads, books, manifest writes, deletes",
    ),
    Assumption(name="finalizer-pass-ms", value=500, what="one finalizer pass"),
    Assumption(name="finalizer-interval-seconds", value=300, what="the finalizer's schedule (rate(5 minutes))"),
    Assumption(name="prefixes", value=1, what="S3 prefixes the keys spread over (S3's request rates are per prefix)"),
)


@dataclass(frozen=True)
class Rates:
    """The prices and assumptions in force: the defaults with the operator's overrides."""

    prices: dict[str, Price]
    assumptions: dict[str, Assumption]

    @classmethod
    def of(cls, prices: dict[str, float] | None = None, assumptions: dict[str, float] | None = None) -> Rates:
        """Unknown names raise KeyError (the command turns it into a usage error)."""
        chosen = {p.name: p for p in PRICES}
        for name, usd in (prices or {}).items():
            chosen[name] = chosen[name].model_copy(update={"usd": usd})
        assumed = {a.name: a for a in ASSUMPTIONS}
        for name, value in (assumptions or {}).items():
            assumed[name] = assumed[name].model_copy(update={"value": value})
        return cls(chosen, assumed)

    def __getitem__(self, name: str) -> float:
        return self.assumptions[name].value


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
    s3_requests: int  # made by the copies
    copy_seconds: float  # the copies' time, summed
    planner_seconds: float
    run_seconds: float


class CostLine(BaseModel):
    service: str  # S3, Lambda, SQS, DynamoDB, KMS
    item: str
    quantity: float
    unit: str
    price: str  # a PRICES name
    usd: float
    basis: str  # how the quantity was counted


class Cost(BaseModel):
    lines: list[CostLine]
    total_usd: float
    prices: list[Price]
    assumptions: list[Assumption]


def copier_invocations(keys: int, settings: DeployedSettings) -> int:
    """Full batches: BatchSize messages of KeysPerMessage keys (the batching window may make them smaller)."""
    return math.ceil(math.ceil(keys / settings.keys_per_message) / settings.batch_size)


def cost_of(work: Work, settings: DeployedSettings, rates: Rates) -> Cost:
    lines: list[CostLine] = []

    def add(service: str, item: str, quantity: float, price: str, basis: str) -> None:
        chosen = rates.prices[price]
        lines.append(
            CostLine(
                service=service,
                item=item,
                quantity=quantity,
                unit=chosen.unit,
                price=price,
                usd=chosen.of(quantity),
                basis=basis,
            )
        )

    # S3
    if settings.copy_mode == "stream":
        reads = work.s3_requests // 2
        add("S3", "copy reads (GET)", reads, "s3-read", "half of the copies' requests (stream mode: GET, then PUT)")
        add("S3", "copy writes (PUT)", work.s3_requests - reads, "s3-write", "the other half of the copies' requests")
    else:
        add(
            "S3",
            "copy requests (COPY)",
            work.s3_requests,
            "s3-write",
            "the copies' requests, all at the COPY tier (the HEADs among them cost less)",
        )
    listings = 2 if work.kind is RunKind.RECONCILE else 1
    lists = listings * math.ceil(work.keys_listed / 1000) + work.prefixes
    add("S3", "listing (LIST)", lists, "s3-write", "1 per 1,000 keys listed, +1 ListMultipartUploads per prefix")

    # Lambda
    invocations = copier_invocations(work.keys_enqueued, settings)
    in_flight = max(1, min(settings.copy_concurrency, settings.keys_per_invocation, work.keys_enqueued or 1))
    copier_s = work.copy_seconds / in_flight + invocations * rates["invocation-overhead-ms"] / 1000
    passes = math.ceil(work.run_seconds / rates["finalizer-interval-seconds"]) if work.run_seconds else 0
    finalizer_s = passes * rates["finalizer-pass-ms"] / 1000
    planner_invocations = max(1, math.ceil(work.planner_seconds / PLANNER_INVOCATION_SECONDS))
    for name, seconds, memory, basis in (
        (
            "copier",
            copier_s,
            settings.copier_memory_mb,
            f"copy time / {in_flight} in flight + overhead x {invocations}",
        ),
        ("planner", work.planner_seconds, settings.planner_memory_mb, "planning time"),
        ("finalizer", finalizer_s, settings.finalizer_memory_mb, f"{passes} pass(es) while the run lasts"),
    ):
        add("Lambda", f"{name} compute", seconds * memory / 1024, "lambda-gb-second", f"{basis}, {memory} MB")
    add(
        "Lambda",
        "invocations",
        invocations + planner_invocations + passes,
        "lambda-requests",
        "copier batches, planner invocations, finalizer passes",
    )

    # SQS
    messages = math.ceil(work.keys_enqueued / settings.keys_per_message)
    add(
        "SQS",
        "send, receive, delete",
        3 * math.ceil(messages / SQS_BATCH),
        "sqs-requests",
        f"{messages:,} message(s) of {settings.keys_per_message} keys, 10 per request",
    )

    # DynamoDB
    transactions = math.ceil(work.keys_enqueued / BOOKS_CHUNK) + math.ceil(work.keys_settled / BOOKS_CHUNK)
    add(
        "DynamoDB",
        "books (open, settle)",
        2 * (work.keys_enqueued + work.keys_settled + transactions),
        "dynamodb-write",
        f"{transactions:,} transaction(s) of up to 99 keys + a counter, 2 units per item",
    )
    heartbeats = math.ceil(work.planner_seconds / HEARTBEAT_SECONDS)
    add(
        "DynamoDB",
        "manifest, ledger, run record",
        work.objects_transferred + work.objects_failed + heartbeats + 4,
        "dynamodb-write",
        "1 manifest write per object copied, 1 ledger write per failure, run record writes",
    )
    add(
        "DynamoDB",
        "manifest and ledger reads",
        2 * (work.keys_looked_up + work.keys_enqueued),
        "dynamodb-read",
        "both tables read for each key by the planner and by the copier",
    )

    # KMS
    add("KMS", "source data keys", work.objects_transferred, "kms-requests", "1 per object copied")

    return Cost(
        lines=lines,
        total_usd=sum(line.usd for line in lines),
        prices=list(rates.prices.values()),
        assumptions=list(rates.assumptions.values()),
    )
