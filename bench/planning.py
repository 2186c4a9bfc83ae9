"""Sharded planning in the bench (data set C): a dry run's listing with 1, 4 and 8 planner workers while every
ListObjectsV2 of the producer waits 300 ms (the LocalStack fault plugin: an AWS-like round trip made visible on
2 cores, where a listing is otherwise bound by the machine's CPU), and a real planning pass (listing, the
books, SendMessageBatch) with the copier's mapping disabled: keys enqueued a second and LocalStack's CPU per
key. Each measures from the planner's invocation to the run's planning complete (its workers done). Beside
them, the ceiling this machine allows: boto3 clients listing the same keys in 1 and 8 processes on ranges cut
evenly beforehand, through the same delay (8 plain clients on 2 cores are far from 8x one: the listing's CPU,
LocalStack's and the clients', is shared by 2 cores)."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from tests.faults import Faults

from bench import data, report
from bench.env import Stack, cpu_seconds, localstack_pid
from bench.pipeline import Pipeline
from bench.report import CEILING, PlannerResult
from hydration.models import TERMINAL, RunRecord, RunStatus

LISTING_DELAY_MS = 300
WORKERS = (1, 4, 8)
PRODUCER_ACCOUNT = "222222222222"


def listing_contender(workers: int) -> str:
    return f"listing, {workers} worker(s), ListObjectsV2 +{LISTING_DELAY_MS} ms"


def ceiling_contender(threads: int) -> str:
    return f"{CEILING} {threads} process(es) on even ranges, +{LISTING_DELAY_MS} ms"


def planned(pipeline: Pipeline, run_id: str, timeout: float = 900) -> RunRecord:
    """The run once its planning is complete (a dry run's end), or its end."""
    deadline = time.monotonic() + timeout
    while True:
        run = pipeline.stores.runs.get(run_id)
        if run.planning_complete or run.status in TERMINAL:
            return run
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} still planning after {timeout:.0f} s")
        time.sleep(0.2)


def planning_seconds(run: RunRecord, invoked_at: float) -> float:
    """Invoked -> planning complete (the last worker's write: the run's heartbeat at finish_planning)."""
    done = run.ended_at if run.dry_run else run.heartbeat_at
    return (done.timestamp() if done else time.time()) - invoked_at


def use_workers(pipeline: Pipeline, workers: int) -> None:
    """N workers at once: the planner queue's event source at N (its minimum is 2: one shard keeps one worker
    busy) and, as the template advises, twice as many shards (PLANNER_SHARDS, also the most a split makes);
    one worker lists one shard, uncut: the best one worker can do."""
    for function in (pipeline.planner_name, pipeline.planner_worker_name):
        pipeline.configure(function, PLANNER_SHARDS=1 if workers == 1 else 2 * workers)
    pipeline.configure_planner_esm(max(2, workers))


def listing(pipeline: Pipeline, ds: data.DataSet, repeat: int) -> list[PlannerResult]:
    """A dry run of the data set with 1, 4 and 8 workers, each listing page 300 ms late."""
    results = {workers: PlannerResult(keys=ds.count, contender=listing_contender(workers)) for workers in WORKERS}
    ceilings = {n: PlannerResult(keys=ds.count, contender=ceiling_contender(n)) for n in (1, WORKERS[-1])}
    with Faults() as faults:
        faults.add(
            service="s3",
            operation="ListObjectsV2",
            action="delay",
            delay_ms=LISTING_DELAY_MS,
            account=PRODUCER_ACCOUNT,
        )
        for workers in WORKERS:
            use_workers(pipeline, workers)
            dry_run(pipeline, ds.prefix)  # every worker's environment started outside the timing (a dry run
            # keeps no boundaries: each timed run cuts its shards afresh, probes included)
            for _ in range(repeat):
                invoked_at = time.time()
                run = dry_run(pipeline, ds.prefix)
                if run.keys_selected != ds.count:
                    raise RuntimeError(f"the dry run saw {run.keys_selected} keys, not {ds.count}")
                results[workers].seconds.append(planning_seconds(run, invoked_at))
        for _ in range(repeat):
            for threads, row in ceilings.items():
                row.seconds.append(ceiling(pipeline, ds, threads))
    return [*results.values(), *ceilings.values()]


def ceiling(pipeline: Pipeline, ds: data.DataSet, threads: int) -> float:
    """What this machine allows: `threads` processes (as the workers are), each a boto3 client listing one
    range of the data set, cut where its keys are evenly spread (known here, found by probes in a run), each
    page through the same 300 ms delay; seconds. The sharded listing is judged against it, as the copies
    against the raw loop."""
    keys = sorted(sample.key for sample in ds.samples)
    bounds: list[str | None] = [None, *(keys[len(keys) * i // threads - 1] for i in range(1, threads)), None]
    ranges = [(ds.prefix, bounds[i], bounds[i + 1]) for i in range(threads)]
    bucket = pipeline.stack.producer_bucket
    with ProcessPoolExecutor(max_workers=threads, mp_context=get_context("fork")) as pool:
        list(pool.map(_warm, [bucket] * threads))  # the processes and their clients started outside the timing
        started = time.perf_counter()
        seen = sum(pool.map(_list_range, [bucket] * threads, ranges))
        seconds = time.perf_counter() - started
    if seen != ds.count:
        raise RuntimeError(f"the ceiling's listing saw {seen} keys, not {ds.count}")
    return seconds


_CLIENT: list[Any] = []


def _warm(bucket: str) -> None:
    if not _CLIENT:
        _CLIENT.append(Stack.load().producer_s3)
    _CLIENT[0].head_bucket(Bucket=bucket)
    time.sleep(0.5)  # every process gets one of these


def _list_range(bucket: str, key_range: tuple[str, str | None, str | None]) -> int:
    prefix, after, upto = key_range
    seen = 0
    while True:
        page = _CLIENT[0].list_objects_v2(
            Bucket=bucket, Prefix=prefix, MaxKeys=1000, **({"StartAfter": after} if after else {})
        )
        listed = [item["Key"] for item in page.get("Contents", [])]
        mine = [key for key in listed if upto is None or key <= upto]
        seen += len(mine)
        if not page.get("IsTruncated") or len(mine) < len(listed) or not listed:
            return seen
        after = listed[-1]


def dry_run(pipeline: Pipeline, prefix: str) -> RunRecord:
    answer: dict[str, Any] = pipeline.invoke(pipeline.planner_name, {"prefix": prefix, "dry_run": True})
    run = planned(pipeline, str(answer["run_id"]))
    if run.status is not RunStatus.COMPLETED:
        raise RuntimeError(f"dry run {run.run_id} ended {run.status}: {run.error}")
    return run


def enqueue_pass(pipeline: Pipeline, ds: data.DataSet) -> PlannerResult:
    """A real planning pass of the data set, nothing copied (the copier's mapping disabled); the run is then
    abandoned (its messages purged, the run cancelled)."""
    pipeline.configure_esm(Enabled=False)
    try:
        ls = localstack_pid()
        cpu_before = cpu_seconds(ls) if ls else None
        invoked_at = time.time()
        answer = pipeline.invoke(pipeline.planner_name, {"prefix": ds.prefix})
        run = planned(pipeline, str(answer["run_id"]))
        row = PlannerResult(keys=run.keys_enqueued, contender=report.ENQUEUE_RUN)
        row.seconds.append(planning_seconds(run, invoked_at))
        if ls and cpu_before is not None:
            row.localstack_cpu_per_key_ms = 1000 * (cpu_seconds(ls) - cpu_before) / max(1, run.keys_enqueued)
            row.extra["localstack_cpu_ms_per_key"] = row.localstack_cpu_per_key_ms
        pipeline.abandon(run.run_id)
        return row
    finally:
        pipeline.configure_esm(Enabled=True)
