"""A LocalStack Lambda runtime executor that runs Python functions as local subprocesses (no Docker).

LocalStack's Lambda service creates one ``RuntimeExecutor`` per execution environment and calls ``start``
(cold start), ``invoke`` (one invocation at a time) and ``stop``. The Docker executor does this with a
container and an init binary speaking HTTP; this one starts ``runtime/bootstrap.py`` on a bare, isolated
Python interpreter with the function's unzipped deployment package as its code, and talks to it over pipes.
``invoke`` returns the ``InvocationResult`` (payload and logs) itself, so LocalStack stores the logs in
CloudWatch Logs as for Docker. EMF log lines are also sent to CloudWatch PutMetricData, as CloudWatch Logs
does on AWS. Tests can make an invocation crash or time out through ``s3h_localstack.faults`` (Lambda rules).

Configuration (environment of the LocalStack process, set by tools/localstack/up.sh):
- ``S3H_LAMBDA_PYTHON<major><minor>`` (e.g. ``S3H_LAMBDA_PYTHON313``): interpreter for runtime pythonX.Y.
- ``S3H_LAMBDA_RUNTIME_LIBS<major><minor>``: directories (os.pathsep separated) appended to ``sys.path``
  after the standard library: the libraries the AWS runtime provides (boto3 and its dependencies).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localstack import config
from localstack.aws.accounts import get_account_id_from_access_key_id
from localstack.aws.api.lambda_ import PackageType
from localstack.aws.connect import connect_to
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

from s3h_localstack import emf, faults

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).resolve().parent / "runtime" / "bootstrap.py"
RECORD_SEPARATOR = "\x1e"
PYTHON_RUNTIME = re.compile(r"^python(\d)\.(\d+)$")
LOG_TAIL_LINES = 2000


def _runtime_suffix(runtime: str | None) -> str:
    match = PYTHON_RUNTIME.match(runtime or "")
    if not match:
        raise LambdaRuntimeException(
            f"Runtime {runtime!r} is not supported by the s3h-local executor (Python zip functions only)"
        )
    return match.group(1) + match.group(2)


def interpreter_for(runtime: str | None) -> str:
    suffix = _runtime_suffix(runtime)
    version = f"{suffix[0]}.{suffix[1:]}"
    candidates = [os.environ.get(f"S3H_LAMBDA_PYTHON{suffix}", "")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted((str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")), reverse=True)
    candidates.append(shutil.which(f"python{version}") or "")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and "shims" not in candidate:
            return candidate
    raise LambdaRuntimeException(
        f"No interpreter for {runtime}: set S3H_LAMBDA_PYTHON{suffix} to a python{version} executable"
    )


def runtime_libs_for(runtime: str | None) -> list[str]:
    value = os.environ.get(f"S3H_LAMBDA_RUNTIME_LIBS{_runtime_suffix(runtime)}", "")
    return [p for p in value.split(os.pathsep) if p]


def _descendants(pid: int) -> list[int]:
    """Pids of every process below ``pid`` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class _RuntimeProcess:
    """One bootstrap.py subprocess: sends it invocations, splits its output into logs and messages."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, log_tail: deque[str]) -> None:
        self._token = secrets.token_hex(8)
        self._marker = RECORD_SEPARATOR + self._token
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._log_tail = log_tail
        inbox_read, inbox_write = os.pipe()
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [*argv, "--in-fd", str(inbox_read), "--token", self._token],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(inbox_read,),
            )
        except BaseException:
            os.close(inbox_write)
            raise
        finally:
            os.close(inbox_read)
        self._inbox = os.fdopen(inbox_write, "wb")
        self._reader = threading.Thread(target=self._read, name=f"s3h-lambda-{self.proc.pid}", daemon=True)
        self._reader.start()

    def _add_line(self, line: str) -> None:
        with self._lines_lock:
            self._lines.append(line)
        self._log_tail.append(line)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            index = line.find(self._marker)
            if index < 0:
                self._add_line(line)
                continue
            if line[:index]:
                self._add_line(line[:index])
            try:
                self._messages.put(json.loads(line[index + len(self._marker) :]))
            except ValueError:
                LOG.warning("Malformed message from Lambda runtime %s: %r", self.proc.pid, line)
        self._messages.put({"type": "exit", "code": self.proc.wait()})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        try:
            self._inbox.write(json.dumps(message).encode() + b"\n")
            self._inbox.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def next_message(self, timeout: float | None) -> dict[str, Any] | None:
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def take_lines(self) -> list[str]:
        with self._lines_lock:
            lines, self._lines = self._lines, []
        return lines

    def drain(self, timeout: float = 2.0) -> None:
        """After the process ended: wait until its last output has been read."""
        self._reader.join(timeout)

    def peak_rss_mb(self) -> int | None:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return math.ceil(int(match.group(1)) / 1024) if match else None

    def crash(self) -> None:
        """SIGKILL to the runtime and everything it started, as the OOM killer would; nothing else."""
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        self.crash()
        with contextlib.suppress(OSError):
            self._inbox.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            LOG.warning("Lambda runtime process %s did not exit after SIGKILL", self.proc.pid)
        self.drain()


class _MetricsForwarder:
    """Sends PutMetricData requests from EMF log lines, in order, off the invocation path."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str, list[dict[str, Any]]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="s3h-emf-forwarder", daemon=True)
        self._thread.start()

    def submit(self, account_id: str, region: str, lines: list[str]) -> None:
        requests = emf.put_metric_data_requests(lines)
        if requests:
            self._queue.put((account_id, region, requests))

    def _run(self) -> None:
        while True:
            account_id, region, requests = self._queue.get()
            try:
                client = connect_to(aws_access_key_id=account_id, region_name=region).cloudwatch
                for request in requests:
                    client.put_metric_data(**request)
            except Exception:
                LOG.exception("Could not forward EMF metrics to CloudWatch (account %s)", account_id)


_FORWARDER: _MetricsForwarder | None = None
_FORWARDER_LOCK = threading.Lock()


def _metrics_forwarder() -> _MetricsForwarder:
    global _FORWARDER
    with _FORWARDER_LOCK:
        if _FORWARDER is None:
            _FORWARDER = _MetricsForwarder()
        return _FORWARDER


def _exit_reason(code: int | None) -> str:
    """How the Lambda runtime reports a process exit: "exit status 3", "signal: killed"."""
    if code is not None and code < 0:
        name = "killed" if -code == signal.SIGKILL else signal.Signals(-code).name
        return f"signal: {name}"
    return f"exit status {code}"


class _ScheduledCrash:
    """Crashes a runtime process ``after_s`` from now unless cancelled first (a Lambda fault rule)."""

    def __init__(self, process: _RuntimeProcess, after_s: float) -> None:
        self._lock = threading.Lock()
        self._fired = False
        self._cancelled = False
        self._process = process
        self._timer = threading.Timer(after_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._fired = True
        self._process.crash()

    def cancel(self) -> bool:
        """Stops the timer; True if the process was crashed."""
        self._timer.cancel()
        with self._lock:
            self._cancelled = True
            return self._fired


def _aws_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    """Runs a Python zip function in a long-lived local subprocess per execution environment."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._env: dict[str, str] = {}
        self._process: _RuntimeProcess | None = None
        self._lock = threading.Lock()  # one invocation at a time
        self._state_lock = threading.Lock()  # guards _process and _stopped; never held while waiting
        self._log_tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._tmp_dir: str | None = None
        # (init duration ms, init log lines, init error or None) of a start not yet reported by an invoke
        self._pending_init: tuple[float, list[str], dict[str, Any] | None] | None = None
        self._stopped = False

    # -- LocalStack's RuntimeExecutor interface ------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        self._tmp_dir = tempfile.mkdtemp(prefix=f"lambda-env-{self.id}-")
        self._env = self._environment(env_vars)
        self._spawn()

    def stop(self) -> None:
        # Not under self._lock: stopping interrupts a running invocation (it ends with Runtime.ExitError).
        with self._state_lock:
            self._stopped = True
        self._kill()
        if self._tmp_dir:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        host = config.GATEWAY_LISTEN[0].host
        return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - comparison only

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{self.get_endpoint_from_executor()}:{port}/_localstack_lambda/{self.id}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self._lock:
            return self._invoke(payload)

    def get_logs(self) -> str:
        return "\n".join(self._log_tail)

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.package_type != PackageType.Zip:
            raise LambdaRuntimeException("The s3h-local executor runs zip packages only (no container images)")
        interpreter_for(function_version.config.runtime)
        if function_version.config.layers:
            LOG.warning("Layers are ignored by the s3h-local executor (%s)", function_version.qualified_arn)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            interpreter_for("python3.13")
        except LambdaRuntimeException as exc:
            LOG.warning("%s", exc)
            return False
        return True

    # -- internals -----------------------------------------------------------------------------------------

    def _code_dir(self) -> str:
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException("Function has no code")
        return str(code.get_unzipped_code_location())

    def _environment(self, env_vars: dict[str, str]) -> dict[str, str]:
        fv = self.function_version
        env = {k: str(v) for k, v in env_vars.items() if v is not None}
        # The function runs with its role's session credentials (LocalStack's STS encodes the role's account
        # in the key id). If they would not map to the function's account, use the account id as key id.
        if get_account_id_from_access_key_id(env.get("AWS_ACCESS_KEY_ID", "")) != fv.id.account:
            env.update(
                AWS_ACCESS_KEY_ID=fv.id.account,
                AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - LocalStack
            )
            env.pop("AWS_SESSION_TOKEN", None)
        assert self._tmp_dir is not None
        env.update(
            {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "en_US.UTF-8",
                "LAMBDA_TASK_ROOT": self._code_dir(),
                "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{fv.config.runtime}",
                "TMPDIR": self._tmp_dir,
                "HOME": self._tmp_dir,
                # no host AWS config or credential files leak into the function
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        env.update(fv.config.environment or {})
        return env

    def _argv(self) -> list[str]:
        runtime = self.function_version.config.runtime
        argv = [interpreter_for(runtime), "-I", "-S", "-u", "-X", "utf8", str(BOOTSTRAP)]
        argv += ["--task-root", self._code_dir(), "--handler", self.function_version.config.handler or ""]
        for lib in runtime_libs_for(runtime):
            argv += ["--lib", lib]
        return argv

    def _spawn(self) -> None:
        """Cold start: start the runtime and wait until the handler is imported (or failed to)."""
        started = time.perf_counter()
        process = _RuntimeProcess(self._argv(), self._env, self._code_dir(), self._log_tail)
        with self._state_lock:
            stopped = self._stopped
            if not stopped:
                self._process = process
        if stopped:
            process.kill()
            raise LambdaRuntimeException(f"Execution environment {self.id} is stopped")
        message = process.next_message(timeout=config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT)
        init_ms = (time.perf_counter() - started) * 1000
        if message is None:
            self._kill()
            raise LambdaRuntimeException(
                f"Init of {self.function_version.qualified_arn} timed out; logs:\n{self.get_logs()}"
            )
        error: dict[str, Any] | None = None
        if message["type"] == "init_error":
            error = message["error"]
        elif message["type"] == "exit":
            process.drain()
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"Runtime exited during init with exit status {message['code']}",
            }
        elif message["type"] != "ready":
            error = {"errorType": "Runtime.Unknown", "errorMessage": f"Unexpected message {message}"}
        lines = [f"INIT_START Runtime Version: {self.function_version.config.runtime} (s3h-local)"]
        self._pending_init = (init_ms, lines + process.take_lines(), error)

    def _kill(self) -> None:
        with self._state_lock:
            process, self._process = self._process, None
        if process is not None:
            process.kill()

    def _invoke(self, payload: dict[str, str]) -> InvocationResult:
        fv = self.function_version
        request_id = payload["invoke-id"]
        process = self._process
        if process is None or not process.alive():
            self._kill()
            self._spawn()  # re-init after a timeout or crash, as Lambda does (raises if stopped)
            process = self._process
        if process is None:
            raise LambdaRuntimeException(f"Execution environment {self.id} is stopped")
        init_ms: float | None = None
        lines: list[str] = []
        error: dict[str, Any] | None = None
        if self._pending_init is not None:
            init_ms, lines, error = self._pending_init
            self._pending_init = None
        lines.append(f"START RequestId: {request_id} Version: {fv.id.qualifier}")
        status = ""
        result_payload = b""
        timeout_s = fv.config.timeout
        started = time.perf_counter()
        if error is not None:
            # a failed init is retried by the next invocation
            error = {**error, "requestId": request_id}
            self._kill()
        else:
            fault = faults.REGISTRY.lambda_fault(fv.id.function_name, payload.get("payload") or "")
            sent = process.send(
                {
                    "type": "invoke",
                    "request_id": request_id,
                    "invoked_function_arn": payload["invoked-function-arn"],
                    "payload": payload.get("payload") or "",
                    "trace_id": payload.get("trace-id") or "",
                    "deadline_ms": int(time.time() * 1000) + timeout_s * 1000,
                }
            )
            deadline = time.monotonic() + timeout_s
            crash = _ScheduledCrash(process, fault.after_s) if fault and fault.action == "kill" else None
            if fault and fault.action == "timeout":
                deadline = min(deadline, time.monotonic() + fault.after_s)
            ended = faults.REGISTRY.invocation_started(
                faults.RunningInvocation(fv.id.function_name, request_id, payload.get("payload") or "", process.crash)
            )
            message: dict[str, Any] | None = {"type": "exit", "code": None} if not sent else None
            while message is None:
                message = process.next_message(timeout=max(0.0, deadline - time.monotonic()))
                if message is None:
                    break
                if message.get("type") in ("result", "error") and message.get("request_id") != request_id:
                    message = None  # a late answer to an earlier, timed-out invocation
            ended()
            fired = crash.cancel() if crash else message is None
            if fault and fired:
                LOG.info("fault %s: %s of %s, request %s", fault.rule.id, fault.action, fv.id.function_name, request_id)
            elif fault:
                fault.release()  # the invocation ended before the fault was due: the rule stays armed
            if message is None:
                status = "timeout"
                self._kill()
                lines += process.take_lines()
                lines.append(f"{_aws_timestamp()} {request_id} Task timed out after {timeout_s:.2f} seconds")
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
                }
            elif message["type"] == "exit":
                status = "error"
                self._kill()
                lines += process.take_lines()
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                    + _exit_reason(message.get("code")),
                }
            elif message["type"] == "error":
                error = message["error"]
                lines += process.take_lines()
            else:
                result_payload = message["payload"].encode()
                lines += process.take_lines()
        duration_ms = (time.perf_counter() - started) * 1000
        memory = process.peak_rss_mb() or 0
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms + (init_ms or 0))} ms\t"
            f"Memory Size: {fv.config.memory_size} MB\tMax Memory Used: {memory} MB\t"
        )
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        if status:
            report += f"Status: {status}\t"
        lines += [f"END RequestId: {request_id}", report]
        _metrics_forwarder().submit(fv.id.account, fv.id.region, lines)
        if error is not None:
            result_payload = json.dumps(error).encode()
        return InvocationResult(request_id, result_payload, is_error=error is not None, logs="\n".join(lines))
