"""Fault injection for tests: rules set over HTTP, applied inside LocalStack to AWS requests and Lambda invocations.

The pipeline's fault matrix needs S3 to throttle one key, SQS to refuse part of a batch, a body to arrive
corrupted, a copier invocation to crash. Nothing in the deployed functions knows about any of it: the rules
live in this process, set by the test through a control endpoint on the gateway, and are applied by a handler
in LocalStack's request chain (every AWS request passes it: the test's, the functions', LocalStack's own
internal ones such as the SQS event source mapping's) and by our Lambda executor.

Control endpoint (JSON in and out; ``tests/faults.py`` is the client):
  POST   /_s3h/faults              add a request rule          -> 201 {"id": ...}   (400 with a reason if invalid)
  GET    /_s3h/faults              {"rules": [rule, ...]}, each with "matched" and "hits" counts
  GET    /_s3h/faults/<id>         one rule                    (404 if unknown)
  DELETE /_s3h/faults              remove every request rule;  DELETE /_s3h/faults/<id> removes one
  the same under /_s3h/lambda-faults for Lambda invocation rules.

Request rule: {"id"?, "service", "operation"?, "account"?, "match"?, "action", "status"?, "code"?, "message"?,
"times"?, "skip"?, "delay_ms"?}. It applies to a request of that service (botocore name: s3, sqs, dynamodb,
kms, ...), operation and calling account when ``match`` (a regex) is found in the S3 key (for CopyObject and
UploadPartCopy also in the copy source key) or, for other services, in the request body text. Actions:
  error                  the request fails with ``status``/``code``/``message`` (defaults 500 InternalError),
                         serialised in the service's protocol (S3 XML, SQS and DynamoDB JSON, ...);
  delay                  the request waits ``delay_ms`` first, then proceeds;
  corrupt_body           S3 GetObject (the default operation): one byte of the body is flipped, headers unchanged;
  partial_batch_failure  SQS SendMessageBatch (default) or DeleteMessageBatch: entries whose message body
                         matches are answered in ``Failed`` (SenderFault false, ``code``/``message``) and not
                         sent (not deleted); the others go through;
  drop                   SQS SendMessageBatch: entries whose message body matches are answered as sent
                         (``Successful``, a made-up message id) and never enqueued: a message lost;
  hide                   S3 ListObjectsV2: objects whose key matches are left out of the answer (the others
                         are listed): a listing that misses keys the bucket holds.
``skip`` lets the first M matching requests through, ``times`` (null: always) bounds how often it applies;
``matched`` counts matching requests, ``hits`` the faults applied. For partial_batch_failure and drop every
matching entry counts as one, for hide every object left out. A request gets the first applicable rule in the
order they were added.

Lambda rule: {"id"?, "function", "match"?, "action", "after_ms"?, "times"?, "skip"?}: ``function`` is a name
or a regex (full match) and ``match`` a regex searched in the invocation payload. ``kill`` SIGKILLs the
runtime process ``after_ms`` into the invocation (it ends with Runtime.ExitError; the next one starts cold),
``timeout`` ends it as if the function's timeout had elapsed then (Sandbox.Timedout, process killed). Rules are
looked up when an invocation starts, so only invocations started after a rule was added count; ``hits``
counts the faults that fired (an invocation that ends before ``after_ms`` leaves the rule armed).

Invocations in progress (our executor registers each while it runs), for a kill at a moment the test chooses
(say, once a delayed request shows the function is inside a copy) rather than a time after the start:
  GET    /_s3h/lambda-invocations         {"invocations": [{"function", "request_id", "running_ms"}, ...]}
  POST   /_s3h/lambda-invocations/kill    {"function", "match"?} -> {"killed": N}: SIGKILL to the runtime of
                                          every running invocation of that function (a name or a regex, full
                                          match) whose payload matches; each ends with Runtime.ExitError.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from localstack.aws import handlers
from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.chain import HandlerChain
from localstack.aws.protocol.serializer import create_serializer
from localstack.http import Request, Response

LOG = logging.getLogger(__name__)

REQUEST_ACTIONS = ("error", "delay", "corrupt_body", "partial_batch_failure", "drop", "hide")
ENTRY_ACTIONS = ("partial_batch_failure", "drop")  # applied to the entries of an SQS batch, one by one
LAMBDA_ACTIONS = ("kill", "timeout")
SQS_BATCH_OPERATIONS = ("SendMessageBatch", "DeleteMessageBatch")
S3_COPY_OPERATIONS = ("CopyObject", "UploadPartCopy")
CONTEXT_ATTRIBUTE = "s3h_fault"


class RuleError(ValueError):
    """A rule document that cannot be used (answered with 400)."""


@dataclass
class _Counted:
    """What every rule has: an id, how many to let through first, how often to apply, and the counts."""

    id: str
    times: int | None
    skip: int
    matched: int = 0
    hits: int = 0

    def take(self) -> bool:
        """Counts one matching request; True if the fault applies to it. Call under the registry's lock."""
        self.matched += 1
        if self.matched <= self.skip or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


@dataclass
class RequestRule(_Counted):
    service: str = ""
    action: str = ""
    operation: str | None = None
    account: str | None = None
    match: re.Pattern[str] | None = None
    status: int = 500
    code: str = "InternalError"
    message: str = "Fault injected by the s3h-localstack test plugin"
    delay_ms: int = 0

    def applies_to(self, service: str, operation: str, account: str) -> bool:
        return self.service == service and self.operation in (None, operation) and self.account in (None, account)

    def matches(self, texts: Iterable[str]) -> bool:
        return self.match is None or any(self.match.search(text) for text in texts)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "operation": self.operation,
            "account": self.account,
            "match": self.match.pattern if self.match else None,
            "action": self.action,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "times": self.times,
            "skip": self.skip,
            "delay_ms": self.delay_ms,
            "matched": self.matched,
            "hits": self.hits,
        }


@dataclass
class LambdaRule(_Counted):
    function: re.Pattern[str] = field(default_factory=lambda: re.compile(""))
    action: str = ""
    match: re.Pattern[str] | None = None
    after_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "function": self.function.pattern,
            "match": self.match.pattern if self.match else None,
            "action": self.action,
            "after_ms": self.after_ms,
            "times": self.times,
            "skip": self.skip,
            "matched": self.matched,
            "hits": self.hits,
        }


# -- parsing rule documents ------------------------------------------------------------------------------------


def _field[T](doc: dict[str, Any], name: str, kind: type[T], default: T) -> T:
    value = doc.get(name, default)
    if value is None:
        return default
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise RuleError(f"{name} must be an integer, not {value!r}")
    if kind is str and not isinstance(value, str):
        raise RuleError(f"{name} must be a string, not {value!r}")
    return value


def _regex(doc: dict[str, Any], name: str) -> re.Pattern[str] | None:
    pattern = _field(doc, name, str, "")
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RuleError(f"{name} is not a valid regular expression: {exc}") from exc


def _counting(doc: dict[str, Any], known: set[str]) -> dict[str, Any]:
    unknown = set(doc) - known
    if unknown:
        raise RuleError(f"unknown fields: {', '.join(sorted(unknown))}")
    times = doc.get("times")
    if times is not None and (_field(doc, "times", int, 0) < 1):
        raise RuleError("times must be at least 1, or null for always")
    skip = _field(doc, "skip", int, 0)
    if skip < 0:
        raise RuleError("skip must not be negative")
    return {"id": _field(doc, "id", str, ""), "times": times, "skip": skip}


def parse_request_rule(doc: Any) -> RequestRule:
    if not isinstance(doc, dict):
        raise RuleError("a rule is a JSON object")
    known = {"id", "service", "operation", "account", "match", "action", "status", "code", "message"}
    counting = _counting(doc, known | {"times", "skip", "delay_ms"})
    service = _field(doc, "service", str, "")
    action = _field(doc, "action", str, "")
    if not service:
        raise RuleError("service is required (botocore name: s3, sqs, dynamodb, kms, ...)")
    if action not in REQUEST_ACTIONS:
        raise RuleError(f"action must be one of {', '.join(REQUEST_ACTIONS)}")
    operation = _field(doc, "operation", str, "") or None
    if action == "corrupt_body":
        operation = operation or "GetObject"
        if (service, operation) != ("s3", "GetObject"):
            raise RuleError("corrupt_body applies to s3 GetObject only")
    if action == "partial_batch_failure":
        operation = operation or "SendMessageBatch"
        if service != "sqs" or operation not in SQS_BATCH_OPERATIONS:
            raise RuleError(f"partial_batch_failure applies to sqs {' and '.join(SQS_BATCH_OPERATIONS)} only")
    if action == "drop":
        operation = operation or "SendMessageBatch"
        if (service, operation) != ("sqs", "SendMessageBatch"):
            raise RuleError("drop applies to sqs SendMessageBatch only")
    if action == "hide":
        operation = operation or "ListObjectsV2"
        if (service, operation) != ("s3", "ListObjectsV2"):
            raise RuleError("hide applies to s3 ListObjectsV2 only")
    status = _field(doc, "status", int, 500)
    if not 400 <= status <= 599:
        raise RuleError("status must be an HTTP error status (400-599)")
    delay_ms = _field(doc, "delay_ms", int, 0)
    if delay_ms < 0 or (action == "delay" and delay_ms == 0):
        raise RuleError("delay_ms must be positive for a delay")
    return RequestRule(
        **counting,
        service=service,
        action=action,
        operation=operation,
        account=_field(doc, "account", str, "") or None,
        match=_regex(doc, "match"),
        status=status,
        code=_field(doc, "code", str, "InternalError"),
        message=_field(doc, "message", str, RequestRule.message),
        delay_ms=delay_ms,
    )


def parse_lambda_rule(doc: Any) -> LambdaRule:
    if not isinstance(doc, dict):
        raise RuleError("a rule is a JSON object")
    counting = _counting(doc, {"id", "function", "match", "action", "after_ms", "times", "skip"})
    function = _regex(doc, "function")
    if function is None:
        raise RuleError("function is required (a function name or a regex matching whole names)")
    action = _field(doc, "action", str, "")
    if action not in LAMBDA_ACTIONS:
        raise RuleError(f"action must be one of {', '.join(LAMBDA_ACTIONS)}")
    after_ms = _field(doc, "after_ms", int, 0)
    if after_ms < 0:
        raise RuleError("after_ms must not be negative")
    return LambdaRule(**counting, function=function, action=action, match=_regex(doc, "match"), after_ms=after_ms)


# -- the registry ----------------------------------------------------------------------------------------------


class LambdaFault:
    """A Lambda rule taken for one invocation. ``release()`` if it did not fire, so the rule stays armed."""

    def __init__(self, registry: Registry, rule: LambdaRule) -> None:
        self._registry = registry
        self.rule = rule
        self.action = rule.action
        self.after_s = rule.after_ms / 1000

    def release(self) -> None:
        with self._registry.lock:
            self.rule.hits -= 1


class RunningInvocation:
    """An invocation our executor is running; ``kill()`` crashes its runtime unless it has ended already."""

    def __init__(self, function_name: str, request_id: str, payload: str, crash: Callable[[], None]) -> None:
        self.function_name = function_name
        self.request_id = request_id
        self.payload = payload
        self.started = time.monotonic()
        self._crash = crash
        self._lock = threading.Lock()
        self._ended = False

    def kill(self) -> bool:
        with self._lock:
            if self._ended:
                return False
            self._crash()
            return True

    def end(self) -> None:
        with self._lock:
            self._ended = True

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function_name,
            "request_id": self.request_id,
            "running_ms": round((time.monotonic() - self.started) * 1000),
        }


class Registry:
    """The rules of this LocalStack process (both kinds share one id space), and the invocations running."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.request_rules: dict[str, RequestRule] = {}
        self.lambda_rules: dict[str, LambdaRule] = {}
        self.running: dict[int, RunningInvocation] = {}
        self._ids = itertools.count(1)

    def invocation_started(self, invocation: RunningInvocation) -> Callable[[], None]:
        """Registers a running invocation; returns what to call when it has ended."""
        with self.lock:
            self.running[id(invocation)] = invocation

        def ended() -> None:
            invocation.end()
            with self.lock:
                self.running.pop(id(invocation), None)

        return ended

    def kill_running(self, function: re.Pattern[str], match: re.Pattern[str] | None) -> list[RunningInvocation]:
        with self.lock:
            chosen = [
                invocation
                for invocation in self.running.values()
                if function.fullmatch(invocation.function_name) and (match is None or match.search(invocation.payload))
            ]
        return [invocation for invocation in chosen if invocation.kill()]

    def add(self, rules: dict[str, Any], rule: RequestRule | LambdaRule) -> None:
        """Adds ``rule`` to ``rules`` (one of the two kinds), giving it an id if it has none."""
        with self.lock:
            if rule.id in self.request_rules or rule.id in self.lambda_rules:
                raise RuleError(f"a rule with id {rule.id!r} exists")
            while not rule.id or rule.id in self.request_rules or rule.id in self.lambda_rules:
                rule.id = f"fault-{next(self._ids)}"
            rules[rule.id] = rule

    def request_fault(
        self, service: str, operation: str, account: str, texts: Callable[[], list[str]]
    ) -> RequestRule | None:
        """The first request rule (other than partial_batch_failure) that applies to this request, counted."""
        if not self.request_rules:
            return None
        with self.lock:
            candidates = [
                rule
                for rule in self.request_rules.values()
                if rule.action not in (*ENTRY_ACTIONS, "hide") and rule.applies_to(service, operation, account)
            ]
            if not candidates:
                return None
            request_texts = texts()
            for rule in candidates:
                if rule.matches(request_texts) and rule.take():
                    return rule
        return None

    def failing_entries(
        self, operation: str, account: str, entries: list[tuple[Any, str]]
    ) -> list[tuple[Any, RequestRule]]:
        """For an SQS batch request: (entry, rule) for each entry a partial_batch_failure or drop rule takes,
        counted."""
        with self.lock:
            rules = [
                rule
                for rule in self.request_rules.values()
                if rule.action in ENTRY_ACTIONS and rule.applies_to("sqs", operation, account)
            ]
            failing = []
            for entry, text in entries:
                for rule in rules:
                    if rule.matches([text]) and rule.take():
                        failing.append((entry, rule))
                        break
            return failing

    def hidden(self, account: str, keys: list[str], encoded: bool = False) -> set[str]:
        """For a ListObjectsV2 answer: the keys hide rules leave out, counted (matched decoded: a listing
        asked with EncodingType=url carries URL-encoded keys)."""
        with self.lock:
            rules = [
                r
                for r in self.request_rules.values()
                if r.action == "hide" and r.applies_to("s3", "ListObjectsV2", account)
            ]
            return {key for key in keys for rule in rules if rule.matches([_decoded(key, encoded)]) and rule.take()}

    def lambda_fault(self, function_name: str, payload: str) -> LambdaFault | None:
        if not self.lambda_rules:
            return None
        with self.lock:
            for rule in self.lambda_rules.values():
                if (
                    rule.function.fullmatch(function_name)
                    and (rule.match is None or rule.match.search(payload))
                    and rule.take()
                ):
                    return LambdaFault(self, rule)
        return None


REGISTRY = Registry()


# -- the control endpoint --------------------------------------------------------------------------------------


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc), status=status, mimetype="application/json")


class _ControlEndpoint:
    def __init__(self, registry: Registry, rules: dict[str, Any], parse: Callable[[Any], Any]):
        self._registry = registry
        self._rules = rules
        self._parse = parse

    def collection(self, request: Request, **_: Any) -> Response:
        if request.method == "POST":
            try:
                rule = self._parse(json.loads(request.get_data(as_text=True) or "null"))
                self._registry.add(self._rules, rule)
            except ValueError as exc:  # RuleError, or a body that is not JSON
                return _json({"error": str(exc)}, 400)
            LOG.info("fault rule added: %s", rule.to_json())
            return _json({"id": rule.id}, 201)
        with self._registry.lock:
            if request.method == "DELETE":
                self._rules.clear()
                return _json({"rules": []})
            return _json({"rules": [rule.to_json() for rule in self._rules.values()]})

    def item(self, request: Request, rule_id: str, **_: Any) -> Response:
        with self._registry.lock:
            rule = self._rules.get(rule_id)
            if rule is None:
                return _json({"error": f"no rule {rule_id!r}"}, 404)
            if request.method == "DELETE":
                del self._rules[rule_id]
            return _json(rule.to_json())


def _invocations(request: Request, **_: Any) -> Response:
    with REGISTRY.lock:
        running = [invocation.to_json() for invocation in REGISTRY.running.values()]
    return _json({"invocations": running})


def _kill_invocations(request: Request, **_: Any) -> Response:
    try:
        doc = json.loads(request.get_data(as_text=True) or "null")
        if not isinstance(doc, dict):
            raise RuleError("a kill request is a JSON object")
        function = _regex(doc, "function")
        if function is None:
            raise RuleError("function is required (a function name or a regex matching whole names)")
        match = _regex(doc, "match")
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)
    killed = REGISTRY.kill_running(function, match)
    for invocation in killed:
        LOG.info("killed a running invocation of %s, request %s", invocation.function_name, invocation.request_id)
    return _json({"killed": len(killed)})


# -- applying request rules in the handler chain ---------------------------------------------------------------


@dataclass
class _Pending:
    """What the request handler leaves for the response handler."""

    corrupt_body: bool = False
    failed_entries: list[dict[str, Any]] = field(default_factory=list)
    dropped_entries: list[dict[str, Any]] = field(default_factory=list)  # answered as sent, never enqueued
    hide: bool = False


def _s3_keys(context: RequestContext) -> list[str]:
    """The object key of an S3 request (decoded by LocalStack's parser, whatever the addressing style), and for a
    copy the source key."""
    request = context.service_request or {}
    keys = [request["Key"]] if request.get("Key") else []
    if context.operation.name in S3_COPY_OPERATIONS and request.get("CopySource"):
        from localstack.services.s3.utils import extract_bucket_key_version_id_from_copy_source

        with contextlib.suppress(Exception):
            keys.append(extract_bucket_key_version_id_from_copy_source(request["CopySource"])[1])
    return keys


def _request_texts(context: RequestContext) -> list[str]:
    if context.service.service_name == "s3":
        return _s3_keys(context)  # never the body: S3 bodies are streamed
    return [context.request.get_data(as_text=True)]


def _message_body(receipt_handle: str) -> str:
    """The body of the message a receipt handle was issued for, if the queue still holds it."""
    from localstack.services.sqs.models import sqs_stores
    from localstack.services.sqs.utils import extract_receipt_handle_info
    from localstack.utils.aws.arns import parse_arn

    with contextlib.suppress(Exception):
        arn = parse_arn(extract_receipt_handle_info(receipt_handle).queue_arn)
        queue = sqs_stores[arn["account"]][arn["region"]].queues[arn["resource"]]
        return str(queue.receipts[receipt_handle].message["Body"])
    return ""


def _fail_batch_entries(chain: HandlerChain, context: RequestContext, response: Response, pending: _Pending) -> None:
    request = context.service_request
    operation = context.operation.name
    entries = list(request.get("Entries") or [])
    if operation == "SendMessageBatch":
        texts = [(entry, str(entry.get("MessageBody", ""))) for entry in entries]
    else:
        texts = [(entry, _message_body(entry.get("ReceiptHandle", ""))) for entry in entries]
    failing = REGISTRY.failing_entries(operation, context.account_id, texts)
    if not failing:
        return
    failed_ids = {id(entry) for entry, _ in failing}
    failed = [
        {"Id": entry["Id"], "SenderFault": False, "Code": rule.code, "Message": rule.message}
        for entry, rule in failing
        if rule.action == "partial_batch_failure"
    ]
    dropped = [_as_sent(entry) for entry, rule in failing if rule.action == "drop"]
    remaining = [entry for entry in entries if id(entry) not in failed_ids]
    if remaining:
        request["Entries"] = remaining
        pending.failed_entries, pending.dropped_entries = failed, dropped
        return
    # nothing left to send: answer here (an empty batch would be an error)
    context.service_response = {"Successful": dropped, "Failed": failed}
    serializer = create_serializer(context.service, context.protocol)
    response.update_from(
        serializer.serialize_to_response(
            context.service_response, context.operation, context.request.headers, context.request_id
        )
    )
    chain.stop()


def _url_encoded(context: RequestContext) -> bool:
    return str((context.service_request or {}).get("EncodingType") or "") == "url"


def _decoded(key: str, encoded: bool) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(key) if encoded else key


def _as_sent(entry: dict[str, Any]) -> dict[str, Any]:
    """A dropped entry's answer: as if SQS had taken it."""
    import hashlib
    import uuid

    body = str(entry.get("MessageBody", "")).encode()
    return {"Id": entry["Id"], "MessageId": str(uuid.uuid4()), "MD5OfMessageBody": hashlib.md5(body).hexdigest()}  # noqa: S324


def apply_request_faults(chain: HandlerChain, context: RequestContext, response: Response) -> None:
    """Request handler: runs after the request is parsed, before the service handles it."""
    if not REGISTRY.request_rules or not context.service or not context.operation:
        return
    service, operation = context.service.service_name, context.operation.name
    rule = REGISTRY.request_fault(service, operation, context.account_id, lambda: _request_texts(context))
    pending = _Pending()
    if rule is not None:
        LOG.info("fault %s: %s on %s.%s", rule.id, rule.action, service, operation)
        if rule.action == "error":
            raise CommonServiceException(
                rule.code, rule.message, status_code=rule.status, sender_fault=rule.status < 500
            )
        if rule.action == "delay":
            time.sleep(rule.delay_ms / 1000)
        if rule.action == "corrupt_body":
            pending.corrupt_body = True
    if service == "sqs" and operation in SQS_BATCH_OPERATIONS:
        _fail_batch_entries(chain, context, response, pending)
    if (service, operation) == ("s3", "ListObjectsV2"):
        pending.hide = any(r.action == "hide" for r in REGISTRY.request_rules.values())
    if pending.corrupt_body or pending.failed_entries or pending.dropped_entries or pending.hide:
        setattr(context, CONTEXT_ATTRIBUTE, pending)


def _flip_one_byte(chunks: Iterable[Any]) -> Iterator[Any]:
    flipped = False
    try:
        for chunk in chunks:
            if chunk and not flipped:
                corrupted = bytearray(chunk)
                corrupted[len(corrupted) // 2] ^= 0x01
                chunk, flipped = bytes(corrupted), True
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def apply_response_faults(chain: HandlerChain, context: RequestContext, response: Response) -> None:
    """Response handler: corrupts a GetObject body, adds the failed entries to an SQS batch answer."""
    pending: _Pending | None = getattr(context, CONTEXT_ATTRIBUTE, None)
    if pending is None or context.service_exception is not None or response.status_code >= 300:
        return
    if pending.corrupt_body:
        response.response = _flip_one_byte(response.response)
    changed: dict[str, Any] | None = None
    if (pending.failed_entries or pending.dropped_entries) and context.service_response is not None:
        changed = {**context.service_response}
        changed["Failed"] = [*(changed.get("Failed") or []), *pending.failed_entries]
        changed["Successful"] = [*(changed.get("Successful") or []), *pending.dropped_entries]
    if pending.hide and context.service_response is not None:
        contents = list(context.service_response.get("Contents") or [])
        hidden = REGISTRY.hidden(
            context.account_id, [str(item.get("Key", "")) for item in contents], _url_encoded(context)
        )
        if hidden:
            changed = {**context.service_response}
            changed["Contents"] = [item for item in contents if item.get("Key") not in hidden]
            changed["KeyCount"] = len(changed["Contents"]) + len(changed.get("CommonPrefixes") or [])
    if changed is not None:
        context.service_response = changed
        serializer = create_serializer(context.service, context.protocol)
        response.update_from(
            serializer.serialize_to_response(changed, context.operation, context.request.headers, context.request_id)
        )


def install() -> None:
    """Adds the control endpoint and the two handlers (idempotent)."""
    from localstack.services.edge import ROUTER

    if getattr(handlers.serve_custom_service_request_handlers, "s3h_faults", False):
        return
    for path, rules, parse in (
        ("/_s3h/faults", REGISTRY.request_rules, parse_request_rule),
        ("/_s3h/lambda-faults", REGISTRY.lambda_rules, parse_lambda_rule),
    ):
        endpoint = _ControlEndpoint(REGISTRY, rules, parse)
        ROUTER.add(path, endpoint=endpoint.collection, methods=["GET", "POST", "DELETE"])
        ROUTER.add(f"{path}/<rule_id>", endpoint=endpoint.item, methods=["GET", "DELETE"])
    ROUTER.add("/_s3h/lambda-invocations", endpoint=_invocations, methods=["GET"])
    ROUTER.add("/_s3h/lambda-invocations/kill", endpoint=_kill_invocations, methods=["POST"])
    handlers.serve_custom_service_request_handlers.append(apply_request_faults)
    handlers.run_custom_response_handlers.append(apply_response_faults)
    handlers.serve_custom_service_request_handlers.s3h_faults = True  # type: ignore[attr-defined]
