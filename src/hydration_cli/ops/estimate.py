"""`estimate`: before a first full hydration, how long it takes on AWS and what it costs, for the deployed
concurrency and S3's, Lambda's and SQS's limits, from a dry-run listing or from given totals.

The time model, per object of the average size (every object is taken to be that size):
- requests: server-side, a pinned HEAD and 1 CopyObject (a multipart copy: CreateMultipartUpload, one
  UploadPartCopy per part, CompleteMultipartUpload, and a HEAD); stream mode GETs instead;
- time: `copy-request-ms` per request round (a multipart copy has PARTS_IN_FLIGHT parts in flight) plus
  its bytes at `copy-mib-per-second` per request (twice in stream mode: in and out of the copier);
- copies in flight: MaximumConcurrency copier invocations x CopyConcurrency copies each (fewer when an
  invocation gets fewer keys: BatchSize x KeysPerMessage), each invocation adding `invocation-overhead-ms`;
- S3's request rates per prefix bound the copy rate from above; each of PlannerConcurrency planner workers
  lists and enqueues its shard at `planner-keys-per-second` (a run is cut into more shards than workers, so
  all of them are busy until the end), and copies start as soon as the first messages are on the queue, so the run
  takes the longer of planning and copying, plus one copy.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel

from hydration.models import PlannerRequest, RunKind, RunStatus
from hydration_cli.deployment import Deployment
from hydration_cli.errors import RunNotStartedError
from hydration_cli.ops.costs import Cost, Rates, Work, copier_invocations, cost_of
from hydration_cli.ops.stack import MIB, DeployedSettings, deployed_settings
from hydration_cli.ops.trigger import ask_planner
from hydration_cli.ops.watch import Polling
from hydration_cli.outcome import Result

S3_WRITES_PER_SECOND = 3500  # PUT/COPY/POST/DELETE per second per partitioned prefix
S3_READS_PER_SECOND = 5500  # GET/HEAD per second per partitioned prefix
SQS_IN_FLIGHT_MAX = 120_000  # messages in flight on a standard queue
LAMBDA_ACCOUNT_CONCURRENCY = 1000  # the default account quota
SQS_SCALE_UP_PER_MINUTE = 300  # concurrent invocations the SQS event source adds a minute
PARTS_IN_FLIGHT = 4  # the copier's PARTS_IN_FLIGHT default


class ObjectShape(BaseModel):
    """An object of the average size, as the copier copies it."""

    size: float
    multipart: bool
    parts: int
    writes: int  # S3 requests at the PUT/COPY tier
    reads: int  # S3 requests at the GET/HEAD tier
    seconds: float  # one copy, start to end


class TimeEstimate(BaseModel):
    copies_in_flight: int
    planning_seconds: float
    copying_seconds: float
    total_seconds: float
    bound: str  # what limits the run: planning, the copier's concurrency, or S3's request rate
    objects_per_second: float
    bytes_per_second: float


class Estimate(Result):
    source: Literal["dry-run", "given"]
    objects: int
    bytes: int
    keys_listed: int
    settings: DeployedSettings
    shape: ObjectShape
    time: TimeEstimate
    limits: list[str]
    notes: list[str]
    cost: Cost


def from_dry_run(deployment: Deployment, polling: Polling) -> tuple[int, int, int]:
    """(objects, bytes, keys listed) a full run would copy into an empty consumer bucket: the planner's dry run
    (its workers list the bucket side by side, as a run's do)."""
    plan = ask_planner(deployment, PlannerRequest(full=True, dry_run=True), polling)
    if plan.status != RunStatus.COMPLETED:
        raise RunNotStartedError(f"the dry run {plan.run_id} did not finish listing: {plan.message}")
    return plan.keys_enqueued, plan.bytes_enqueued, plan.keys_listed


def shape_of(objects: int, nbytes: int, settings: DeployedSettings, rates: Rates) -> ObjectShape:
    size = nbytes / objects if objects else 0.0
    stream = settings.copy_mode == "stream"
    latency = rates["copy-request-ms"] / 1000
    throughput = rates["copy-mib-per-second"] * MIB
    passes = 2 if stream else 1  # stream mode moves the bytes in and out of the copier
    if size >= settings.multipart_threshold_bytes:
        parts = math.ceil(size / settings.part_size_bytes)
        rounds = 2 + math.ceil(parts / PARTS_IN_FLIGHT)  # create, the parts PARTS_IN_FLIGHT at a time, complete
        seconds = rounds * latency + passes * size / (throughput * min(PARTS_IN_FLIGHT, parts))
        return ObjectShape(
            size=size,
            multipart=True,
            parts=parts,
            writes=parts + 2,
            reads=1 + (parts if stream else 0),
            seconds=seconds,
        )
    return ObjectShape(
        size=size,
        multipart=False,
        parts=1,
        writes=1,
        reads=1,  # the pinned HEAD (server-side) or GET (stream) that reads the source's checksum
        seconds=passes * (latency + size / throughput),
    )


def time_of(
    objects: int, keys_listed: int, shape: ObjectShape, settings: DeployedSettings, rates: Rates
) -> TimeEstimate:
    per_invocation = min(settings.copy_concurrency, settings.keys_per_invocation)
    in_flight = max(1, min(settings.maximum_concurrency * per_invocation, objects))
    overhead = (
        copier_invocations(objects, settings) * rates["invocation-overhead-ms"] / 1000 / settings.maximum_concurrency
    )
    by_concurrency = objects * shape.seconds / in_flight + overhead
    prefixes = max(1.0, rates["prefixes"])
    by_s3 = max(
        objects * shape.writes / (S3_WRITES_PER_SECOND * prefixes),
        objects * shape.reads / (S3_READS_PER_SECOND * prefixes),
    )
    copying = max(by_concurrency, by_s3)
    planning = keys_listed / (rates["planner-keys-per-second"] * settings.planner_concurrency)
    if planning > copying:
        bound = "planning (listing and enqueueing): copies keep pace with the planner"
    elif by_s3 > by_concurrency:
        bound = f"S3's request rate per prefix ({S3_WRITES_PER_SECOND:,} PUT/COPY per second x {prefixes:g})"
    else:
        bound = f"the copier's concurrency ({in_flight:,} copies in flight)"
    total = max(planning, copying) + (shape.seconds if objects else 0.0)
    return TimeEstimate(
        copies_in_flight=in_flight,
        planning_seconds=planning,
        copying_seconds=copying,
        total_seconds=total,
        bound=bound,
        objects_per_second=objects / copying if copying else 0.0,
        bytes_per_second=objects * shape.size / copying if copying else 0.0,
    )


def _limits(settings: DeployedSettings, rates: Rates) -> list[str]:
    in_flight = settings.maximum_concurrency * settings.batch_size
    return [
        f"S3: {S3_WRITES_PER_SECOND:,} PUT/COPY/POST/DELETE and {S3_READS_PER_SECOND:,} GET/HEAD requests per second "
        f"per prefix, assumed {rates['prefixes']:g} prefix(es) (S3 scales a busy prefix up gradually, answering "
        "SlowDown meanwhile, which the copier retries)",
        f"Lambda: {settings.maximum_concurrency} copier invocations at once (MaximumConcurrency; the account's "
        f"concurrency, {LAMBDA_ACCOUNT_CONCURRENCY:,} by default, bounds all functions together); the SQS event "
        f"source adds up to {SQS_SCALE_UP_PER_MINUTE} concurrent invocations a minute",
        f"SQS: a standard queue's throughput is not a limit here; at most {SQS_IN_FLIGHT_MAX:,} messages in flight "
        f"({in_flight:,} here: MaximumConcurrency x BatchSize)",
        f"copier timeout {settings.copier_timeout_seconds} s per batch (CopierTimeout)",
    ]


def _notes(shape: ObjectShape, time: TimeEstimate, settings: DeployedSettings, rates: Rates) -> list[str]:
    notes = []
    per_invocation = min(settings.copy_concurrency, settings.keys_per_invocation)
    batch_seconds = (
        settings.keys_per_invocation * shape.seconds / per_invocation + rates["invocation-overhead-ms"] / 1000
    )
    if batch_seconds > settings.copier_timeout_seconds:
        notes.append(
            f"a full batch ({settings.keys_per_invocation:,} keys) takes about {batch_seconds:,.0f} s, more than the "
            f"copier's timeout ({settings.copier_timeout_seconds} s): the copier hands the rest on, but a smaller "
            "BatchSize or KeysPerMessage fits better"
        )
    if settings.maximum_concurrency * settings.batch_size > SQS_IN_FLIGHT_MAX:
        notes.append("MaximumConcurrency x BatchSize exceeds SQS's in-flight limit: the copier cannot use it all")
    if settings.maximum_concurrency > LAMBDA_ACCOUNT_CONCURRENCY:
        notes.append("MaximumConcurrency exceeds the default account concurrency: ask for a higher quota")
    if settings.maximum_concurrency > SQS_SCALE_UP_PER_MINUTE and time.copying_seconds < 600:
        notes.append("the event source needs minutes to scale to MaximumConcurrency: a short run takes longer")
    return notes


def estimate(
    deployment: Deployment,
    rates: Rates,
    *,
    objects: int | None = None,
    nbytes: int | None = None,
    polling: Polling | None = None,
) -> Estimate:
    """From the given totals, or (none given) from the planner's dry run of a full run (followed with
    `polling`)."""
    if objects is None or nbytes is None:
        assert polling is not None, "a dry run is followed until its listing is done"
        objects, nbytes, listed = from_dry_run(deployment, polling)
        source: Literal["dry-run", "given"] = "dry-run"
    else:
        listed, source = objects, "given"
    settings = deployed_settings(deployment)
    shape = shape_of(objects, nbytes, settings, rates)
    time = time_of(objects, listed, shape, settings, rates)
    work = Work(
        kind=RunKind.FULL,
        prefixes=int(rates["prefixes"]),
        keys_listed=listed,
        keys_looked_up=objects,
        keys_enqueued=objects,
        keys_settled=objects,
        objects_transferred=objects,
        bytes_transferred=nbytes,
        s3_requests=objects * (shape.writes + shape.reads),
        copy_seconds=objects * shape.seconds,
        planner_seconds=time.planning_seconds,
        planner_workers=settings.planner_concurrency,
        run_seconds=time.total_seconds,
    )
    return Estimate(
        source=source,
        objects=objects,
        bytes=nbytes,
        keys_listed=listed,
        settings=settings,
        shape=shape,
        time=time,
        limits=_limits(settings, rates),
        notes=_notes(shape, time, settings, rates),
        cost=cost_of(work, settings, rates),
    )
