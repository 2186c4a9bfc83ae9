"""moto's DynamoDB, made safe for concurrent requests: transactions that are atomic, and single-item writes
that do not interleave with them.

moto (5.x) applies a TransactWriteItems one action at a time and, when a condition fails, restores a deep
copy of every table it touched, taken when the transaction began. Requests run concurrently (LocalStack
serves each on its own thread; the functions write from thread pools), so a cancelled transaction wipes the
writes other requests made meanwhile, and a reader can see half a transaction. DynamoDB itself is atomic
and isolated here, and the pipeline's books rely on it (a task and its counter move together). The deep
copies also make every transaction cost as much as the tables are large.

This module serialises moto's DynamoDB item operations behind one lock and replaces the transaction with
check-then-apply: every condition is evaluated first (the whole transaction is cancelled, with DynamoDB's
reasons, if one fails), then the actions are applied; should an action still fail, the items it had already
changed are put back. Used by the LocalStack provider (plugins.py) and by the moto test tier.
Remove once moto's transactions are atomic.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

LOCK = threading.RLock()
_PATCHED = "s3h_atomic"


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    return wrapper


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with LOCK:
        actions: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        seen: set[tuple[str, str]] = set()
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            key = _key_of(self, op_type, op)
            unique = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            actions.append((op_type, op, key))

        # 1. Every condition, against the items as they are now (nothing else runs meanwhile).
        errors: list[tuple[Any, Any, Any]] = []
        for _, op, key in actions:
            current = self.get_item(op["TableName"], key)
            expression = op.get("ConditionExpression")
            if expression is not None:
                condition = get_filter_expression(
                    expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not condition.expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                    continue
            errors.append((None, None, None))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)

        # 2. The actions; the items they change are remembered, and put back if one of them fails.
        before: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for op_type, op, key in actions:
                table = op["TableName"]
                before.append((table, key, copy.deepcopy(self.get_item(table, key))))
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(table, op["Item"])
                elif op_type == "Delete":
                    self.delete_item(table, key)
                elif op_type == "Update":
                    self.update_item(
                        table,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
        except Exception:
            for table, key, old in reversed(before):
                if old is None:
                    self.get_table(table).delete_item(*_hash_and_range(self.get_table(table), key))
                else:
                    self.get_table(table).put_item(old.to_json()["Attributes"])
            raise


def _hash_and_range(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def apply() -> None:
    """Patch moto's DynamoDB backend (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, _PATCHED, False):
        return
    for name in ("put_item", "update_item", "delete_item", "get_item", "query", "scan"):
        setattr(DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name)))
    transact_write_items.s3h_atomic = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items
