"""Lambda runtime interface for one execution environment, run as a long-lived local subprocess.

The executor (``s3h_localstack.executor``) starts this script once per execution environment on a plain,
isolated Python interpreter (``python3.13 -I -S -u``): no site-packages, no PYTHONPATH, no project venv.
``sys.path`` is the function's unzipped deployment package (LAMBDA_TASK_ROOT) first, then the standard
library, then the runtime-provided libraries (boto3, as the AWS Python runtime ships it).

It imports the handler once (the cold start) and then serves invocations one at a time, like the AWS
runtime interface client, so module state survives between warm invocations.

Protocol (private to this package):
- executor -> runtime: JSON lines on the file descriptor given by ``--in-fd``:
  ``{"type": "invoke", "request_id", "invoked_function_arn", "payload", "trace_id", "deadline_ms"}``
  or ``{"type": "shutdown"}``.
- runtime -> executor: on stdout (fd 1), the same pipe as the handler's stdout and stderr, so messages are
  ordered with the logs: a line ``RS + token + JSON`` where RS is the ASCII record separator and token the
  random string given by ``--token``. Everything else on that pipe is function log output.
  ``{"type": "ready"}`` | ``{"type": "init_error", "error"}`` |
  ``{"type": "result", "request_id", "payload"}`` | ``{"type": "error", "request_id", "error"}``.

Only the standard library is used here: this runs on the bare interpreter.
"""

import argparse
import contextlib
import decimal
import importlib
import json
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

RECORD_SEPARATOR = "\x1e"


class _Channel:
    """Writes protocol messages to fd 1, interleaved in order with the function's own output."""

    def __init__(self, token: str) -> None:
        self._prefix = "\n" + RECORD_SEPARATOR + token

    def send(self, message: dict[str, Any]) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        data = (self._prefix + json.dumps(message) + "\n").encode()
        while data:
            written = os.write(1, data)
            data = data[written:]


def _log(text: str) -> None:
    """Writes runtime log lines (errors) to the function log, like the AWS runtime's log sink."""
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8", "replace")
    while data:
        written = os.write(1, data)
        data = data[written:]


class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class LambdaContext:
    """The context object of the AWS Python runtime (awslambdaric), same attribute names and types."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string on AWS too (awslambdaric reads the environment variable as is).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity()
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: str) -> None:
        sys.stdout.write(msg)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_root_log_handler() -> _RequestIdFilter:
    """The AWS Python runtime adds this handler to the root logger (the root level stays WARNING)."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _fault(error_type: str, message: str, exc: BaseException | None, request_id: str = "") -> dict[str, Any]:
    stack: list[str] = []
    if exc is not None and exc.__traceback__ is not None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
        stack = traceback.format_list(frames)
    fault = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}
    tb_text = "".join(stack)
    _log(f"[ERROR] {error_type}: {message}\nTraceback (most recent call last):\n{tb_text}")
    return fault


def _load_handler(name: str) -> tuple[Callable[..., Any] | None, dict[str, Any] | None]:
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as exc:
        return None, _fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': {exc}", None)
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, _fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc)
    except SyntaxError as exc:
        return None, _fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", exc)
    except Exception as exc:
        return None, _fault(type(exc).__name__, str(exc), exc)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _fault(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'", None
        )
    return handler, None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return math.nan
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _invoke(handler: Callable[..., Any], message: dict[str, Any], request_filter: _RequestIdFilter) -> dict[str, Any]:
    request_id = message["request_id"]
    request_filter.request_id = request_id
    if message.get("trace_id"):
        os.environ["_X_AMZN_TRACE_ID"] = message["trace_id"]
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        event = json.loads(message["payload"]) if message.get("payload") else {}
    except ValueError as exc:
        fault = _fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", None, request_id)
        return {"type": "error", "request_id": request_id, "error": fault}
    context = LambdaContext(request_id, message["invoked_function_arn"], int(message["deadline_ms"]))
    try:
        result = handler(event, context)
    except Exception as exc:
        fault = _fault(type(exc).__name__, str(exc), exc, request_id)
        return {"type": "error", "request_id": request_id, "error": fault}
    try:
        payload = json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as exc:
        fault = _fault("Runtime.MarshalError", f"Unable to marshal response: {exc}", None, request_id)
        return {"type": "error", "request_id": request_id, "error": fault}
    return {"type": "result", "request_id": request_id, "payload": payload}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--task-root", required=True)
    parser.add_argument("--lib", action="append", default=[])
    parser.add_argument("--handler", required=True)
    opts = parser.parse_args()
    # What a handler sees: no trace of the executor's command line.
    sys.argv = ["/var/runtime/bootstrap.py"]

    channel = _Channel(opts.token)
    sys.path.insert(0, opts.task_root)
    sys.path.extend(opts.lib)
    os.chdir(opts.task_root)
    request_filter = _install_root_log_handler()

    handler, init_fault = _load_handler(opts.handler)
    if init_fault is not None:
        channel.send({"type": "init_error", "error": init_fault})
        return 0
    channel.send({"type": "ready"})

    with open(opts.in_fd, "rb", closefd=True) as inbox:
        for line in inbox:
            if not line.strip():
                continue
            message = json.loads(line)
            if message.get("type") == "shutdown":
                break
            assert handler is not None
            channel.send(_invoke(handler, message, request_filter))
    return 0


if __name__ == "__main__":
    sys.exit(main())
