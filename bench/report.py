"""Results: one record per contender and data set; the markdown tables, the JSON file, the closing lines."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.env import MB, RESULTS

PIPELINE = "pipeline"
PEER = "peer"
CEILING = "ceiling"

PLANNER_DRY_RUN = "planner dry run (list + select)"
PAGINATOR = "boto3 ListObjectsV2 paginator"
BARE_HTTP = "bare HTTP ListObjectsV2"
ENQUEUE_RUN = "planner enqueue pass (+ books, SendMessageBatch)"
CEILING = "ceiling: boto3 ListObjectsV2,"  # bench.planning.ceiling_contender
MIB = 1024 * 1024


@dataclass
class Result:
    dataset: str  # "A", "B", "L", "A re-run"
    contender: str
    kind: str  # pipeline | peer | ceiling
    objects: int
    bytes: int
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None
    requests_per_object: float | None = None  # requests LocalStack logged (clients'), per object
    localstack_cpu_per_object_ms: float | None = None
    client_cpu_per_object_ms: float | None = None  # the tool's process, or the pipeline's functions
    checks: dict[str, str] = field(default_factory=dict)  # content_type / metadata / kms / bytes / landed
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def objects_per_second(self) -> float:
        return self.objects / self.median if self.seconds else float("nan")

    @property
    def mb_per_second(self) -> float:
        return self.bytes / MB / self.median if self.seconds else float("nan")

    @property
    def median_run(self) -> dict[str, Any] | None:
        """The pipeline run whose wall time is the median one (the phases of that run)."""
        runs = self.extra.get("runs") or []
        if not runs:
            return None
        ordered = sorted(runs, key=lambda run: run["seconds"])
        return dict(ordered[(len(ordered) - 1) // 2])


@dataclass
class PlannerResult:
    keys: int
    contender: str  # planner dry run | planner enqueue | boto3 paginator | bare HTTP | listing, N workers | ...
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # localstack_cpu_ms_per_key, rows_per_core_second, ...
    localstack_cpu_per_key_ms: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def keys_per_second(self) -> float:
        return self.keys / self.median if self.seconds else float("nan")


def run_record(run: Any) -> dict[str, Any]:
    """What the report keeps of one pipeline run (bench.pipeline.PipelineRun)."""
    record = {k: v for k, v in vars(run).items() if k != "requests"}
    record["close_lag"] = run.close_lag
    record["requests"] = dict(run.requests.most_common())
    return record


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:,.{digits}f}"


def reference(results: list[Result], dataset: str, contender: str) -> Result | None:
    return next((r for r in results if r.dataset == dataset and r.contender == contender and r.seconds), None)


def ratio(pipeline: Result | None, other: Result | None) -> float | None:
    """Pipeline objects/s over the other's: above 1 the pipeline is faster."""
    if pipeline is None or other is None or not pipeline.seconds or not other.seconds:
        return None
    return pipeline.objects_per_second / other.objects_per_second


def fastest(results: list[Result], dataset: str, names: list[str]) -> Result | None:
    candidates = [r for name in names if (r := reference(results, dataset, name))]
    complete = [r for r in candidates if r.checks.get("landed", "").split("/")[0] == str(r.objects)] or candidates
    return max(complete, key=lambda r: r.objects_per_second, default=None)


def copy_table(results: list[Result], default_pipeline: str) -> str:
    head = (
        "| set | contender | wall s (median) | runs | objects/s | MB/s | pipeline ÷ this | peak RSS MB "
        "| req/object | LS CPU ms/object | client CPU ms/object | bytes | Content-Type | metadata | KMS key | landed "
        "| notes |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|:-:|:-:|--:|---|\n"
    )
    rows = []
    for r in results:
        pipe = reference(results, r.dataset, default_pipeline) or next(
            (p for p in results if p.dataset == r.dataset and p.kind == PIPELINE and p.seconds), None
        )
        c = r.checks
        rows.append(
            f"| {r.dataset} | {r.contender} | {_fmt(r.median, 2)} | {len(r.seconds)} | {_fmt(r.objects_per_second)} "
            f"| {_fmt(r.mb_per_second)} | {_fmt(ratio(pipe, r), 2)}x | {_fmt(r.peak_rss_mb, 0)} "
            f"| {_fmt(r.requests_per_object, 2)} | {_fmt(r.localstack_cpu_per_object_ms, 2)} "
            f"| {_fmt(r.client_cpu_per_object_ms, 2)} "
            f"| {c.get('bytes', '-')} | {c.get('content_type', '-')} | {c.get('metadata', '-')} | {c.get('kms', '-')} "
            f"| {c.get('landed', '-')} | {r.notes} |"
        )
    return head + "\n".join(rows) + "\n"


def timeline_table(results: list[Result]) -> str:
    """Each pipeline row's median run: when planning ended, the first and last copy landed, the last key
    settled, the run closed (all from the planner's invocation), and what the copier did."""
    head = (
        "| set | contender | planned s | first copy s | last copy s | last key settled s | run closed s "
        "| closed after last copy s | keys enqueued/settled | copier invocations (cold) | copier peak MB |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    rows = []
    for r in results:
        run = r.median_run
        if r.kind != PIPELINE or run is None:
            continue
        rows.append(
            f"| {r.dataset} | {r.contender} | {_fmt(run['planned_seconds'], 2)} | {_fmt(run['first_copy_seconds'], 2)} "
            f"| {_fmt(run['last_copy_seconds'], 2)} | {_fmt(run['last_settled_seconds'], 2)} "
            f"| {_fmt(run['seconds'], 2)} | {_fmt(run['close_lag'], 2)} "
            f"| {run['keys_enqueued']:,}/{run['keys_settled']:,} | {run['copier_invocations']} ({run['cold_starts']}) "
            f"| {_fmt(run['copier_rss_mb'], 0)} |"
        )
    return head + "\n".join(rows) + "\n" if rows else ""


REQUEST_COLUMNS = [
    ("A", "pipeline server-side"),
    ("A", "pipeline stream"),
    ("A", "s5cmd"),
    ("A re-run", "pipeline incremental"),
    ("A re-run", "s5cmd sync"),
    ("B", "pipeline server-side"),
    ("L", "pipeline server-side"),
    ("L", "pipeline stream"),
]


def requests_table(results: list[Result]) -> str:
    columns = [r for dataset, name in REQUEST_COLUMNS if (r := reference(results, dataset, name))]
    if not columns:
        return ""
    ops: dict[str, float] = {}
    for r in columns:
        for op, n in r.extra.get("requests", {}).items():
            ops[op] = ops.get(op, 0) + n / max(r.objects, 1)
    ordered = sorted(ops, key=lambda op: -ops[op])
    head = "| operation | " + " | ".join(f"{r.dataset}: {r.contender}" for r in columns) + " |\n"
    head += "|---|" + "--:|" * len(columns) + "\n"
    rows = []
    for op in ordered:
        cells = []
        for r in columns:
            n = r.extra.get("requests", {}).get(op, 0)
            cells.append(f"{n / max(r.objects, 1):.3f}" if n else "")
        rows.append(f"| {op} | " + " | ".join(cells) + " |")
    totals = [f"**{sum(r.extra.get('requests', {}).values()) / max(r.objects, 1):.3f}**" for r in columns]
    rows.append("| **all** | " + " | ".join(totals) + " |")
    return head + "\n".join(rows) + "\n"


def costs_table(costs: list[Any]) -> str:
    """bench.costs.Cost rows: LocalStack CPU per request, and per object at the pipeline's request sizes."""
    head = (
        "| request | made as | requests | objects per request | LS CPU ms/request | LS CPU ms/object |\n"
        "|---|---|--:|--:|--:|--:|\n"
    )
    rows = [
        f"| {c.request} | {c.how} | {c.requests} | {c.objects_per_request:g} | {c.localstack_cpu_ms:.2f} "
        f"| {c.per_object_ms:.3f} |"
        for c in costs
    ]
    return head + "\n".join(rows) + "\n"


def planner_table(results: list[PlannerResult]) -> str:
    head = (
        "| keys | contender | seconds (median) | runs | keys/s | peak RSS MB | notes |\n|--:|---|--:|--:|--:|--:|---|\n"
    )
    rows = [
        f"| {r.keys:,} | {r.contender} | {_fmt(r.median, 2)} | {len(r.seconds)} | {_fmt(r.keys_per_second, 0)} "
        f"| {_fmt(r.peak_rss_mb, 0)} | {', '.join(f'{k} {_fmt(v, 2)}' for k, v in r.extra.items())} |"
        for r in results
    ]
    return head + "\n".join(rows) + "\n"


def aws_table(results: list[Result]) -> str:
    """What each pipeline row's latest run would cost on AWS, per million objects (modeled from its books)."""
    head = (
        "| set | contender | USD per million objects | S3 Batch Replication | DataSync | DynamoDB WRU/object "
        "| of which the books |\n|---|---|--:|--:|--:|--:|--:|\n"
    )
    rows = []
    for r in results:
        runs = r.extra.get("runs") or []
        aws = runs[-1].get("aws") if runs else None
        if r.kind != PIPELINE or not aws or aws.get("per_million_usd") is None:
            continue
        peers = aws["peers"]
        rows.append(
            f"| {r.dataset} | {r.contender} | {aws['per_million_usd']:.2f} "
            f"| {_fmt(peers.get('S3 Batch Replication'), 2)} | {_fmt(peers.get('DataSync (Basic mode)'), 2)} "
            f"| {aws['dynamodb_write_units_per_object']:.2f} | {aws['books_write_units_per_object']:.2f} |"
        )
    return head + "\n".join(rows) + "\n" if rows else ""


def describe_settings(settings: dict[str, Any], pollers: int) -> str:
    copier = f"{settings.get('COPY_CONCURRENCY')} copies in flight per invocation"
    threshold = int(settings.get("MULTIPART_THRESHOLD_BYTES") or 0) // MIB
    part = int(settings.get("PART_SIZE_BYTES") or 16 * MIB) // MIB
    return (
        f"event source mapping BatchSize {settings.get('BatchSize')} messages, batching window "
        f"{settings.get('MaximumBatchingWindowInSeconds')} s, {pollers} poll loops "
        f"(MaximumConcurrency {settings.get('MaximumConcurrency')}); {settings.get('KEYS_PER_MESSAGE')} keys per "
        f"message; {copier}; multipart from {threshold} MiB in {part} MiB parts, "
        f"{settings.get('PARTS_IN_FLIGHT') or 4} parts in flight"
    )


def closing_lines(
    results: list[Result], planner: list[PlannerResult], default_pipeline: str, peers: list[str]
) -> list[str]:
    """The ratios the issue asks about, one line each."""
    lines = []
    parts = []
    for dataset in ("A", "B", "L"):
        pipe = reference(results, dataset, default_pipeline)
        best = fastest(results, dataset, peers)
        if pipe is None or best is None:
            continue
        parts.append(f"{dataset} {_fmt(ratio(pipe, best), 2)}x ({best.contender})")
    if parts:
        lines.append("pipeline objects/s vs the fastest peer: " + ", ".join(parts))
    ceilings = []
    for dataset in ("A", "B", "L"):
        pipe = reference(results, dataset, default_pipeline)
        ceiling = reference(results, dataset, "boto3 CopyObject loop")
        if pipe is not None and ceiling is not None:
            ceilings.append(f"{dataset} {_fmt(ratio(pipe, ceiling), 2)}x")
    if ceilings:
        lines.append("pipeline vs the raw CopyObject loop: " + ", ".join(ceilings))
    cpu = []
    for dataset in ("A", "B", "L"):
        pipe = reference(results, dataset, default_pipeline)
        loop = reference(results, dataset, "boto3 CopyObject loop")
        if pipe is None or loop is None:
            continue
        pipe_cpu, loop_cpu = _cpu_per_object(pipe), _cpu_per_object(loop)
        if pipe_cpu is not None and loop_cpu:
            cpu.append(f"{dataset} {pipe_cpu:,.2f} vs {loop_cpu:,.2f} ms ({pipe_cpu / loop_cpu:.2f}x)")
    if cpu:
        lines.append("CPU per object (LocalStack + functions), pipeline vs the raw CopyObject loop: " + ", ".join(cpu))
    lines += _books_lines(results, default_pipeline, planner)
    one = reference(results, "A", "pipeline server-side, 1 poller")
    default = reference(results, "A", default_pipeline)
    if one is not None and default is not None:
        lines.append(f"A, one poll loop -> the default loops: {_fmt(ratio(default, one), 2)}x the objects/s")
    rerun = reference(results, "A re-run", "pipeline incremental")
    if rerun is not None:
        others = [
            f"{r.contender} {r.median:.2f} s ({r.median / rerun.median:.2f}x)"
            for name in ("s5cmd sync", "aws s3 sync")
            if (r := reference(results, "A re-run", name))
        ]
        lines.append(f"A re-run (nothing changed): pipeline {rerun.median:.2f} s; " + ", ".join(others))
    lags = []
    for r in results:
        run = r.median_run
        if r.kind == PIPELINE and run and run.get("close_lag") is not None and r.dataset != "A re-run":
            lags.append(f"{r.dataset} {r.contender.removeprefix('pipeline ')} {run['close_lag']:.2f} s")
    if lags:
        lines.append("last copy landed -> run closed (median run): " + ", ".join(lags))
    for name in ("pipeline stream", "pipeline server-side"):
        big = reference(results, "L", name)
        bound = big.extra.get("rss_bound_mb") if big else None
        if big is not None and big.peak_rss_mb:
            within = (
                "" if bound is None else f" (bound {bound:.0f} MB: {'within' if big.peak_rss_mb <= bound else 'ABOVE'})"
            )
            lines.append(f"L {name}: copier peak RSS {big.peak_rss_mb:.0f} MB{within}")
    speeds = []
    for keys in sorted({p.keys for p in planner}):
        mine = next((p for p in planner if p.keys == keys and p.contender == PLANNER_DRY_RUN and p.seconds), None)
        theirs = next((p for p in planner if p.keys == keys and p.contender == PAGINATOR and p.seconds), None)
        if mine and theirs:
            speeds.append(f"{keys:,} keys {mine.keys_per_second / theirs.keys_per_second:.2f}x")
    if speeds:
        lines.append("planner keys/s vs the boto3 paginator: " + ", ".join(speeds))
    lines += planning_lines(planner)
    return lines


def planning_lines(planner: list[PlannerResult]) -> list[str]:
    """Sharded planning: the listing's speed-up with workers (goal: 8 workers >= 5x one), the enqueue rate,
    an inventory report's reading rate (goals: >= 300,000 rows/s per core, <= 512 MB)."""
    lines = []
    listing = {p.contender: p for p in planner if p.contender.startswith("listing, ") and p.seconds}
    one = next((p for name, p in listing.items() if name.startswith("listing, 1 worker")), None)
    if one is not None:
        ups = [
            f"{name.split(',')[1].strip()} {_fmt(one.median / p.median, 2)}x"
            for name, p in listing.items()
            if p is not one
        ]
        eight = next((p for name, p in listing.items() if name.startswith("listing, 8 worker")), None)
        goal = (
            ""
            if eight is None
            else f" (goal 8 workers >= 5x: {'met' if one.median / eight.median >= 5 else 'NOT met'})"
        )
        lines.append(f"listing {one.keys:,} keys, 300 ms a page: 1 worker {one.median:.1f} s; " + ", ".join(ups) + goal)
    ceilings = [p for p in planner if p.contender.startswith(CEILING) and p.seconds]
    if len(ceilings) == 2:
        single, many = ceilings
        ceiling = single.median / many.median
        line = f"ceiling on this machine (boto3, ranges cut beforehand, same delay): 1 process {single.median:.1f} s, "
        line += f"{many.contender.removeprefix(CEILING).split(' on ')[0].strip()} {_fmt(ceiling, 2)}x"
        if one is not None and eight is not None:
            line += f"; 8 workers reach {_fmt(100 * one.median / eight.median / ceiling, 0)} % of it"
        lines.append(line)
    for p in planner:
        if p.contender.startswith("planning pass") and p.seconds:
            cpu = p.extra.get("localstack_cpu_ms_per_key")
            lines.append(
                f"planning pass: {_fmt(p.keys_per_second, 0)} keys enqueued/s"
                + (f", LocalStack CPU {cpu:.2f} ms per key" if cpu is not None else "")
            )
        if p.contender.startswith("inventory") and p.extra:
            rate, rss = p.extra.get("rows_per_core_second", 0.0), p.peak_rss_mb or 0.0
            lines.append(
                f"inventory report, {p.keys:,} rows: {rate:,.0f} rows/s per core (goal >= 300,000: "
                f"{'met' if rate >= 300_000 else 'NOT met'}), peak RSS {rss:.0f} MB (goal <= 512: "
                f"{'met' if rss <= 512 else 'NOT met'})"
            )
    return lines


def _cpu_per_object(result: Result) -> float | None:
    """LocalStack's CPU plus the client's (the pipeline's functions, or the tool's process) per object, ms."""
    if result.localstack_cpu_per_object_ms is None or result.client_cpu_per_object_ms is None:
        return None
    return result.localstack_cpu_per_object_ms + result.client_cpu_per_object_ms


def _books_lines(results: list[Result], default_pipeline: str, planner: list[PlannerResult]) -> list[str]:
    """DynamoDB write units and the AWS cost per object of set A (from the run's books), the enqueue pass."""
    lines = []
    pipe = reference(results, "A", default_pipeline)
    runs = pipe.extra.get("runs") if pipe is not None else None
    aws = runs[-1].get("aws") if runs else None
    if aws and aws.get("per_million_usd") is not None:
        peers = aws["peers"]
        replication = peers.get("S3 Batch Replication")
        units, books, usd = (
            aws["dynamodb_write_units_per_object"],
            aws["books_write_units_per_object"],
            aws["per_million_usd"],
        )
        lines.append(
            f"A DynamoDB write units per object (on AWS, from the run's books): {units:.2f} ({books:.2f} books)"
        )
        lines.append(
            f"A cost per million objects on AWS (list prices, from the run's books): pipeline {usd:.2f}"
            f" USD; S3 Batch Replication {_fmt(replication, 2)} USD "
            f"({aws['per_million_usd'] / replication:.2f}x); DataSync {_fmt(peers.get('DataSync (Basic mode)'), 2)} USD"
            if replication
            else f"A cost per million objects on AWS: pipeline {aws['per_million_usd']:.2f} USD"
        )
    enqueue = next((p for p in planner if p.contender == ENQUEUE_RUN and p.seconds), None)
    if enqueue is not None:
        lines.append(
            f"planner enqueue pass: {enqueue.keys_per_second:,.0f} keys/s, LocalStack CPU "
            f"{_fmt(enqueue.localstack_cpu_per_key_ms, 3)} ms per key"
        )
    return lines


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def write(
    results: list[Result],
    planner: list[PlannerResult],
    meta: dict[str, Any],
    markdown: str,
    out_dir: Path = RESULTS,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "meta": meta,
        "results": [
            asdict(r)
            | {
                "median_seconds": r.median,
                "objects_per_second": r.objects_per_second,
                "mb_per_second": r.mb_per_second,
            }
            for r in results
        ],
        "planner": [asdict(p) | {"median_seconds": p.median, "keys_per_second": p.keys_per_second} for p in planner],
    }
    path = out_dir / f"{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (out_dir / "latest.md").write_text(markdown)
    return path
