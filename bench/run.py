"""`make bench`: the pipeline against its peers and the raw ceilings, on the local LocalStack.

Data sets (sizes overridable): A many small objects, B few large ones, C keys for the planner alone. Every copy
contender copies identical data into a fresh, empty destination, SSE-KMS under the consumer key; repetitions are
interleaved (rep 1 of every contender, then rep 2, ...) so that the machine's drift spreads over all of them.
Prints the markdown table and, last, the closing line; writes bench/results/<timestamp>.json and latest.md.

Expects LocalStack on 127.0.0.1:$S3H_LOCALSTACK_PORT (default 4566) with both stacks deployed and the peers in
bench/work/venv (mk/bench.mk).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bench import data, report
from bench.env import (
    ENDPOINT,
    RESULTS,
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
from bench.pipeline import PLANNER, Pipeline, PipelineRun
from bench.profile import Profiler, summarise
from bench.report import CEILING, PEER, PIPELINE, PlannerResult, Result
from hydration_cli.ops import trigger

DEFAULT_MODE = "server-side"
CEILING_OF = {"server-side": "boto3 CopyObject loop", "stream": "boto3 GET+PUT loop"}
RAW_OF = {"boto3 CopyObject loop": "copy", "boto3 GET+PUT loop": "stream"}
# Contenders run `--repeat-slow` times rather than `--repeat` (the bench must stay under 15 minutes).
SLOW = {"rclone", "boto3 GET+PUT loop", "pipeline stream"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Measure:
    """What one measured contender run cost LocalStack."""

    requests: Counter[str]
    cpu_seconds: float | None


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
        r.extra["requests"] = dict(measure.requests.most_common())

    # ------------------------------------------------------------------ contenders

    def run_pipeline(self, ds: data.DataSet, mode: str, rep: int) -> PipelineRun:
        """One full run into the emptied consumer bucket (the rep-0 run is checked)."""
        r = self.result(ds, f"pipeline {mode}", PIPELINE, ds.count, ds.bytes)
        self.pipeline.set_copy_mode(mode)
        self.pipeline.reset()
        run, measure = self.meter.around(lambda: self.pipeline.run({"full": True}, timeout=self.args.run_timeout))
        if run.status != "COMPLETED" or run.transferred != ds.count:
            r.notes = f"run {run.run_id} {run.status}: {run.transferred} copied, {run.failed} failed"
        r.seconds.append(run.seconds)
        r.peak_rss_mb = max(filter(None, [r.peak_rss_mb, run.copier_rss_mb]), default=None)
        r.extra.setdefault("drained_seconds", []).append(run.drained_seconds)
        r.extra.setdefault("runs", []).append(run.run_id)
        self.account(r, measure, ds.count)
        if rep == 0:
            r.checks = _marks(data.check(self.s3, self.stack.consumer_bucket, ds, self.stack.kms_key_arn))
        log(f"{ds.name} pipeline {mode}: {run.seconds:.2f} s (all copied at {run.drained_seconds or 0:.2f} s)")
        return run

    def run_peer(self, ds: data.DataSet, name: str, rep: int, keep: bool = False) -> None:
        peer = PEERS[name]
        r = self.result(ds, name, PEER, ds.count, ds.bytes)
        dest = self.fresh_bucket(name.split()[0], ds.name, rep)
        cmd = peer.copy(self.stack.producer_bucket, ds.prefix, dest, self.stack.kms_key_arn)
        measured, measure = self.meter.around(lambda: run_measured(cmd, env=peer.env(), timeout=self.args.run_timeout))
        self._settle(r, ds, dest, measured.seconds, measured.peak_rss_mb, measured.returncode, measured.output, rep)
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
        self._settle(r, ds, dest, measured.seconds, measured.peak_rss_mb, measured.returncode, measured.output, rep)
        self.account(r, measure, ds.count)
        log(f"{ds.name} {name} ({threads} threads): {measured.seconds:.2f} s")
        data.delete_bucket(self.s3, dest)

    def _settle(
        self, r: Result, ds: data.DataSet, dest: str, seconds: float, rss: float, code: int, output: str, rep: int
    ) -> None:
        r.seconds.append(seconds)
        r.peak_rss_mb = max(r.peak_rss_mb or 0.0, rss)
        if code != 0:
            r.notes = f"exit {code}: {output[-200:]}".replace("\n", " ").replace("|", "/")
        if rep == 0:
            r.checks = _marks(data.check(self.s3, dest, ds, self.stack.kms_key_arn))

    def best_threads(self, ds: data.DataSet, name: str, candidates: list[int], limit: int) -> int:
        """The thread count with the best rate on the first `limit` objects (one run each)."""
        if len(candidates) == 1:
            return candidates[0]
        timings: dict[int, float] = {}
        for threads in candidates:
            dest = self.fresh_bucket(f"scan{RAW_OF[name]}", ds.name, threads)
            cmd = raw_command(
                RAW_OF[name],
                self.stack.producer_bucket,
                ds.prefix,
                dest,
                self.stack.kms_key_arn,
                threads=threads,
                limit=limit,
            )
            timings[threads] = run_measured(cmd, timeout=self.args.run_timeout, cwd=ROOT).seconds
            data.delete_bucket(self.s3, dest)
        best = min(timings, key=lambda t: timings[t])
        log(
            f"{ds.name} {name} thread scan on {limit} objects: "
            + ", ".join(f"{t}: {s:.2f} s" for t, s in timings.items())
        )
        self.meta.setdefault("thread_scan", {})[f"{ds.name} {name}"] = {str(k): v for k, v in timings.items()}
        return best

    # ------------------------------------------------------------------ data sets

    def copy_set(
        self, ds: data.DataSet, scan: dict[str, list[int]], scan_limit: int, rerun: bool, profile: bool = False
    ) -> None:
        log(f"data set {ds.name}: seeding {ds.count} objects, {ds.bytes / 2**20:.0f} MiB")
        data.seed_dataset(self.stack.producer_s3, self.stack.producer_bucket, ds)
        threads = {name: self.best_threads(ds, name, scan[name], scan_limit) for name in RAW_OF}
        modes = [DEFAULT_MODE, "stream"] if not self.args.skip_stream else [DEFAULT_MODE]
        for rep in range(self.args.repeat):
            slow_too = rep < self.args.repeat_slow  # the slow contenders get fewer repetitions
            for mode in modes if rep % 2 == 0 else list(reversed(modes)):
                if mode == DEFAULT_MODE or slow_too:
                    self.run_pipeline(ds, mode, rep)
            for name in PEERS:
                if name in self.args.skip or (name in SLOW and not slow_too):
                    continue
                self.run_peer(ds, name, rep, keep=rerun and rep == self.args.repeat - 1)
            for name in RAW_OF:
                if name not in SLOW or slow_too:
                    self.run_raw(ds, name, rep, threads[name])
        if rerun:
            self.rerun(ds)
        if profile:
            self.profile(ds)
        data.empty(self.stack.producer_s3, self.stack.producer_bucket, ds.prefix)

    def rerun(self, ds: data.DataSet) -> None:
        """Nothing changed: the pipeline's incremental run and `sync` over an already-copied destination."""
        name = f"{ds.name} re-run"
        self.pipeline.set_copy_mode(DEFAULT_MODE)  # the last pipeline run left the destination filled
        for _rep in range(self.args.repeat):
            r = self.result(name, "pipeline incremental", PIPELINE, ds.count, 0)
            run, measure = self.meter.around(lambda: self.pipeline.run({}, timeout=self.args.run_timeout))
            r.seconds.append(run.seconds)
            r.peak_rss_mb = max(filter(None, [r.peak_rss_mb, run.copier_rss_mb]), default=None)
            r.notes = (
                f"{run.keys_enqueued} keys re-enqueued (lookback), {run.skipped} skipped, {run.transferred} copied"
            )
            self.account(r, measure, ds.count)
            log(f"{name} pipeline incremental: {run.seconds:.2f} s")
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
        functions = self.pipeline.deployment.functions
        # a fresh planner environment (an environment variable change restarts it): its peak RSS is its own
        self.pipeline.configure(self.pipeline.planner_name, BENCH_ENVIRONMENT=self.token)
        functions.invoke(self.pipeline.planner_name, {"prefix": "zz-warm/", "dry_run": True})
        rows = {
            (ds.count, kind): PlannerResult(keys=ds.count, contender=kind)
            for ds in (small, large)
            for kind in ("planner dry run (list + select)", "boto3 ListObjectsV2 paginator", "bare HTTP ListObjectsV2")
        }
        for _rep in range(self.args.c_repeat):
            for ds in (small, large):
                pids = environment_pids(PLANNER)
                reset_peak_rss(pids)
                begun = time.perf_counter()
                plan = functions.invoke(self.pipeline.planner_name, {"prefix": ds.prefix, "dry_run": True})
                row = rows[(ds.count, "planner dry run (list + select)")]
                row.seconds.append(time.perf_counter() - begun)
                rss = peak_rss_mb(environment_pids(PLANNER) or pids)
                row.peak_rss_mb = max(filter(None, [row.peak_rss_mb, rss]), default=None)
                if plan.get("keys_enqueued") != ds.count:
                    log(f"planner dry run saw {plan.get('keys_enqueued')} keys, expected {ds.count}")
                for kind, what in (("boto3 ListObjectsV2 paginator", "list"), ("bare HTTP ListObjectsV2", "http-list")):
                    measured = run_measured(raw_command(what, self.stack.producer_bucket, ds.prefix), cwd=ROOT)
                    answer = json.loads(measured.output.splitlines()[-1])
                    rows[(ds.count, kind)].seconds.append(answer["seconds"])
                    rows[(ds.count, kind)].peak_rss_mb = measured.peak_rss_mb
                log(f"C{ds.count} planner dry run: {row.seconds[-1]:.2f} s")
        self.planner += list(rows.values())
        if not self.args.skip_enqueue_pass:
            self.enqueue_pass(small)

    def enqueue_pass(self, ds: data.DataSet) -> None:
        """One real planning pass (list, select, SendMessageBatch) with the copier's ESM disabled."""
        deployment = self.pipeline.deployment
        self.pipeline.configure_esm(Enabled=False)
        try:
            pids = environment_pids(PLANNER)
            reset_peak_rss(pids)
            begun = time.perf_counter()
            plan = deployment.functions.invoke(self.pipeline.planner_name, {"prefix": ds.prefix})
            seconds = time.perf_counter() - begun
            row = PlannerResult(
                keys=int(plan.get("keys_enqueued", 0)), contender="planner enqueue pass (+ SendMessageBatch)"
            )
            row.seconds.append(seconds)
            row.peak_rss_mb = peak_rss_mb(environment_pids(PLANNER) or pids)
            self.planner.append(row)
            log(f"C{ds.count} planner enqueue pass: {seconds:.2f} s, {row.keys} keys")
            deployment.client("sqs").purge_queue(QueueUrl=deployment.transfer_queue_url)
            time.sleep(1.0)
            if plan.get("run_id"):
                trigger.follow(
                    deployment,
                    plan["run_id"],
                    timeout=timedelta(seconds=120),
                    interval=0.5,
                    clock=lambda: datetime.now(UTC),
                    sleep=time.sleep,
                )
        finally:
            self.pipeline.configure_esm(Enabled=True)

    # ------------------------------------------------------------------ profile

    def profile(self, ds: data.DataSet) -> None:
        """One extra pipeline run of A under py-spy (LocalStack, --gil), not counted in the timings."""
        pid = localstack_pid()
        if pid is None:
            log("profile skipped: LocalStack's pid is unknown")
            return
        self.pipeline.set_copy_mode(DEFAULT_MODE)
        self.pipeline.reset()
        out = WORK / "profiles" / f"localstack-pipeline-{ds.name}.txt"
        with Profiler(pid, out):
            run = self.pipeline.run({"full": True}, timeout=self.args.run_timeout)
        summary = summarise(out)
        summary["run_seconds"] = run.seconds
        summary["raw"] = str(out.relative_to(ROOT))
        self.meta["profile"] = summary

    # ------------------------------------------------------------------ all of it

    def run(self) -> int:
        args = self.args
        began = time.perf_counter()
        leftover = data.empty(self.stack.producer_s3, self.stack.producer_bucket)
        if leftover:
            log(f"emptied the producer bucket ({leftover} objects): the pipeline's runs list all of it")
        esm = self.pipeline.esm()
        copier_env = self.pipeline.env(self.pipeline.copier_name)
        self.meta = {
            "machine": report.machine(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "endpoint": ENDPOINT,
            "args": {k: v for k, v in vars(args).items() if not callable(v)},
            "esm": {k: esm.get(k) for k in ("BatchSize", "MaximumBatchingWindowInSeconds")},
            "copier": {
                k: copier_env.get(k)
                for k in ("COPY_CONCURRENCY", "MULTIPART_THRESHOLD_BYTES", "PART_SIZE_BYTES", "PARTS_IN_FLIGHT")
            },
            "localstack_env": {k: v for k, v in os.environ.items() if k.startswith(("LAMBDA_", "SQS_"))},
        }
        try:
            self.pipeline.warm()
            if "A" in args.sets:
                a = data.dataset_a(args.a_objects, args.a_kib * 1024)
                scan = {name: [16, 32, 64] for name in RAW_OF}
                self.copy_set(a, scan=scan, scan_limit=min(500, a.count), rerun=True, profile=args.profile)
            if "B" in args.sets:
                b = data.dataset_b(args.b_objects, args.b_mib * 1024 * 1024)
                # CopyObject: one thread per object is the most parallelism there is; GET+PUT is bandwidth-bound
                scan = {"boto3 CopyObject loop": [b.count], "boto3 GET+PUT loop": [4, 16]}
                self.copy_set(b, scan=scan, scan_limit=b.count, rerun=False)
            if "C" in args.sets:
                self.planner_set()
                if args.cleanup:
                    data.empty(self.stack.producer_s3, self.stack.producer_bucket, "c/")
        finally:
            self.pipeline.restore()
        self.meta["seconds"] = time.perf_counter() - began
        return self.finish()

    def finish(self) -> int:
        default = f"pipeline {DEFAULT_MODE}"
        ceiling = CEILING_OF[DEFAULT_MODE]
        lines = [
            "## s3-hydration benchmark",
            "",
            f"Machine: {self.meta['machine']}. LocalStack (one process) on {urlsplit(ENDPOINT).netloc}; "
            f"{self.args.repeat} interleaved repetitions per contender, median shown; `pipeline ÷ this` above 1: "
            "the pipeline is faster.",
            f"Pipeline: ESM {self.meta['esm']}, copier {self.meta['copier']}.",
            "",
            report.copy_table(self.results, default),
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
        pipe = report.reference(self.results, "A", default)
        if pipe is not None:
            mix = ", ".join(f"{op} {n / pipe.objects:.2f}" for op, n in pipe.extra.get("requests", {}).items())
            lines += [f"Pipeline requests per object on A (LocalStack log, one run): {mix}", ""]
        markdown = "\n".join(lines)
        path = report.write(self.results, self.planner, self.meta, markdown)
        print(markdown)
        print(f"results: {path.relative_to(ROOT)} and {(RESULTS / 'latest.md').relative_to(ROOT)}")
        print(report.closing_line(self.results, default, list(PEERS), ceiling), flush=True)
        return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="ABC", help="data sets to run (default ABC)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per contender (median reported)")
    parser.add_argument("--repeat-slow", type=int, default=2, help="repetitions of rclone, GET+PUT, pipeline stream")
    parser.add_argument("--c-repeat", type=int, default=2, help="repetitions of the listing measurements")
    parser.add_argument("--a-objects", type=int, default=2000)
    parser.add_argument("--a-kib", type=int, default=16)
    parser.add_argument("--b-objects", type=int, default=16)
    parser.add_argument("--b-mib", type=int, default=32)
    parser.add_argument("--c-small", type=int, default=10_000)
    parser.add_argument("--c-large", type=int, default=50_000)
    parser.add_argument("--skip", action="append", default=[], choices=list(PEERS), help="leave a peer out")
    parser.add_argument("--skip-stream", action="store_true", help="only the default copy mode")
    parser.add_argument("--skip-enqueue-pass", action="store_true")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--no-cleanup", dest="cleanup", action="store_false", help="leave data set C in place")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between run polls")
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
