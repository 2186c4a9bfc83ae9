"""Sharded planning in the bench (data set C): a dry run's listing with 1, 4 and 8 planner workers while every
ListObjectsV2 of the producer waits 300 ms (the LocalStack fault plugin: an AWS-like round trip made visible on
2 cores, where a listing is otherwise bound by the machine's CPU), and a real planning pass (listing, the
books, SendMessageBatch) with the copier's mapping disabled: keys enqueued a second and LocalStack's CPU per
key. Each measures from the planner's invocation to the run's planning complete (its workers done). Beside
them, the ceiling this machine allows: a boto3 client listing the same keys in 1 and 8 threads on ranges cut
evenly, through the same delay (a plain 8-thread client on 2 cores is far from 8x one: the listing's CPU,
LocalStack's and the client's, is shared by 2 cores)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.faults import Faults

from bench import data, report
from bench.env import cpu_seconds, localstack_pid
from bench.pipeline import Pipeline
from bench.report import CEILING, PlannerResult
from hydration.models import TERMINAL, RunRecord, RunStatus

LISTING_DELAY_MS = 300
WORKERS = (1, 4, 8)
PRODUCER_ACCOUNT = "222222222222"


def listing_contender(workers: int) -> str:
    return f"listing, {workers} worker(s), ListObjectsV2 +{LISTING_DELAY_MS} ms"


def ceiling_contender(threads: int) -> str:
    return f"{CEILING} {threads} thread(s) on even ranges, +{LISTING_DELAY_MS} ms"


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
    """What this machine allows: a boto3 client listing the data set in `threads` ranges side by side, cut
    where its keys are evenly spread (known here, found by probes in a run), each page through the same
    300 ms delay; seconds. The sharded listing is judged against it, as the copies against the raw loop."""
    keys = sorted(sample.key for sample in ds.samples)
    bounds: list[str | None] = [None, *(keys[len(keys) * i // threads - 1] for i in range(1, threads)), None]
    s3, bucket = pipeline.stack.producer_s3, pipeline.stack.producer_bucket

    def walk(i: int) -> int:
        after, upto, seen = bounds[i], bounds[i + 1], 0
        while True:
            page = s3.list_objects_v2(
                Bucket=bucket, Prefix=ds.prefix, MaxKeys=1000, **({"StartAfter": after} if after else {})
            )
            listed = [item["Key"] for item in page.get("Contents", [])]
            mine = [key for key in listed if upto is None or key <= upto]
            seen += len(mine)
            if not page.get("IsTruncated") or len(mine) < len(listed) or not listed:
                return seen
            after = listed[-1]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        seen = sum(pool.map(walk, range(threads)))
    if seen != ds.count:
        raise RuntimeError(f"the ceiling's listing saw {seen} keys, not {ds.count}")
    return time.perf_counter() - started


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
