"""DynamoDB plumbing shared by the state stores: item encoding, batched reads and writes, transactions.

Every store (runs, books, ledger, manifest, uploads) builds on these; none repeats them.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
TRANSACTION_LIMIT = 100  # actions per TransactWriteItems
CONFLICT_ATTEMPTS = 12  # TransactionConflict and throttling: retried with jittered backoff


class TableStore:
    """A store over one DynamoDB table; safe to share between threads (the client is)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    @property
    def table(self) -> str:
        return self._table


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: `values(s="DRAINING")` -> `{":s": {"S": ...}}`."""
    return {f":{k}": _serializer.serialize(v) for k, v in named.items()}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def conditional_failed(exc: ClientError) -> bool:
    """A ConditionExpression did not hold (on a single write, or in a cancelled transaction)."""
    code = error_code(exc)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons
    return False


def conditional[T](write: Callable[[], T]) -> T | None:
    """One conditional write: its response, or None if its condition did not hold (other errors raise)."""
    try:
        return write()
    except ClientError as exc:
        if conditional_failed(exc):
            return None
        raise


def _backoff(attempt: int) -> None:
    time.sleep(min(0.02 * 2**attempt, 1.0) * random.uniform(0.5, 1.5))


def retry_conflicts[T](call: Callable[[], T]) -> T:
    """A plain write on an item that a transaction holds fails with TransactionConflictException, which
    botocore does not retry: retry it here."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) != "TransactionConflictException" or attempt == CONFLICT_ATTEMPTS - 1:
                raise
            _backoff(attempt)
    raise AssertionError("unreachable")  # pragma: no cover


Built = list[tuple[Hashable | None, dict[str, Any]]]
# What a failed condition teaches: the ids to exclude, from the action's id and its cancellation reason (with
# the item as it was, for an action that asked ReturnValuesOnConditionCheckFailure=ALL_OLD). It may raise.
Explain = Callable[[Hashable, dict[str, Any]], frozenset[Hashable]]


def transact(
    client: DynamoDBClient, build: Callable[[frozenset[Hashable]], Built], explain: Explain | None = None
) -> frozenset[Hashable]:
    """Run one TransactWriteItems (at most 100 actions) exactly once, whatever the retries.

    `build(excluded)` returns the actions as `(id, action)` pairs. An action with an id may fail its
    condition (a task already settled, a duplicate): the transaction is then cancelled, the ids `explain`
    names (by default the action's own) are excluded and `build` is called again (so a counter in the same
    transaction can be lowered to match); an action without an id must hold, else the error is raised, as it
    is when a failure teaches nothing new. A ClientRequestToken per attempt makes a retried call (botocore
    retries a lost response) idempotent. TransactionConflict and throttling cancellations are retried with
    backoff. Returns the excluded ids.
    """
    excluded: frozenset[Hashable] = frozenset()
    attempt = 0
    while True:
        actions = build(excluded)
        if not actions:
            return excluded
        try:
            client.transact_write_items(
                TransactItems=[action for _, action in actions],  # type: ignore[misc]
                ClientRequestToken=secrets.token_hex(16),
            )
            return excluded
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons", [])
            failed = [
                (actions[i][0], dict(r)) for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"
            ]
            if failed:
                if any(ident is None for ident, _ in failed):
                    raise
                learned: frozenset[Hashable] = frozenset()
                for ident, reason in failed:
                    learned |= explain(ident, reason) if explain is not None else frozenset({ident})
                if learned <= excluded:
                    raise
                excluded = excluded | learned
                continue
            if attempt >= CONFLICT_ATTEMPTS:
                raise
            _backoff(attempt)  # TransactionConflict, throttling: the same actions again, later
            attempt += 1


# --------------------------------------------------------------------------- item sizes (what a write costs)
#
# DynamoDB bills a write by the item's size, 1 unit per KB started (2 in a transaction), and sizes an item as
# documented in "DynamoDB item sizes and formats" (docs.aws.amazon.com/amazondynamodb/latest/developerguide/
# CapacityUnitCalculations.html): a name's UTF-8 bytes plus its value's; a string its UTF-8 bytes; a number 1
# byte per two significant digits plus 1; a boolean or null 1 byte; a list or map 3 bytes plus 1 byte per
# element plus the elements (a map's names included).

WRITE_UNIT_BYTES = 1024


def item_size(item: dict[str, Any]) -> int:
    """The size DynamoDB bills an item at (its attributes in the low-level format)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def write_units(item: dict[str, Any]) -> int:
    """Write units of one write of the item outside a transaction (twice that inside one)."""
    return max(1, -(-item_size(item) // WRITE_UNIT_BYTES))


def _value_size(value: dict[str, Any]) -> int:
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(element) for name, element in content.items())
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in content)
    raise ValueError(f"unknown attribute type {kind}")


def batch_get(
    client: DynamoDBClient,
    wanted: dict[str, list[dict[str, Any]]],
    *,
    consistent: bool = False,
    projection: dict[str, list[str]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem over several tables: {table: [key dict, ...]} -> {table: [plain item, ...]}, 100 keys a
    call, unprocessed keys retried with backoff. `projection` limits a table to some attributes."""
    requests = [(table, key) for table, keys in wanted.items() for key in _unique(keys)]
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in wanted}
    for start in range(0, len(requests), 100):
        pending: dict[str, Any] = {}
        for table, key in requests[start : start + 100]:
            entry = pending.setdefault(table, {"Keys": [], "ConsistentRead": consistent})
            entry["Keys"].append(to_item(key))
            if projection and table in projection:
                names = {f"#p{i}": name for i, name in enumerate(projection[table])}
                entry.update(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        for attempt in range(8):
            response = client.batch_get_item(RequestItems=pending)
            for table, items in response.get("Responses", {}).items():
                found[table] += [from_item(item) for item in items]
            pending = dict(response.get("UnprocessedKeys") or {})
            if not pending:
                break
            _backoff(attempt)
        if pending:
            left = sum(len(v["Keys"]) for v in pending.values())
            raise RuntimeError(f"BatchGetItem left {left} keys unprocessed")
    return found


def _unique(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({tuple(sorted(k.items())): k for k in keys}.values())


def write_batch(client: DynamoDBClient, puts: dict[str, list[dict[str, Any]]]) -> None:
    """BatchWriteItem puts across tables (25 requests a call, chunks side by side), unprocessed items retried
    with backoff. Each table's items are plain dicts, at most one per primary key (DynamoDB refuses
    duplicates in a call)."""
    requests = [(table, {"PutRequest": {"Item": to_item(item)}}) for table, items in puts.items() for item in items]

    def send(chunk: list[tuple[str, dict[str, Any]]]) -> None:
        pending: dict[str, list[Any]] = {}
        for table, request in chunk:
            pending.setdefault(table, []).append(request)
        for attempt in range(8):
            response = client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            _backoff(attempt)
        raise RuntimeError(f"BatchWriteItem left {sum(len(v) for v in pending.values())} requests unprocessed")

    chunks = [requests[start : start + 25] for start in range(0, len(requests), 25)]
    if len(chunks) == 1:
        send(chunks[0])
    elif chunks:
        with ThreadPoolExecutor(max_workers=min(8, len(chunks)), thread_name_prefix="batch-write") as pool:
            list(pool.map(send, chunks))
