"""The prices and assumptions every cost estimate uses (`runs report`, `estimate`, `make bench`), in one place.

Prices are AWS's public list prices for us-east-1 (on-demand, no free tier), as published on the page each one
names (`source`) when they were last checked (PRICES_CHECKED). They are not fetched: `--price NAME=USD`
overrides any of them (USD per the same `per` units), and the peers' prices (S3 Batch Replication, DataSync)
are here too, so that a comparison uses the same figures as the pipeline's own estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

PRICES_CHECKED = "2025 (list prices, us-east-1; not re-checked since)"
S3_PRICING = "https://aws.amazon.com/s3/pricing/"


class Price(BaseModel):
    """A public list price: `usd` per `per` `unit`."""

    name: str
    usd: float
    per: int
    unit: str
    what: str
    source: str = ""

    def of(self, quantity: float) -> float:
        return quantity * self.usd / self.per


PRICES: tuple[Price, ...] = (
    Price(
        name="s3-write",
        usd=0.005,
        per=1000,
        unit="requests",
        what="S3 Standard PUT, COPY, POST, LIST requests (UploadPartCopy, CreateMultipartUpload, ListParts too)",
        source=S3_PRICING,
    ),
    Price(
        name="s3-read",
        usd=0.0004,
        per=1000,
        unit="requests",
        what="S3 Standard GET, HEAD and all other requests",
        source=S3_PRICING,
    ),
    Price(
        name="lambda-gb-second",
        usd=0.0000166667,
        per=1,
        unit="GB-s",
        what="Lambda compute (x86)",
        source="https://aws.amazon.com/lambda/pricing/",
    ),
    Price(
        name="lambda-requests",
        usd=0.20,
        per=1_000_000,
        unit="requests",
        what="Lambda invocations",
        source="https://aws.amazon.com/lambda/pricing/",
    ),
    Price(
        name="sqs-requests",
        usd=0.40,
        per=1_000_000,
        unit="requests",
        what="SQS standard queue requests (each 64 KB of payload a request)",
        source="https://aws.amazon.com/sqs/pricing/",
    ),
    Price(
        name="dynamodb-write",
        usd=0.625,
        per=1_000_000,
        unit="WRU",
        what="DynamoDB on-demand write request units (1 per KB written; 2 in a transaction)",
        source="https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    Price(
        name="dynamodb-read",
        usd=0.125,
        per=1_000_000,
        unit="RRU",
        what="DynamoDB on-demand read request units (1 per 4 KB read consistently, half that eventually)",
        source="https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    Price(
        name="kms-requests",
        usd=0.03,
        per=10_000,
        unit="requests",
        what="KMS requests",
        source="https://aws.amazon.com/kms/pricing/",
    ),
    Price(
        name="batch-operations-objects",
        usd=1.00,
        per=1_000_000,
        unit="objects",
        what="S3 Batch Operations objects processed (S3 Batch Replication is a Batch Operations job)",
        source=S3_PRICING,
    ),
    Price(
        name="batch-operations-job",
        usd=0.25,
        per=1,
        unit="jobs",
        what="S3 Batch Operations jobs",
        source=S3_PRICING,
    ),
    Price(
        name="datasync-gb",
        usd=0.0125,
        per=1,
        unit="GB",
        what="AWS DataSync data copied (Basic mode tasks; S3 requests billed besides)",
        source="https://aws.amazon.com/datasync/pricing/",
    ),
)


class Assumption(BaseModel):
    """A figure the model assumes (override with --assume NAME=VALUE)."""

    name: str
    value: float
    what: str


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        name="planner-keys-per-second",
        value=1500,
        what="keys one planner worker lists, selects and enqueues per second (1,769 MB: one vCPU; the bench's "
        "enqueue pass measures 1,671 a second sharing 2 cores with LocalStack)",
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
    Assumption(
        name="key-bytes",
        value=30,
        what="an object key's length in bytes (a books sheet of ten 30-byte keys is one write unit; of 100, two)",
    ),
    Assumption(
        name="bucket-key-reduction",
        value=0.99,
        what="share of KMS requests that S3 Bucket Keys (both templates enable them) save: AWS documents 'up to "
        "99 percent' (docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html); set 0 without them",
    ),
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


class CostLine(BaseModel):
    service: str  # S3, Lambda, SQS, DynamoDB, KMS
    item: str
    quantity: float
    unit: str
    price: str  # a PRICES name
    usd: float
    basis: str  # how the quantity was counted


class Lines:
    """Priced quantities, line by line."""

    def __init__(self, rates: Rates) -> None:
        self.rates = rates
        self.lines: list[CostLine] = []

    def add(self, service: str, item: str, quantity: float, price: str, basis: str) -> None:
        chosen = self.rates.prices[price]
        self.lines.append(
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

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


def per_million(total: float, objects: int) -> float | None:
    return total * 1_000_000 / objects if objects else None
