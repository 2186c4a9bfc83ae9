"""py-spy profiles of LocalStack and of the copier during a pipeline run, summarised by what the CPU went to.

LocalStack is one Python process bound by its GIL, so `py-spy record --gil` (only the thread holding the GIL
is sampled) is its CPU profile. Each sample is attributed to the first matching category below. The copier
(a Python process per execution environment, also GIL-bound) is summarised by `summarise_client`: each
sample goes to the library running in its innermost frame that names one (CLIENT_CATEGORIES), which says how
much of the copier's CPU botocore's per-request machinery takes (issue 17: a lean client path pays only if
it dominates).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from types import TracebackType

from bench.env import TOOLS_VENV

_PROVIDER = re.compile(r"([A-Za-z0-9]+)Provider\.([a-z0-9_]+) \(")
_MOTO = re.compile(r"([A-Za-z0-9]+?)(?:Response|Handler)\.([a-z0-9_]+) \(moto/")
CATEGORIES: list[tuple[str, str]] = [
    ("publish_sqs_metric", "SQS -> CloudWatch metrics (LocalStack internal, per SQS call)"),
    ("CloudwatchProvider.put_metric_data", "cloudwatch.PutMetricData (EMF lines of the functions)"),
    ("put_log_events", "logs.PutLogEvents (function logs)"),
    ("s3h_localstack/executor.py", "s3h executor (Lambda environments, log/EMF forwarding)"),
    ("ResponseLogger", "LocalStack's request log (an INFO line per request)"),
]


class Profiler:
    """`with Profiler(pid, out):` samples the process (py-spy record --gil) until the block ends."""

    def __init__(self, pid: int, out: Path, rate: int = 100, gil: bool = True) -> None:
        self.pid = pid
        self.out = out
        self.rate = rate
        self.gil = gil
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        cmd = [str(TOOLS_VENV / "bin" / "py-spy"), "record", "--pid", str(self.pid), "--nonblocking"]
        cmd += ["--rate", str(self.rate), "--format", "raw", "-o", str(self.out)]
        if self.gil:
            cmd.append("--gil")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        time.sleep(1.0)  # attach
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def categorise(stack: str) -> str:
    for needle, name in CATEGORIES:
        if needle in stack:
            return name
    if match := _PROVIDER.search(stack):
        return f"{match.group(1).lower()}.{match.group(2)}"
    if match := _MOTO.search(stack):
        return f"{match.group(1).lower()}.{match.group(2)} (moto)"
    if "event_source_mapping" in stack:
        return "Lambda ESM poller (receive, filter, delete)"
    if "services/lambda_" in stack:
        return "Lambda invoke machinery"
    if "protocol/parser" in stack or "protocol/serializer" in stack or "HandlerChain" in stack:
        return "gateway: parse, route, serialise"
    return "other (HTTP server, threads)"


def summarise(raw: Path, top: int = 14) -> dict[str, object]:
    """Samples per category, as shares of all samples (GIL-holding samples: LocalStack's CPU)."""
    counts: Counter[str] = Counter()
    total = 0
    try:
        lines = raw.read_text().splitlines()
    except OSError:
        return {"samples": 0, "shares": {}}
    for line in lines:
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        counts[categorise(stack)] += int(n)
        total += int(n)
    shares = {name: round(100 * n / total, 1) for name, n in counts.most_common(top)} if total else {}
    return {"samples": total, "shares": shares}


# Innermost frame first: the library that was running. Order matters only within one frame.
CLIENT_CATEGORIES: list[tuple[str, str]] = [
    ("botocore/auth.py", "botocore: signing (SigV4)"),
    ("botocore/serialize.py", "botocore: serialising requests"),
    ("botocore/parsers.py", "botocore: parsing responses"),
    ("botocore/validate.py", "botocore: validating parameters"),
    ("botocore/httpchecksum.py", "botocore: checksums"),
    ("botocore/", "botocore: the rest (client, endpoint, events, retries)"),
    ("urllib3/", "HTTP (urllib3, http.client, ssl, sockets)"),
    ("http/client.py", "HTTP (urllib3, http.client, ssl, sockets)"),
    ("ssl.py", "HTTP (urllib3, http.client, ssl, sockets)"),
    ("aws_lambda_powertools/logging", "Powertools logging (structured log lines)"),
    ("aws_lambda_powertools/", "Powertools (batch processor, metrics, tracer)"),
    ("pydantic", "pydantic (messages, settings, records)"),
    ("awscrt", "awscrt (CRCs)"),
    ("/hydration/", "s3-hydration's own code"),
    ("/copier/", "s3-hydration's own code"),
    ("s3h_localstack", "the local Lambda runtime (bootstrap)"),
]


def client_category(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for needle, name in CLIENT_CATEGORIES:
            if needle in frame:
                return name
    return "other (interpreter, threads, json, stdlib)"


def summarise_client(raws: list[Path], top: int = 12) -> dict[str, object]:
    """Samples per library over one or more process profiles (the copier's environments)."""
    counts: Counter[str] = Counter()
    total = 0
    for raw in raws:
        try:
            lines = raw.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            counts[client_category(stack)] += int(n)
            total += int(n)
    shares = {name: round(100 * n / total, 1) for name, n in counts.most_common(top)} if total else {}
    return {"samples": total, "shares": shares}
