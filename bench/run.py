"""`make bench`: the pipeline against its peers and the raw ceilings, on the local LocalStack.

Data sets (sizes overridable): A many small objects, B few large ones, L one very large object, C keys for the
planner alone. Every copy contender copies identical data into a fresh, empty destination, SSE-KMS under the
consumer key; repetitions are interleaved (rep 1 of every contender, then rep 2, ...) so that the machine's
drift spreads over all of them. Every object of every contender is checked: its bytes (ETag against the
sample's MD5, per part layout) on every repetition, its Content-Type, metadata and KMS key on the first.
Prints the tables and, last, the closing lines; writes bench/results/<timestamp>.json and latest.md.

Expects LocalStack on 127.0.0.1:$S3H_LOCALSTACK_PORT (default 4566) with both stacks deployed and the peers in
bench/work/venv (mk/bench.mk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bench import costs, data, planning, report
from bench.env import (
    ENDPOINT,
    ROOT,
    WORK,
    RequestLog,
    Stack,
    client,
    cpu_seconds,
    environment_pids,
    localstack_pid,
    peak_rss_mb,
    reset_peak_rss,
    run_measured,
)
from bench.peers import PEERS, raw_command
from bench.pipeline import COPIER, Pipeline, PipelineRun
from bench.profile import Profiler, summarise, summarise_client
from bench.report import CEILING, PEER, PIPELINE, PlannerResult, Result

DEFAULT = "pipeline server-side"
RAW_OF = {"boto3 CopyObject loop": "copy", "boto3 GET+PUT loop": "stream"}
RAW_THREADS = 32
PLANNER_WORKER = "planner.worker_handler.lambda_handler"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Variant:
    """A way the pipeline runs: copy mode, and the poll loops of the event source mapping."""

    name: str
    mode: str
    pollers: int | None = None  # ScalingConfig.MaximumConcurrency; None: the deployment's

    @property
    def esm(self) -> dict[str, Any]:
        return {"MaximumConcurrency": self.pollers} if self.pollers else {}


VARIANTS = {
    DEFAULT: Variant(DEFAULT, "server-side"),
    "pipeline stream": Variant("pipeline stream", "stream"),
    "pipeline server-side, 1 poller": Variant("pipeline server-side, 1 poller", "server-side", pollers=1),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Measure:
    """What one measured contender run cost LocalStack, and the contender's own CPU."""

    requests: Counter[str]
    cpu_seconds: float | None
    client_cpu_seconds: float | None = None


class Meter:
    """LocalStack's logged requests and CPU seconds around a block."""

    def __init__(self) -> None:
        self.log = RequestLog()
        self.pid = localstack_pid()

    def around(self, work: Callable[[], Any]) -> tuple[Any, Measure]:
        offset = self.log.mark()
        cpu = cpu_seconds(self.pid) if self.pid else None
        value = work()
        used = cpu_seconds(self.pid) - cpu if self.pid and cpu is not None else None
        return value, Measure(self.log.since(offset), used)


def _marks(chk: data.Check) -> dict[str, str]:
    return {
        "content_type": data.Check.mark(chk.content_type, chk.sampled),
        "metadata": data.Check.mark(chk.metadata, chk.sampled),
        "kms": data.Check.mark(chk.kms, chk.sampled),
        "bytes": data.Check.mark(chk.bytes_ok, chk.landed),
        "landed": f"{chk.landed}/{chk.expected}",
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stack = Stack.load()
        self.s3 = self.stack.consumer_s3
        self.pipeline = Pipeline(self.stack, poll_interval=args.poll_interval)
        self.meter = Meter()
        self.results: list[Result] = []
        self.planner: list[PlannerResult] = []
        self.meta: dict[str, Any] = {}
        self.token = secrets.token_hex(3)
        self.kept: dict[str, str] = {}  # contender -> destination bucket kept for the re-run
        self.pollers = 1
        self.costs: list[costs.Cost] = []
        self._variant: Variant | None = None

    # ------------------------------------------------------------------ helpers

    def result(self, dataset: data.DataSet | str, contender: str, kind: str, objects: int, nbytes: int) -> Result:
        name = dataset if isinstance(dataset, str) else dataset.name
        for r in self.results:
            if r.dataset == name and r.contender == contender:
                return r
        r = Result(dataset=name, contender=contender, kind=kind, objects=objects, bytes=nbytes)
        self.results.append(r)
        return r

    def fresh_bucket(self, slug: str, dataset: str, rep: int) -> str:
        name = f"bench-{slug}-{dataset.lower()}-{rep}-{self.token}"
        return data.create_bucket(self.s3, name, self.stack.kms_key_arn)

    def account(self, r: Result, measure: Measure, objects: int) -> None:
        """The cost figures of the latest repetition (they hardly vary between repetitions)."""
        r.requests_per_object = sum(measure.requests.values()) / max(objects, 1)
        if measure.cpu_seconds is not None:
            r.localstack_cpu_per_object_ms = 1000 * measure.cpu_seconds / max(objects, 1)
        if measure.client_cpu_seconds is not None:
            r.client_cpu_per_object_ms = 1000 * measure.client_cpu_seconds / max(objects, 1)
        r.extra["requests"] = dict(measure.requests.most_common())

    def verify(self, r: Result, ds: data.DataSet, bucket: str, rep: int) -> None:
        """Every object's bytes on every repetition; its headers and KMS key on the first."""
        chk = data.check(self.s3, bucket, ds, self.stack.kms_key_arn, headers=rep == 0)
        marks = _marks(chk)
        if rep == 0:
            r.checks = marks
        else:
            r.checks["landed"], r.checks["bytes"] = marks["landed"], marks["bytes"]
        if not chk.complete:
            r.notes = "; ".join(filter(None, [r.notes, f"rep {rep}: {marks['landed']} landed", *chk.problems[:2]]))

    def use(self, variant: Variant) -> None:
        """Switch the deployed pipeline to a variant (a copy mode change restarts the copier's environments:
        they are started again, outside the timing, one per poll loop)."""
        if self._variant == variant:
            return
        restarted = self.pipeline.env(self.pipeline.copier_name).get("COPY_MODE") != variant.mode
        self.pipeline.configure(self.pipeline.copier_name, COPY_MODE=variant.mode)
        self.pipeline.configure_esm(MaximumConcurrency=variant.pollers or self.default_concurrency)
        if restarted or self._variant is None:
            self.pipeline.warm(self.pollers)
        self._variant = variant

    # ------------------------------------------------------------------ contenders

    def run_pipeline(self, ds: data.DataSet, variant: Variant, rep: int) -> PipelineRun:
        """One full run into the emptied consumer bucket."""
        self.use(variant)
        r = self.result(ds, variant.name, PIPELINE, ds.count, ds.bytes)
        self.pipeline.reset()
        run = self.pipeline.run({"full": True}, timeout=self.args.run_timeout)
        if not run.ok or run.transferred != ds.count:
            r.notes = f"run {run.run_id} {run.status}: {run.transferred} copied, {run.failed} failed"
        r.seconds.append(run.seconds)
        r.peak_rss_mb = max(filter(None, [r.peak_rss_mb, run.copier_rss_mb]), default=None)
        r.extra.setdefault("runs", []).append(report.run_record(run))
        if variant.mode == "stream":  # what a streamed copy may hold: its parts in flight, plus the runtime
            settings = self.meta["pipeline"]
            parts = int(settings.get("PARTS_IN_FLIGHT") or 4)
            r.extra["rss_bound_mb"] = int(settings.get("PART_SIZE_BYTES") or 16 * MIB) / MIB * parts + 100
        self.account(r, Measure(run.requests, run.localstack_cpu_seconds, run.functions_cpu_seconds), ds.count)
        self.verify(r, ds, self.stack.consumer_bucket, rep)
        log(
            f"{ds.name} {variant.name}: {run.seconds:.2f} s (planned {run.planned_seconds:.2f} s, last copy "
            f"{run.last_copy_seconds or 0:.2f} s, closed {run.close_lag or 0:.2f} s later; "
            f"{run.copier_invocations} invocations, copier peak {run.copier_rss_mb or 0:.0f} MB; CPU LocalStack "
            f"{run.localstack_cpu_seconds or 0:.1f} s, functions {run.functions_cpu_seconds or 0:.1f} s)"
        )
        return run

    def run_peer(self, ds: data.DataSet, name: str, rep: int, keep: bool = False) -> None:
        peer = PEERS[name]
        r = self.result(ds, name, PEER, ds.count, ds.bytes)
        dest = self.fresh_bucket(name.split()[0], ds.name, rep)
        cmd = peer.copy(self.stack.producer_bucket, ds.prefix, dest, self.stack.kms_key_arn)
        measured, measure = self.meter.around(lambda: run_measured(cmd, env=peer.env(), timeout=self.args.run_timeout))
        self._settle(r, ds, dest, measured, rep)
        measure.client_cpu_seconds = measured.cpu_seconds
        self.account(r, measure, ds.count)
        log(f"{ds.name} {name}: {measured.seconds:.2f} s")
        if keep:
            self.kept[name] = dest
        else:
            data.delete_bucket(self.s3, dest)

    def run_raw(self, ds: data.DataSet, name: str, rep: int, threads: int) -> None:
        r = self.result(ds, name, CEILING, ds.count, ds.bytes)
        r.extra["threads"] = threads
        dest = self.fresh_bucket(RAW_OF[name], ds.name, rep)
        cmd = raw_command(
            RAW_OF[name], self.stack.producer_bucket, ds.prefix, dest, self.stack.kms_key_arn, threads=threads
        )
        measured, measure = self.meter.around(lambda: run_measured(cmd, timeout=self.args.run_timeout, cwd=ROOT))
        self._settle(r, ds, dest, measured, rep)
        measure.client_cpu_seconds = measured.cpu_seconds
        self.account(r, measure, ds.count)
        log(f"{ds.name} {name} ({threads} threads): {measured.seconds:.2f} s")
        data.delete_bucket(self.s3, dest)

    def _settle(self, r: Result, ds: data.DataSet, dest: str, measured: Any, rep: int) -> None:
        r.seconds.append(measured.seconds)
        r.peak_rss_mb = max(r.peak_rss_mb or 0.0, measured.peak_rss_mb)
        if measured.returncode != 0:
            r.notes = f"exit {measured.returncode}: {measured.output[-200:]}".replace("\n", " ").replace("|", "/")
        self.verify(r, ds, dest, rep)

    # ------------------------------------------------------------------ data sets

    def copy_set(
        self,
        ds: data.DataSet,
        variants: list[str],
        peers: list[str],
        raws: list[str],
        repeat: int,
        slow: set[str],
        rerun: bool = False,
    ) -> None:
        log(f"data set {ds.name}: seeding {ds.count} objects, {ds.bytes / 2**20:,.0f} MiB")
        started = time.perf_counter()
        data.seed_dataset(self.stack.producer_s3, self.stack.producer_bucket, ds)
        log(f"data set {ds.name} seeded in {time.perf_counter() - started:.1f} s")
        for rep in range(repeat):
            first = rep < self.args.repeat_slow  # the slow contenders get fewer repetitions
            order = variants if rep % 2 == 0 else list(reversed(variants))
            for name in order:
                if name not in slow or first:
                    self.run_pipeline(ds, VARIANTS[name], rep)
            for name in peers:
                if name not in slow or first:
                    self.run_peer(ds, name, rep, keep=rerun and rep == repeat - 1)
            for name in raws:
                if name not in slow or first:
                    self.run_raw(ds, name, rep, RAW_THREADS)
        if rerun:
            self.rerun(ds)
        data.empty(self.stack.producer_s3, self.stack.producer_bucket, ds.prefix)

    def rerun(self, ds: data.DataSet) -> None:
        """Nothing changed: the pipeline's incremental run and `sync` over an already-copied destination."""
        name = f"{ds.name} re-run"
        self.use(VARIANTS[DEFAULT])  # the last pipeline run (any variant) left the destination filled
        for _rep in range(self.args.repeat):
            r = self.result(name, "pipeline incremental", PIPELINE, ds.count, 0)
            run = self.pipeline.run({}, timeout=self.args.run_timeout)
            r.seconds.append(run.seconds)
            r.peak_rss_mb = max(filter(None, [r.peak_rss_mb, run.copier_rss_mb]), default=None)
            r.notes = (
                f"{run.keys_listed} listed, {run.keys_unchanged} held (manifest), {run.keys_enqueued} enqueued, "
                f"{run.transferred} copied; {run.status}"
            )
            r.extra.setdefault("runs", []).append(report.run_record(run))
            self.account(r, Measure(run.requests, run.localstack_cpu_seconds, run.functions_cpu_seconds), ds.count)
            log(f"{name} pipeline incremental: {run.seconds:.2f} s ({sum(run.requests.values())} requests)")
            for peer_name in ("s5cmd", "aws s3 sync"):
                dest = self.kept.get(peer_name)
                if not dest:
                    continue
                peer = PEERS[peer_name]
                label = peer_name if peer_name.endswith("sync") else f"{peer_name} sync"
                pr = self.result(name, label, PEER, ds.count, 0)
                cmd = peer.sync(self.stack.producer_bucket, ds.prefix, dest, self.stack.kms_key_arn)
                measured, m = self.meter.around(partial(run_measured, cmd, env=peer.env()))
                pr.seconds.append(measured.seconds)
                pr.peak_rss_mb = max(pr.peak_rss_mb or 0.0, measured.peak_rss_mb)
                m.client_cpu_seconds = measured.cpu_seconds
                self.account(pr, m, ds.count)
                copied = m.requests.get("s3.CopyObject", 0)
                pr.notes = f"{copied} objects copied again" if copied else "nothing copied"
                log(f"{name} {label}: {measured.seconds:.2f} s")
        for dest in self.kept.values():
            data.delete_bucket(self.s3, dest)
        self.kept.clear()

    def planner_set(self) -> None:
        small, large = data.dataset_c(self.args.c_small, self.args.c_large)
        log(f"data set C: seeding {large.count} keys of 0-1 bytes")
        started = time.perf_counter()
        data.seed_dataset(self.stack.producer_s3, self.stack.producer_bucket, large, threads=48)
        log(f"data set C seeded in {time.perf_counter() - started:.1f} s")
        planning.dry_run(self.pipeline, "zz-warm/")
        rows = {
            (ds.count, kind): PlannerResult(keys=ds.count, contender=kind)
            for ds in (small, large)
            for kind in (report.PLANNER_DRY_RUN, report.PAGINATOR, report.BARE_HTTP)
        }
        for _rep in range(self.args.c_repeat):
            for ds in (small, large):
                pids = environment_pids(PLANNER_WORKER)
                reset_peak_rss(pids)
                invoked_at = time.time()
                run = planning.dry_run(self.pipeline, ds.prefix)
                row = rows[(ds.count, report.PLANNER_DRY_RUN)]
                row.seconds.append(planning.planning_seconds(run, invoked_at))
                rss = peak_rss_mb(environment_pids(PLANNER_WORKER) or pids)
                row.peak_rss_mb = max(filter(None, [row.peak_rss_mb, rss]), default=None)
                if run.keys_selected != ds.count:
                    log(f"planner dry run saw {run.keys_selected} keys, expected {ds.count}")
                for kind, what in ((report.PAGINATOR, "list"), (report.BARE_HTTP, "http-list")):
                    measured = run_measured(raw_command(what, self.stack.producer_bucket, ds.prefix), cwd=ROOT)
                    answer = json.loads(measured.output.splitlines()[-1])
                    rows[(ds.count, kind)].seconds.append(answer["seconds"])
                    rows[(ds.count, kind)].peak_rss_mb = measured.peak_rss_mb
                log(
                    f"C{ds.count} planner dry run: {row.seconds[-1]:.2f} s, paginator "
                    f"{rows[(ds.count, report.PAGINATOR)].seconds[-1]:.2f} s"
                )
        self.planner += list(rows.values())
        log(f"C{large.count}: listing with {planning.WORKERS} planner workers, ListObjectsV2 +300 ms")
        for row in planning.listing(self.pipeline, large, self.args.c_repeat):
            self.planner.append(row)
            log(f"{row.contender}: {row.median:.2f} s")
        self.pipeline.restore()
        if not self.args.skip_enqueue_pass:
            row = planning.enqueue_pass(self.pipeline, small)
            self.planner.append(row)
            log(f"C{small.count} {row.contender}: {row.median:.2f} s, {row.keys} keys, {row.extra}")
        self.inventory()

    def inventory(self) -> None:
        """Reading a synthetic inventory report's file (no LocalStack: bench/inventory.py)."""
        rows = self.args.inventory_rows
        measured = run_measured([sys.executable, "-m", "bench.inventory", "--rows", str(rows)], cwd=ROOT)
        answer = json.loads(measured.output.splitlines()[-1])
        row = PlannerResult(keys=int(answer["rows"]), contender="inventory report (read + select, one process)")
        row.seconds.append(answer["wall_seconds"])
        row.peak_rss_mb = answer["peak_rss_mb"]
        row.extra = {k: answer[k] for k in ("rows_per_core_second", "cpu_seconds", "file_mb", "selected")}
        self.planner.append(row)
        log(f"inventory report of {rows:,} rows: {answer['rows_per_core_second']:,.0f} rows/s per core")

    # ------------------------------------------------------------------ profile

    def profile(self, ds: data.DataSet) -> None:
        """One extra pipeline run of A under py-spy (LocalStack, --gil), not counted in the timings."""
        pid = localstack_pid()
        if pid is None:
            log("profile skipped: LocalStack's pid is unknown")
            return
        self.use(VARIANTS[DEFAULT])
        self.pipeline.reset()
        out = WORK / "profiles" / f"localstack-pipeline-{ds.name}.txt"
        copiers = environment_pids(COPIER)  # warm from the timed runs: profiled too
        outs = [WORK / "profiles" / f"copier-{p}-pipeline-{ds.name}.txt" for p in copiers]
        with contextlib.ExitStack() as stack:
            stack.enter_context(Profiler(pid, out))
            for copier, copier_out in zip(copiers, outs, strict=True):
                stack.enter_context(Profiler(copier, copier_out))
            run = self.pipeline.run({"full": True}, timeout=self.args.run_timeout)
        self.meta["copier_profile"] = summarise_client(outs)
        summary = summarise(out)
        summary["run_seconds"] = run.seconds
        summary["requests"] = sum(run.requests.values())
        summary["raw"] = str(out.relative_to(ROOT))
        self.meta["profile"] = summary
        log(f"profiled run of {ds.name}: {run.seconds:.2f} s, {summary['samples']} samples")

    # ------------------------------------------------------------------ all of it

    def run(self) -> int:
        args = self.args
        began = time.perf_counter()
        leftover = data.empty(self.stack.producer_s3, self.stack.producer_bucket)
        if leftover:
            log(f"emptied the producer bucket ({leftover} objects): the pipeline's runs list all of it")
        settings = self.pipeline.settings()
        self.default_concurrency = int(settings.get("MaximumConcurrency") or 10)
        self.pollers = min(self.default_concurrency, int(os.environ.get("S3H_ESM_POLLERS") or 5))
        self.meta = {
            "machine": report.machine(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "endpoint": ENDPOINT,
            "args": {k: v for k, v in vars(args).items() if not callable(v)},
            "pipeline": settings,
            "pollers": self.pollers,
            "localstack_env": {k: v for k, v in os.environ.items() if k.startswith(("LAMBDA_", "SQS_", "S3H_ESM"))},
        }
        variants = [DEFAULT, "pipeline stream"] + ([] if args.skip_one_poller else ["pipeline server-side, 1 poller"])
        if args.skip_stream:
            variants.remove("pipeline stream")
        peers = [p for p in PEERS if p not in args.skip]
        slow = {"rclone", "boto3 GET+PUT loop", "pipeline stream", "pipeline server-side, 1 poller"}
        try:
            if "A" in args.sets:
                a = data.dataset_a(args.a_objects, args.a_kib * 1024)
                self.copy_set(a, variants, peers, list(RAW_OF), args.repeat, slow, rerun=True)
                if args.profile or args.costs:
                    data.seed_dataset(self.stack.producer_s3, self.stack.producer_bucket, a)
                    if args.costs:
                        self.costs = costs.measure(self.stack, a, self.pipeline.stores)
                        log(
                            "LocalStack CPU per request measured: "
                            + ", ".join(f"{c.request} {c.localstack_cpu_ms:.1f} ms" for c in self.costs)
                        )
                    if args.profile:
                        self.profile(a)
                    data.empty(self.stack.producer_s3, self.stack.producer_bucket, a.prefix)
            if "B" in args.sets:
                b = data.dataset_b(args.b_objects, args.b_mib * 1024 * 1024)
                self.copy_set(b, variants[:2], peers, list(RAW_OF), args.repeat, slow)
            if "L" in args.sets:
                large = data.dataset_l(int(args.l_gib * data.GIB))
                # one repetition each: the copies are long, and bound by LocalStack's byte handling
                self.copy_set(large, variants[:2], peers, ["boto3 CopyObject loop"], 1, set())
            if "C" in args.sets:
                self.planner_set()
                if args.cleanup:
                    data.empty(self.stack.producer_s3, self.stack.producer_bucket, "c/")
        finally:
            self.pipeline.restore()
            self.pipeline.reset_quietly()
        self.meta["seconds"] = time.perf_counter() - began
        return self.finish()

    def finish(self) -> int:
        lines = [
            "## s3-hydration benchmark",
            "",
            f"Machine: {self.meta['machine']}. LocalStack (one process) on {urlsplit(ENDPOINT).netloc}; "
            f"{self.args.repeat} interleaved repetitions per contender ({self.args.repeat_slow} for the slow ones), "
            "median shown; `pipeline ÷ this` above 1: the pipeline is faster.",
            f"Pipeline: {report.describe_settings(self.meta['pipeline'], self.pollers)}.",
            "",
            report.copy_table(self.results, DEFAULT),
        ]
        timeline = report.timeline_table(self.results)
        if timeline:
            lines += ["### Pipeline runs, phase by phase (median run of each row)", "", timeline]
        mix = report.requests_table(self.results)
        if mix:
            lines += ["### Requests per object, by operation (LocalStack's log, latest repetition)", "", mix]
        if self.costs:
            lines += [
                "### LocalStack CPU per request, by kind (each measured alone, as the pipeline makes it)",
                "",
                report.costs_table(self.costs),
            ]
        aws = report.aws_table(self.results)
        if aws:
            lines += [
                "### What the pipeline's runs would cost on AWS (modeled from their books at list prices; "
                "hydration_cli.ops.prices)",
                "",
                aws,
            ]
        if self.planner:
            lines += ["### Planner (data set C)", "", report.planner_table(self.planner)]
        if profile := self.meta.get("profile"):
            lines += [
                f"### Where LocalStack's CPU went during one pipeline run of A ({profile['samples']} GIL samples, "
                f"py-spy --gil; run took {profile['run_seconds']:.1f} s)",
                "",
                "| share | what |",
                "|--:|---|",
                *[f"| {share}% | {what} |" for what, share in profile["shares"].items()],
                "",
            ]
        if (copier := self.meta.get("copier_profile")) and copier["samples"]:
            lines += [
                f"### Where the copier's CPU went during the same run ({copier['samples']} GIL samples of its "
                "environments, by the library in the innermost frame)",
                "",
                "| share | what |",
                "|--:|---|",
                *[f"| {share}% | {what} |" for what, share in copier["shares"].items()],
                "",
            ]
        closing = report.closing_lines(self.results, self.planner, DEFAULT, list(PEERS))
        lines += ["```", *closing, "```", ""]
        markdown = "\n".join(lines)
        self.meta["costs"] = [vars(c) | {"per_object_ms": c.per_object_ms} for c in self.costs]
        path = report.write(self.results, self.planner, self.meta, markdown)
        print(markdown)
        print(f"results: {path.relative_to(ROOT)} and bench/results/latest.md ({self.meta['seconds']:.0f} s)")
        print("\n".join(closing), flush=True)
        return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="ABLC", help="data sets to run (default ABLC)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per contender (median reported)")
    parser.add_argument("--repeat-slow", type=int, default=1, help="repetitions of the slow contenders")
    parser.add_argument("--c-repeat", type=int, default=2, help="repetitions of the listing measurements")
    parser.add_argument("--a-objects", type=int, default=2000)
    parser.add_argument("--a-kib", type=int, default=16)
    parser.add_argument("--b-objects", type=int, default=16)
    parser.add_argument("--b-mib", type=int, default=32)
    parser.add_argument("--l-gib", type=float, default=1.0, help="size of data set L's one object, GiB")
    parser.add_argument("--c-small", type=int, default=10_000)
    parser.add_argument("--c-large", type=int, default=50_000)
    parser.add_argument("--skip", action="append", default=[], choices=list(PEERS), help="leave a peer out")
    parser.add_argument("--skip-stream", action="store_true", help="only the default copy mode")
    parser.add_argument("--skip-one-poller", action="store_true", help="no run of A with one poll loop")
    parser.add_argument("--skip-enqueue-pass", action="store_true")
    parser.add_argument("--inventory-rows", type=int, default=5_000_000, help="rows of the synthetic inventory report")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--no-costs", dest="costs", action="store_false", help="no LocalStack CPU per request")
    parser.add_argument("--no-cleanup", dest="cleanup", action="store_false", help="leave data set C in place")
    parser.add_argument("--poll-interval", type=float, default=0.2, help="seconds between polls of a run's status")
    parser.add_argument("--run-timeout", type=float, default=600)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the consumer account on the local endpoint, for everything that uses the default session
    os.environ.setdefault("AWS_ENDPOINT_URL", ENDPOINT)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "111111111111")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    client("s3").list_buckets()  # fail early when LocalStack is not there
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
