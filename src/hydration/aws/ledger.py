"""The failure ledger: keys whose last attempt in some run failed for good (partition key `key`).

Every run re-enqueues them (with the `force` they were first asked with) and the marker never moves past
the oldest of them. An entry is cleared only by a copy of its version or a newer one, and only if it is
still the entry that copy read (a newer failure written meanwhile stays).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hydration.aws.dynamo import TableStore, conditional, from_item, to_item, values
from hydration.models import FailureRecord, iso


def _item(failure: FailureRecord) -> dict[str, Any]:
    data = failure.model_dump(mode="json", exclude={"failed_at", "first_failed_at", "last_modified"})
    data["failed_at"] = iso(failure.failed_at)
    data["last_modified"] = iso(failure.last_modified)
    return data


class FailureLedger(TableStore):
    def record(self, failure: FailureRecord) -> None:
        """Write (or overwrite) the key's entry; `first_failed_at` keeps the first failure's time."""
        data = _item(failure)
        names = {f"#a{i}": name for i, name in enumerate(data) if name != "key"}
        named = {f"a{i}": data[name] for i, name in enumerate(data) if name != "key"}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i, name in enumerate(data) if name != "key")
        expression += ", first_failed_at = if_not_exists(first_failed_at, :first)"
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

    def __iter__(self) -> Iterator[FailureRecord]:
        for page in self._db.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            for item in page.get("Items", []):
                yield FailureRecord.model_validate(from_item(item))

    def count(self) -> int:
        total = 0
        for page in self._db.get_paginator("scan").paginate(TableName=self._table, Select="COUNT"):
            total += page.get("Count", 0)
        return total
