"""DynamoDB adapter: run records (with the one-active-run lock), the failure ledger and the manifest."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from hydration.errors import RunAlreadyActiveError, RunNotFoundError
from hydration.models import FailureRecord, ManifestEntry, RunRecord, RunStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOCK_ID = "ACTIVE"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _values(**values: Any) -> dict[str, Any]:
    return {f":{k}": _serializer.serialize(v) for k, v in values.items()}


def _conditional_failed(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons
    return False


def _planning_counts(run: RunRecord) -> tuple[str, dict[str, Any]]:
    """The SET clauses (and values) for what planning has counted so far, saved at checkpoints and at the end."""
    values = _values(
        k=run.keys_enqueued,
        b=run.bytes_enqueued,
        l=run.ledger_keys_enqueued,
        u=run.keys_unchanged,
        h=_iso(datetime.now(UTC)),
    )
    clauses = (
        "keys_enqueued = :k, bytes_enqueued = :b, ledger_keys_enqueued = :l, keys_unchanged = :u, heartbeat_at = :h"
    )
    if run.drift is not None:
        clauses += ", drift = :d"
        values.update(_values(d=run.drift.model_dump(mode="json")))
    return clauses, values


class RunStore:
    """Run records in the runs table. The item `run_id = ACTIVE` is the one-active-run lock."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    # ------------------------------------------------------------------ reading

    def get(self, run_id: str) -> RunRecord:
        item = self._db.get_item(TableName=self._table, Key=to_item({"run_id": run_id}), ConsistentRead=True).get(
            "Item"
        )
        if not item or run_id == LOCK_ID:
            raise RunNotFoundError(run_id)
        return RunRecord.model_validate(from_item(item))

    def active_run_id(self) -> str | None:
        item = self._db.get_item(TableName=self._table, Key=to_item({"run_id": LOCK_ID}), ConsistentRead=True).get(
            "Item"
        )
        return from_item(item)["active_run_id"] if item else None

    def active(self) -> RunRecord | None:
        run_id = self.active_run_id()
        if run_id is None:
            return None
        try:
            return self.get(run_id)
        except RunNotFoundError:
            return None

    def list(self, limit: int = 20) -> list[RunRecord]:
        runs: list[RunRecord] = []
        paginator = self._db.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table):
            for item in page.get("Items", []):
                data = from_item(item)
                if data.get("run_id") != LOCK_ID:
                    runs.append(RunRecord.model_validate(data))
        runs.sort(key=lambda r: r.started_at, reverse=True)
        return runs[:limit]

    # ------------------------------------------------------------------ lifecycle

    def create(self, run: RunRecord) -> None:
        """Take the lock and write the run, atomically; RunAlreadyActiveError if a run holds the lock."""
        lock = {"run_id": LOCK_ID, "active_run_id": run.run_id, "since": _iso(run.started_at)}
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(lock),
                            "ConditionExpression": "attribute_not_exists(run_id)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(run.model_dump(mode="json")),
                            "ConditionExpression": "attribute_not_exists(run_id)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            active = self.active()
            if active is None:  # the lock was released in between: try once more
                raise RunAlreadyActiveError(self.active_run_id() or "?", "active") from exc
            raise RunAlreadyActiveError(active.run_id, active.status.value) from exc

    def checkpoint(self, run: RunRecord) -> None:
        """Save the listing position and counts of a PLANNING run (before it continues elsewhere)."""
        assert run.cursor is not None
        counts, values = _planning_counts(run)
        values.update(_values(c=run.cursor.model_dump(mode="json"), planning=RunStatus.PLANNING.value))
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"run_id": run.run_id}),
            UpdateExpression="SET #c = :c, " + counts,
            ConditionExpression="#s = :planning",
            ExpressionAttributeNames={"#c": "cursor", "#s": "status"},
            ExpressionAttributeValues=values,
        )

    def finish_planning(self, run: RunRecord) -> None:
        """PLANNING -> DRAINING: the listing is complete and every selected key is in the queue."""
        counts, values = _planning_counts(run)
        values.update(_values(draining=RunStatus.DRAINING.value, planning=RunStatus.PLANNING.value, t=True))
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"run_id": run.run_id}),
            UpdateExpression="SET #s = :draining, planning_complete = :t, " + counts + " REMOVE #c",
            ConditionExpression="#s = :planning",
            ExpressionAttributeNames={"#s": "status", "#c": "cursor"},
            ExpressionAttributeValues=values,
        )

    def fail(self, run_id: str, error: str) -> None:
        """Any status -> FAILED, and release the lock if this run holds it."""
        now = _iso(datetime.now(UTC))
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"run_id": run_id}),
            UpdateExpression="SET #s = :failed, #e = :e, ended_at = :now",
            ConditionExpression="attribute_exists(run_id)",
            ExpressionAttributeNames={"#s": "status", "#e": "error"},
            ExpressionAttributeValues=_values(failed=RunStatus.FAILED.value, e=error[:2000], now=now),
        )
        self.release_lock(run_id)

    def release_lock(self, run_id: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=to_item({"run_id": LOCK_ID}),
                ConditionExpression="active_run_id = :r",
                ExpressionAttributeValues=_values(r=run_id),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def add_progress(self, run_id: str, counters: dict[str, int]) -> None:
        """Add settled counts (objects_transferred, bytes_transferred, ...) to a run; unknown runs are ignored."""
        counters = {k: v for k, v in counters.items() if v}
        if not counters:
            return
        names = {f"#{i}": name for i, name in enumerate(counters)}
        values = {f":{i}": _serializer.serialize(v) for i, v in enumerate(counters.values())}
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"run_id": run_id}),
                UpdateExpression="ADD " + ", ".join(f"#{i} :{i}" for i in range(len(counters))),
                ConditionExpression="attribute_exists(run_id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def set_drain_seen(self, run_id: str, seen: datetime | None) -> None:
        if seen is None:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"run_id": run_id}),
                UpdateExpression="REMOVE drain_seen_empty_at",
            )
            return
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"run_id": run_id}),
            UpdateExpression="SET drain_seen_empty_at = :d",
            ExpressionAttributeValues=_values(d=_iso(seen)),
        )

    def claim_finalization(self, run_id: str, claimant: str, stale_after: timedelta) -> bool:
        """Conditional claim on a DRAINING run: of two finalizers, exactly one gets True."""
        now = datetime.now(UTC)
        try:
            self._db.update_item(
                TableName=self._table,
                Key=to_item({"run_id": run_id}),
                UpdateExpression="SET finalizer_claim = :c, finalizer_claimed_at = :now",
                ConditionExpression=(
                    "#s = :draining AND planning_complete = :t AND "
                    "(attribute_not_exists(finalizer_claim) OR finalizer_claimed_at < :stale)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    c=claimant,
                    now=_iso(now),
                    draining=RunStatus.DRAINING.value,
                    t=True,
                    stale=_iso(now - stale_after),
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def complete(self, run_id: str, claimant: str, status: RunStatus, failed_count: int, marker: datetime) -> None:
        """DRAINING -> COMPLETED[_WITH_FAILURES] by the claimant, and release the lock, atomically."""
        now = _iso(datetime.now(UTC))
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item({"run_id": run_id}),
                        "UpdateExpression": (
                            "SET #s = :status, failed_count = :f, ended_at = :now, marker_written = :m "
                            "REMOVE finalizer_claim, finalizer_claimed_at"
                        ),
                        "ConditionExpression": "#s = :draining AND finalizer_claim = :c",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": _values(
                            status=status.value,
                            f=failed_count,
                            now=now,
                            m=_iso(marker),
                            draining=RunStatus.DRAINING.value,
                            c=claimant,
                        ),
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": to_item({"run_id": LOCK_ID}),
                        "ConditionExpression": "attribute_not_exists(run_id) OR active_run_id = :r",
                        "ExpressionAttributeValues": _values(r=run_id),
                    }
                },
            ]
        )


class _KeyTable:
    """A table whose partition key is the source object's `key`."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    @property
    def table(self) -> str:
        return self._table


class FailureLedger(_KeyTable):
    """Keys whose final attempt failed. Every run re-enqueues them; a later success removes them."""

    def record(self, failure: FailureRecord) -> None:
        self._db.put_item(TableName=self._table, Item=to_item(failure.model_dump(mode="json")))

    def __iter__(self) -> Iterator[FailureRecord]:
        for page in self._db.get_paginator("scan").paginate(TableName=self._table):
            for item in page.get("Items", []):
                yield FailureRecord.model_validate(from_item(item))

    def count(self) -> int:
        total = 0
        for page in self._db.get_paginator("scan").paginate(TableName=self._table, Select="COUNT"):
            total += page.get("Count", 0)
        return total

    def get(self, key: str) -> FailureRecord | None:
        item = self._db.get_item(TableName=self._table, Key=to_item({"key": key}), ConsistentRead=True).get("Item")
        return FailureRecord.model_validate(from_item(item)) if item else None

    def remove(self, key: str) -> None:
        self._db.delete_item(TableName=self._table, Key=to_item({"key": key}))


class Manifest(_KeyTable):
    """What the consumer bucket holds: for each source key, the source version it was copied from."""

    def get_many(self, keys: Iterable[str]) -> dict[str, ManifestEntry]:
        """The entries of these keys (BatchGetItem, 100 keys a call)."""
        items = batch_get(self._db, {self._table: list(keys)})[self._table]
        return {key: ManifestEntry.model_validate(item) for key, item in items.items()}

    def get_with_failures(
        self, ledger: FailureLedger, keys: Iterable[str]
    ) -> tuple[dict[str, ManifestEntry], set[str]]:
        """The manifest entries of these keys, and which of them are in the failure ledger: one BatchGetItem
        over both tables (the copier reads both once per batch)."""
        keys = list(keys)
        items = batch_get(self._db, {self._table: keys, ledger.table: keys}, key_only={ledger.table})
        entries = {key: ManifestEntry.model_validate(item) for key, item in items[self._table].items()}
        return entries, set(items[ledger.table])


def batch_get(
    client: DynamoDBClient, wanted: dict[str, list[str]], key_only: set[str] | frozenset[str] = frozenset()
) -> dict[str, dict[str, dict[str, Any]]]:
    """BatchGetItem over tables keyed by `key`: {table: {key: item}}, 100 keys a call, unprocessed keys
    retried with backoff. Tables in `key_only` return just the key (a presence check)."""
    requests = [(table, key) for table, keys in wanted.items() for key in dict.fromkeys(keys)]
    found: dict[str, dict[str, dict[str, Any]]] = {table: {} for table in wanted}
    for start in range(0, len(requests), 100):
        pending: dict[str, Any] = {}
        for table, key in requests[start : start + 100]:
            entry = pending.setdefault(table, {"Keys": []})
            entry["Keys"].append(to_item({"key": key}))
            if table in key_only:
                entry.update(ProjectionExpression="#k", ExpressionAttributeNames={"#k": "key"})
        for attempt in range(8):
            response = client.batch_get_item(RequestItems=pending)
            for table, items in response.get("Responses", {}).items():
                for item in items:
                    data = from_item(item)
                    found[table][data["key"]] = data
            pending = dict(response.get("UnprocessedKeys") or {})
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 2))
        if pending:
            left = sum(len(v["Keys"]) for v in pending.values())
            raise RuntimeError(f"BatchGetItem left {left} keys unprocessed")
    return found


def write_batch(client: DynamoDBClient, puts: dict[str, list[dict[str, Any]]], deletes: dict[str, list[str]]) -> None:
    """BatchWriteItem across tables (25 requests a call), unprocessed items retried with backoff.

    `puts` maps a table to plain items; `deletes` maps a table to the `key` values to delete.
    """
    requests: list[tuple[str, dict[str, Any]]] = []
    for table, items in puts.items():
        unique = {item["key"]: item for item in items}  # one request per key and table in a call
        requests += [(table, {"PutRequest": {"Item": to_item(item)}}) for item in unique.values()]
    for table, keys in deletes.items():
        requests += [(table, {"DeleteRequest": {"Key": to_item({"key": k})}}) for k in dict.fromkeys(keys)]

    def send(chunk: list[tuple[str, dict[str, Any]]]) -> None:
        pending: dict[str, list[Any]] = {}
        for table, request in chunk:
            pending.setdefault(table, []).append(request)
        for attempt in range(8):
            response = client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(min(0.05 * 2**attempt, 2))
        raise RuntimeError(f"BatchWriteItem left {sum(len(v) for v in pending.values())} requests unprocessed")

    chunks = [requests[start : start + 25] for start in range(0, len(requests), 25)]
    if len(chunks) == 1:
        send(chunks[0])
    elif chunks:
        # Independent chunks go side by side: a large batch's state lands in about one round trip.
        with ThreadPoolExecutor(max_workers=min(8, len(chunks)), thread_name_prefix="batch-write") as pool:
            list(pool.map(send, chunks))
