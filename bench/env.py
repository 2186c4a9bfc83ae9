"""The bench's view of the local deployment: accounts, clients, stack outputs, measured subprocesses, the
LocalStack request log and the Lambda execution environments' memory.

Everything runs against the local LocalStack (127.0.0.1:$S3H_LOCALSTACK_PORT, default 4566) with both stacks deployed
(`make bench` sees to it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from tools.deploy_stacks import LOCALSTACK_CONSUMER_ACCOUNT as CONSUMER_ACCOUNT
from tools.deploy_stacks import LOCALSTACK_ENDPOINT as ENDPOINT
from tools.deploy_stacks import LOCALSTACK_PRODUCER_ACCOUNT as PRODUCER_ACCOUNT

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"  # gitignored: tools venv, configs, scratch
RESULTS = ROOT / "bench" / "results"
TOOLS_VENV = WORK / "venv"
OUTPUTS = ROOT / ".localstack" / "outputs.json"
LOCALSTACK_LOG = ROOT / ".localstack" / "localstack.log"
LOCALSTACK_PID = ROOT / ".localstack" / "localstack.pid"

REGION = "us-east-1"
SECRET = "test"  # noqa: S105 - LocalStack's dummy secret
MB = 1_000_000  # MB/s in the tables is decimal megabytes per second


def account_env(account: str = CONSUMER_ACCOUNT) -> dict[str, str]:
    """The process environment of a CLI contender: LocalStack endpoint, one account's keys, no profiles."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": account,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return env


def client(service: str, account: str = CONSUMER_ACCOUNT, pool: int = 64, config: Config | None = None) -> Any:
    session = boto3.Session(aws_access_key_id=account, aws_secret_access_key=SECRET, region_name=REGION)
    base = Config(
        retries={"mode": "standard", "max_attempts": 6},
        max_pool_connections=pool,
        read_timeout=300,
        connect_timeout=5,
    )
    return session.client(service, endpoint_url=ENDPOINT, config=base.merge(config) if config else base)  # type: ignore[call-overload]


@dataclass
class Stack:
    """The deployed stacks' outputs (.localstack/outputs.json, written by tools/deploy_stacks.py)."""

    outputs: dict[str, str]

    @classmethod
    def load(cls, path: Path = OUTPUTS) -> Stack:
        return cls(json.loads(path.read_text()))

    @property
    def producer_bucket(self) -> str:
        return self.outputs["ProducerBucketName"]

    @property
    def consumer_bucket(self) -> str:
        return self.outputs["ConsumerBucketName"]

    @property
    def kms_key_arn(self) -> str:
        return self.outputs["ConsumerKmsKeyArn"]

    @property
    def consumer_stack(self) -> str:
        return self.outputs.get("ConsumerStackName", "s3-hydration-consumer")

    @cached_property
    def consumer_s3(self) -> Any:
        return client("s3")

    @cached_property
    def producer_s3(self) -> Any:
        return client("s3", PRODUCER_ACCOUNT)


# --------------------------------------------------------------------------- measured subprocesses


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str  # the last lines of stdout + stderr
    cpu_seconds: float | None = None  # user + system CPU of the command (and its children)


def run_measured(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> Measured:
    """Run a command; wall seconds and its peak RSS, output captured to a temporary file.

    The peak RSS comes from GNU time (`/usr/bin/time -f %M`), which forks from a small process: a child forked
    straight from this (large) Python process would carry this process's RSS into its ru_maxrss, because
    Linux keeps the pre-exec high-water mark. Without GNU time, wait4's ru_maxrss is used (an upper bound)."""
    gnu_time = Path("/usr/bin/time")
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as rss:
        if gnu_time.exists():
            argv = [str(gnu_time), "-f", "%U %S\n%M", "-o", rss.name, *argv]
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)  # noqa: S603
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        reported = rss.read().strip().splitlines()
    tail = "\n".join(text.strip().splitlines()[-15:])
    peak_kb = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime  # the command's, through GNU time (a child of ours)
    return Measured(seconds, peak_kb / 1024, proc.returncode, tail, cpu)


# --------------------------------------------------------------------------- LocalStack request log

_REQUEST = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) .*?localstack\.request\.aws\s+: AWS ([a-z0-9-]+\.[A-Za-z0-9]+) => (\d+)",
    re.MULTILINE,
)


@dataclass
class Window:
    """The requests LocalStack logged in a window: counts per `service.Operation`, and when each was answered
    (epoch seconds; LocalStack logs local time to the millisecond)."""

    lines: list[tuple[float, str, int]]

    @property
    def counts(self) -> Counter[str]:
        return Counter(op for _, op, _ in self.lines)

    def times(self, *operations: str) -> list[float]:
        return [at for at, op, _ in self.lines if op in operations]


class RequestLog:
    """The requests LocalStack logs (`AWS s3.CopyObject => 200`): every request that reaches its gateway from
    a client (functions, tools, the bench, and the extra poll loops of our ESM plugin, which use their own
    clients). LocalStack's own internal calls (its ESM loop's ReceiveMessage and DeleteMessageBatch, log and
    metric forwarding) are not logged."""

    def __init__(self, path: Path = LOCALSTACK_LOG) -> None:
        self.path = path

    def mark(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def window(self, offset: int, settle: float = 0.5) -> Window:
        time.sleep(settle)  # the logger flushes per line, but let the last responses land
        try:
            with self.path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return Window([])
        lines = []
        for match in _REQUEST.finditer(text):
            at = datetime.fromisoformat(match.group(1)).timestamp()  # naive: local time, as logging writes it
            lines.append((at, match.group(2), int(match.group(3))))
        return Window(lines)

    def since(self, offset: int, settle: float = 0.5) -> Counter[str]:
        return self.window(offset, settle).counts


# --------------------------------------------------------------------------- Lambda execution environments


def environment_pids(handler: str) -> list[int]:
    """Execution environments (`python3.13 ... bootstrap.py ... --handler <handler>`) of one function."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"bootstrap.py") for a in argv) and (not handler or handler.encode() in argv):
            pids.append(int(entry.name))
    return sorted(pids)


def reset_peak_rss(pids: list[int]) -> None:
    """Reset the processes' peak RSS (VmHWM) to their current RSS (`echo 5 > /proc/PID/clear_refs`)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pids: list[int]) -> float | None:
    """The largest VmHWM of the processes (what the executor reports as Max Memory Used)."""
    peaks = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            peaks.append(int(match.group(1)) / 1024)
    return max(peaks) if peaks else None


def environments_cpu() -> dict[int, float]:
    """CPU seconds so far of every Lambda execution environment (any function), by pid."""
    used = {}
    for pid in environment_pids(""):
        with contextlib.suppress(OSError, IndexError, ValueError):
            used[pid] = cpu_seconds(pid)
    return used


def cpu_since(before: dict[int, float]) -> float:
    """CPU seconds the execution environments used since `before` (environments started since: all of theirs)."""
    return sum(used - before.get(pid, 0.0) for pid, used in environments_cpu().items())


def localstack_pid() -> int | None:
    try:
        pid = int(LOCALSTACK_PID.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (its own threads; not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
