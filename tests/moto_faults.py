"""Fault injection for the moto tier, from the test side: botocore's own event hooks, installed on every
client the functions build (nothing in the deployed code knows about it).

A rule fails the calls of one operation whose S3 key (or, for SQS, message body) matches a pattern:
- `error`: the call answers an AWS error (status, code), as S3/KMS/DynamoDB would, before reaching moto;
- `crash`: the call raises `InjectedCrash` (a BaseException): the function dies mid-invocation, as a killed
  process or a timeout does, and the moto ESM stand-in treats the batch as not processed;
- `drop`: SendMessageBatch entries whose body matches are reported `Failed` and not sent (a partial failure);
- `call`: `before()` runs, then the call goes through (something else happens meanwhile: a race).
`times` bounds how often a rule fires; `skip` lets the first matches through. The LocalStack tier has the same
kinds of faults in the LocalStack plugin (`tests/faults.py`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore import handlers


class InjectedCrash(BaseException):
    """The invocation dies here (not an Exception: nothing in the function may catch it)."""


@dataclass
class Rule:
    operation: str  # e.g. "s3.CopyObject", "sqs.SendMessageBatch", "dynamodb.TransactWriteItems"
    match: str = ""  # regex searched in the S3 key(s) / message bodies / DynamoDB request
    action: str = "error"  # error | crash | drop
    code: str = "InternalError"
    status: int = 500
    times: int | None = None
    skip: int = 0
    before: Callable[[], None] | None = None
    hits: int = 0
    seen: int = 0

    def fires(self) -> bool:
        self.seen += 1
        if self.seen <= self.skip or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.raw = None


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, operation: str, match: str = "", **kwargs: Any) -> Rule:
        rule = Rule(operation=operation, match=match, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    # ------------------------------------------------------------------ botocore hooks

    def _matching(self, event_name: str, text: str) -> Rule | None:
        operation = ".".join(event_name.split(".")[1:3])
        with self._lock:
            for rule in self.rules:
                if (
                    rule.operation.lower() == operation.lower()
                    and re.search(rule.match, text, re.MULTILINE)
                    and rule.fires()
                ):
                    return rule
        return None

    def before_parameter_build(
        self, params: dict[str, Any], context: dict[str, Any], event_name: str, **_: Any
    ) -> None:
        if not self.rules:
            return
        if event_name.endswith("SendMessageBatch"):
            entries = params.get("Entries", [])
            dropped = [e for e in entries if self._matching(event_name, e.get("MessageBody", ""))]
            if dropped:
                params["Entries"] = [e for e in entries if e not in dropped]
                context["s3h_dropped"] = [e["Id"] for e in dropped]
                context["s3h_nothing_left"] = not params["Entries"]
            return
        rule = self._matching(event_name, _text(params))
        if rule is not None:
            context["s3h_fault"] = rule

    def before_call(self, context: dict[str, Any], **_: Any) -> Any:
        if context.pop("s3h_nothing_left", False):  # every entry dropped: SQS is not called at all
            return _Http(200), {"Successful": [], "ResponseMetadata": {"HTTPStatusCode": 200}}
        rule: Rule | None = context.pop("s3h_fault", None)
        if rule is None:
            return None
        if rule.action == "call":
            assert rule.before is not None
            rule.before()
            return None
        if rule.action == "crash":
            raise InjectedCrash(f"injected crash on {rule.operation} ({rule.match})")
        error = {"Error": {"Code": rule.code, "Message": f"injected {rule.code}"}}
        return _Http(rule.status), {**error, "ResponseMetadata": {"HTTPStatusCode": rule.status}}

    def after_call(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        for entry_id in context.pop("s3h_dropped", []):
            parsed.setdefault("Failed", []).append(
                {"Id": entry_id, "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            )


def _text(params: dict[str, Any]) -> str:
    """What a rule's pattern is matched against: the S3 key(s) of the call, or the whole request."""
    keys = [params[name] for name in ("Key",) if isinstance(params.get(name), str)]
    source = params.get("CopySource")
    if isinstance(source, dict):
        keys.append(str(source.get("Key", "")))
    elif isinstance(source, str):  # botocore has already rendered it as "bucket/key?versionId=...", quoted
        keys.append(unquote(source.split("?", 1)[0].split("/", 1)[-1]))
    return "\n".join(keys) if keys else repr(params)


FAULTS = Faults()
_installed = False


def install() -> None:
    """Hook FAULTS into every botocore session created from now on (idempotent)."""
    global _installed
    if _installed:
        return
    handlers.BUILTIN_HANDLERS.append(("before-parameter-build", FAULTS.before_parameter_build))
    handlers.BUILTIN_HANDLERS.append(("before-call", FAULTS.before_call))
    handlers.BUILTIN_HANDLERS.append(("after-call.sqs.SendMessageBatch", FAULTS.after_call))
    _installed = True


@contextmanager
def faults() -> Iterator[Faults]:
    install()
    FAULTS.clear()
    try:
        yield FAULTS
    finally:
        FAULTS.clear()
