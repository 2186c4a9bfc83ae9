"""Client for the local LocalStack's fault injection (tools/localstack/s3h_localstack/faults.py, its docstring
has the rule reference). Standard library only.

    with Faults() as faults:                       # clears every rule on entry and on exit
        rule = faults.add(service="s3", operation="CopyObject", match="^data/k1$",
                          action="error", status=503, code="SlowDown", times=2)
        faults.add(service="sqs", action="partial_batch_failure", match="data/k2")
        faults.lambda_fault(function="s3-hydration-copier.*", match="data/k3", action="kill",
                            after_ms=500, times=1)
        faults.kill_running(function="s3-hydration-copier", match="data/k4")   # now, if it is running
        ...
        assert faults.hits(rule) == 2
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any, Self

from tests.localstack_env import ENDPOINT

REQUEST_FAULTS = "/_s3h/faults"
LAMBDA_FAULTS = "/_s3h/lambda-faults"
INVOCATIONS = "/_s3h/lambda-invocations"


class FaultError(RuntimeError):
    """The control endpoint refused a call (the message says why)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Faults:
    def __init__(self, endpoint: str = ENDPOINT) -> None:
        self._endpoint = endpoint.rstrip("/")

    def add(self, **rule: Any) -> str:
        """Adds a request rule (service, operation, account, match, action, status, code, message, times, skip,
        delay_ms); returns its id."""
        return str(self._call("POST", REQUEST_FAULTS, rule)["id"])

    def lambda_fault(self, **rule: Any) -> str:
        """Adds a Lambda invocation rule (function, match, action: kill|timeout, after_ms, times, skip); returns
        its id."""
        return str(self._call("POST", LAMBDA_FAULTS, rule)["id"])

    def running(self) -> list[dict[str, Any]]:
        """The invocations our Lambda executor is running now: function, request_id, running_ms."""
        return list(self._call("GET", INVOCATIONS)["invocations"])

    def kill_running(self, function: str, match: str | None = None) -> int:
        """Kills (SIGKILL to the runtime) the running invocations of `function` (a name or a regex) whose payload
        matches `match`; how many it killed. Invocations started afterwards are not affected."""
        return int(self._call("POST", INVOCATIONS + "/kill", {"function": function, "match": match})["killed"])

    def esm_loops(self) -> dict[str, int]:
        """Per SQS event source mapping (uuid), its poll loops running now (tools/localstack/s3h_localstack/
        esm_concurrency.py): 0 once a disabled mapping's loops have all ended their current receive."""
        return {uuid: int(n) for uuid, n in self._call("GET", "/_s3h/esm-loops")["loops"].items()}

    def async_pollers(self, function: str) -> set[int]:
        """The threads of LocalStack's asynchronous-invocation poller of `function` ($LATEST) alive now
        (tools/localstack/s3h_localstack/esm_concurrency.py): one, except during a configuration update."""
        pollers = self._call("GET", "/_s3h/lambda-pollers")["pollers"]
        return {int(ident) for ident in pollers.get(f"{function}:$LATEST", [])}

    def rule(self, rule_id: str) -> dict[str, Any]:
        """The rule as the server holds it, with its ``matched`` and ``hits`` counts."""
        for path in (REQUEST_FAULTS, LAMBDA_FAULTS):
            try:
                return self._call("GET", f"{path}/{rule_id}")
            except FaultError as exc:
                if exc.status != 404:
                    raise
        raise FaultError(f"no rule {rule_id!r}", 404)

    def hits(self, rule_id: str) -> int:
        """How many times the rule's fault was applied."""
        return int(self.rule(rule_id)["hits"])

    def rules(self) -> list[dict[str, Any]]:
        """Every rule, request rules first."""
        return [*self._call("GET", REQUEST_FAULTS)["rules"], *self._call("GET", LAMBDA_FAULTS)["rules"]]

    def remove(self, rule_id: str) -> None:
        for path in (REQUEST_FAULTS, LAMBDA_FAULTS):
            try:
                self._call("DELETE", f"{path}/{rule_id}")
                return
            except FaultError as exc:
                if exc.status != 404:
                    raise

    def clear(self) -> None:
        """Removes every rule of both kinds."""
        self._call("DELETE", REQUEST_FAULTS)
        self._call("DELETE", LAMBDA_FAULTS)

    def __enter__(self) -> Self:
        self.clear()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.clear()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the local LocalStack's http endpoint
            self._endpoint + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail = json.loads(detail)["error"]
            raise FaultError(f"{method} {path}: {exc.code} {detail}", exc.code) from None
