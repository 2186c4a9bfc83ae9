"""Results: one record per contender and data set; the markdown table, the JSON file, the closing line."""

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


@dataclass
class Result:
    dataset: str  # "A", "B", "A re-run"
    contender: str
    kind: str  # pipeline | peer | ceiling
    objects: int
    bytes: int
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None
    requests_per_object: float | None = None  # requests LocalStack logged (clients'), per object
    localstack_cpu_per_object_ms: float | None = None
    checks: dict[str, str] = field(default_factory=dict)  # content_type / metadata / kms / landed
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


@dataclass
class PlannerResult:
    keys: int
    contender: str  # planner dry run | planner enqueue | boto3 paginator | bare HTTP
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def keys_per_second(self) -> float:
        return self.keys / self.median if self.seconds else float("nan")


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


def copy_table(results: list[Result], default_pipeline: str) -> str:
    head = (
        "| set | contender | wall s (median) | runs | objects/s | MB/s | pipeline ÷ this | peak RSS MB "
        "| req/object | LS CPU ms/object | Content-Type | metadata | KMS key | landed | notes |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|:-:|--:|---|\n"
    )
    rows = []
    for r in results:
        pipe = reference(results, r.dataset, default_pipeline) or next(
            (p for p in results if p.dataset == r.dataset and p.kind == PIPELINE and p.seconds), None
        )
        rows.append(
            f"| {r.dataset} | {r.contender} | {_fmt(r.median, 2)} | {len(r.seconds)} | {_fmt(r.objects_per_second)} "
            f"| {_fmt(r.mb_per_second)} | {_fmt(ratio(pipe, r), 2)}x | {_fmt(r.peak_rss_mb, 0)} "
            f"| {_fmt(r.requests_per_object, 2)} | {_fmt(r.localstack_cpu_per_object_ms, 2)} "
            f"| {r.checks.get('content_type', '-')} | {r.checks.get('metadata', '-')} | {r.checks.get('kms', '-')} "
            f"| {r.checks.get('landed', '-')} | {r.notes} |"
        )
    return head + "\n".join(rows) + "\n"


def planner_table(results: list[PlannerResult]) -> str:
    head = "| keys | contender | seconds (median) | runs | keys/s | peak RSS MB |\n|--:|---|--:|--:|--:|--:|\n"
    rows = [
        f"| {r.keys:,} | {r.contender} | {_fmt(r.median, 2)} | {len(r.seconds)} | {_fmt(r.keys_per_second, 0)} "
        f"| {_fmt(r.peak_rss_mb, 0)} |"
        for r in results
    ]
    return head + "\n".join(rows) + "\n"


def closing_line(results: list[Result], default_pipeline: str, peers: list[str], ceiling: str) -> str:
    parts_peer = []
    parts_ceiling = []
    for dataset in ("A", "B"):
        pipe = reference(results, dataset, default_pipeline)
        candidates = [r for name in peers if (r := reference(results, dataset, name))]
        fastest = max(candidates, key=lambda r: r.objects_per_second, default=None)
        peer_ratio = ratio(pipe, fastest)
        ceiling_ratio = ratio(pipe, reference(results, dataset, ceiling))
        parts_peer.append(f"{dataset} {_fmt(peer_ratio, 2)}x")
        parts_ceiling.append(f"{dataset} {_fmt(ceiling_ratio, 2)}x")
    return f"pipeline objects/s vs fastest peer: {', '.join(parts_peer)}; vs raw ceiling: {', '.join(parts_ceiling)}"


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
