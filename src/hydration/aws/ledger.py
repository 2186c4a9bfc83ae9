"""The failure ledger: keys whose last attempt in some run failed for good (partition key `key`).

Every run re-enqueues them (with the `force` they were first asked with) and the marker never moves past
the oldest of them. An entry is cleared only by a copy of its version or a newer one, and only if it is
still the entry that copy read (a newer failure written meanwhile stays).

Archived entries (`archived`: the source needs a restore) are kept apart: iterating the ledger (what runs
re-enqueue, what holds the marker) yields only retryable entries (`FailureRecord.retryable`: failures, and
archived keys whose restore was requested); `archived()` lists the archived ones; `request_restore` marks
one restore-requested, so that the next run copies it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from hydration.aws.dynamo import TableStore, conditional, from_item, to_item, values
from hydration.keyspace import MAX_CODE_POINT, KeyRange
from hydration.models import FailureRecord, Origin, iso
from hydration.observability import logger

BY_KEY_INDEX = "ByKey"  # infra/consumer.yaml: hash `origin`, range `key`, every attribute projected
SURROGATES = (0xD800, 0xDFFF)  # code points that are not characters: no key holds them


class LedgerCounts(NamedTuple):
    entries: int  # every entry, archived ones included
    archived: int


def _item(failure: FailureRecord) -> dict[str, Any]:
    data = failure.model_dump(mode="json", exclude={"failed_at", "first_failed_at", "last_modified"})
    data["failed_at"] = iso(failure.failed_at)
    data["last_modified"] = iso(failure.last_modified)
    data["restore_requested_at"] = iso(failure.restore_requested_at) if failure.restore_requested_at else None
    return data


def sort_key_condition(key_range: KeyRange) -> tuple[str, dict[str, str]] | None:
    """The ByKey index's sort-key condition that reads a range's keys (and at most its lower bound besides:
    DynamoDB takes one condition on the sort key, so `after` is read inclusively and dropped by the caller):
    ("", {}) for the whole key space, None for a range that holds no key."""
    lower = key_range.after if key_range.after is not None else key_range.prefix or None
    upper = key_range.upto if key_range.upto is not None else prefix_end(key_range.prefix)
    if lower is not None and upper is not None:
        if lower > upper:
            return None
        return "#k BETWEEN :lower AND :upper", {"lower": lower, "upper": upper}
    if lower is not None:
        return "#k >= :lower", {"lower": lower}
    if upper is not None:
        return "#k <= :upper", {"upper": upper}
    return "", {}


def prefix_end(prefix: str) -> str | None:
    """The first string after every key under `prefix` (its last character that can grow, grown by one and
    cut there), or None when nothing follows them (no prefix, or one of only the last code point)."""
    stem = prefix.rstrip(chr(MAX_CODE_POINT))
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if SURROGATES[0] <= following <= SURROGATES[1]:
        following = SURROGATES[1] + 1
    return stem[:-1] + chr(following)


def _index_unreadable(error: ClientError) -> bool:
    """DynamoDB's answer for an index that does not exist, or is still being backfilled (a ValidationException
    on AWS; moto answers ResourceNotFoundException), not for a missing table."""
    detail = error.response.get("Error", {})
    about_index = "index" in str(detail.get("Message", "")).lower()
    return detail.get("Code") in ("ValidationException", "ResourceNotFoundException") and about_index


class FailureLedger(TableStore):
    def record(self, failure: FailureRecord) -> None:
        """Write (or overwrite) the key's entry; `first_failed_at` keeps the first failure's time; attributes
        without a value are removed (an entry archived before and failing otherwise now is no longer)."""
        data = _item(failure)
        kept = {name: value for name, value in data.items() if name != "key" and value is not None}
        gone = [name for name, value in data.items() if value is None]
        names = {f"#a{i}": name for i, name in enumerate(kept)} | {f"#r{i}": name for i, name in enumerate(gone)}
        named = {f"a{i}": value for i, value in enumerate(kept.values())}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(kept)))
        expression += ", first_failed_at = if_not_exists(first_failed_at, :first)"
        if gone:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(gone)))
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"key": failure.key}),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values(**named, first=data["failed_at"]),
        )

    def ensure(self, failure: FailureRecord) -> bool:
        """Add the key's entry unless it has one (the finalizer's sweeps); True if added."""
        data = _item(failure)
        data["first_failed_at"] = data["failed_at"]
        added = conditional(
            lambda: self._db.put_item(
                TableName=self._table,
                Item=to_item(data),
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": "key"},
            )
        )
        return added is not None

    def clear(self, key: str, seen_failed_at: datetime) -> bool:
        """Remove the entry that was read (failed at `seen_failed_at`); a newer failure stays. True if removed."""
        removed = conditional(
            lambda: self._db.delete_item(
                TableName=self._table,
                Key=to_item({"key": key}),
                ConditionExpression="failed_at = :f",
                ExpressionAttributeValues=values(f=iso(seen_failed_at)),
            )
        )
        return removed is not None

    def remove(self, key: str) -> None:
        """Unconditional removal (operators: `failures` commands)."""
        self._db.delete_item(TableName=self._table, Key=to_item({"key": key}))

    def get(self, key: str) -> FailureRecord | None:
        item = self._db.get_item(TableName=self._table, Key=to_item({"key": key}), ConsistentRead=True).get("Item")
        return FailureRecord.model_validate(from_item(item)) if item else None

    def request_restore(self, key: str, at: datetime) -> FailureRecord | None:
        """Mark an archived entry restore-requested (runs re-enqueue it from now on); the entry, or None if
        the key has no archived entry (it landed, or failed otherwise, meanwhile)."""
        updated = conditional(
            lambda: self._db.update_item(
                TableName=self._table,
                Key=to_item({"key": key}),
                UpdateExpression="SET restore_requested_at = :at",
                ConditionExpression="archived = :yes",
                ExpressionAttributeValues=values(at=iso(at), yes=True),
                ReturnValues="ALL_NEW",
            )
        )
        return FailureRecord.model_validate(from_item(updated["Attributes"])) if updated else None

    def __iter__(self) -> Iterator[FailureRecord]:
        """The entries runs re-enqueue and that hold the marker: every one but the archived keys no restore
        was requested for (a scan: they are read, not requested)."""
        return (failure for failure in self.entries() if failure.retryable)

    def archived(self) -> Iterator[FailureRecord]:
        return (failure for failure in self.entries() if failure.archived)

    def within(self, key_range: KeyRange) -> Iterator[FailureRecord]:
        """The retryable entries whose keys lie in a range (a planner worker's shard), in key order per origin:
        a Query of the `ByKey` index for each origin (`Origin`: four values, every entry has one), the range
        as its sort-key condition, so a worker reads its range's entries and not the whole ledger, however
        many millions of keys failed. The index is eventually consistent: an entry written moments before a
        run starts may be read by the next run instead (the closer's consistent read still holds the marker
        before it). A ledger whose index is not there yet (a stack updated from a version without it, while
        DynamoDB backfills it) is scanned with a filter instead."""
        condition = sort_key_condition(key_range)
        if condition is None:
            return iter(())
        try:
            found = [failure for origin in Origin for failure in self._by_key(origin, condition)]
        except ClientError as error:
            if not _index_unreadable(error):
                raise
            logger.warning("the ledger's ByKey index cannot be read; scanning the ledger", error=str(error))
            found = list(self._scanned(key_range))
        return (failure for failure in found if failure.retryable and key_range.holds(failure.key))

    def _by_key(self, origin: Origin, condition: tuple[str, dict[str, str]]) -> Iterator[FailureRecord]:
        expression, named = condition
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=BY_KEY_INDEX,
            KeyConditionExpression="#o = :origin" + (f" AND {expression}" if expression else ""),
            ExpressionAttributeNames={"#o": "origin", **({"#k": "key"} if expression else {})},
            ExpressionAttributeValues=values(origin=origin.value, **named),
        )
        for page in pages:
            for item in page.get("Items", []):
                yield FailureRecord.model_validate(from_item(item))

    def _scanned(self, key_range: KeyRange) -> Iterator[FailureRecord]:
        """The filtered scan `within` falls back to: it reads, and is charged for, the whole table."""
        conditions, named = ["begins_with(#k, :prefix)"], {"prefix": key_range.prefix}
        if key_range.after is not None:
            conditions.append("#k > :after")
            named["after"] = key_range.after
        if key_range.upto is not None:
            conditions.append("#k <= :upto")
            named["upto"] = key_range.upto
        only = {
            "FilterExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": {"#k": "key"},
            "ExpressionAttributeValues": values(**named),
        }
        return self.entries(**only)

    def entries(self, **scan: Any) -> Iterator[FailureRecord]:
        """Every entry, archived ones included (`scan`: a filter)."""
        pages = self._db.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True, **scan)
        for page in pages:
            for item in page.get("Items", []):
                yield FailureRecord.model_validate(from_item(item))

    def counts(self) -> LedgerCounts:
        """How many entries, and how many of them archived: one scan that returns each entry's `archived` flag
        alone (a scan is charged for what it reads, so one pass instead of a COUNT scan per figure halves it)."""
        entries = archived = 0
        pages = self._db.get_paginator("scan").paginate(
            TableName=self._table, ProjectionExpression="archived", Select="SPECIFIC_ATTRIBUTES"
        )
        for page in pages:
            items = page.get("Items", [])
            entries += len(items)
            archived += sum(1 for item in items if item.get("archived", {}).get("BOOL"))
        return LedgerCounts(entries, archived)
