"""Guarded delete propagation's state, in the books table:
- `_sightings` (sort: the key): a consumer key the producer did not list: the last run that saw it absent
  (`run_id`) and in how many consecutive complete listings (`count`); expires after SIGHTING_DAYS.
- `<run_id>#deletes` (sort: the key): the run's candidates (seen absent in this listing and the previous
  complete one) and what became of each: `candidate`, `deleted`, `kept` (the producer answered HEAD 200),
  `refused` (the run was over a cap), `would-delete` (a dry run); TTL as the run's books.
- `_keyspace` / `deletes:last-complete`: the last run whose listing was complete (every shard done).
A deletion also forgets the key's manifest entry, so a key that comes back is copied again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hydration.aws.dynamo import TableStore, batch_get, from_item, to_item, values, write_batch
from hydration.models import RunRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SIGHTINGS = "_sightings"
POINTER = {"run_id": "_keyspace", "key": "deletes:last-complete"}
SIGHTING_DAYS = 60


def deletes_partition(run_id: str) -> str:
    return f"{run_id}#deletes"


class DeletionStore(TableStore):
    def __init__(self, client: DynamoDBClient, books_table: str, manifest_table: str, ttl_days: int = 30) -> None:
        super().__init__(client, books_table)
        self._manifest = manifest_table
        self._ttl = timedelta(days=ttl_days)

    def previous_listing(self) -> str | None:
        item = self._db.get_item(TableName=self._table, Key=to_item(POINTER), ConsistentRead=True).get("Item")
        return str(from_item(item)["last_run"]) if item else None

    def complete_listing(self, run_id: str) -> None:
        self._db.put_item(TableName=self._table, Item=to_item({**POINTER, "last_run": run_id}))

    def sight(self, run: RunRecord, keys: list[str]) -> list[str]:
        """Record that this run's listing did not find these consumer keys in the producer (a dry run
        records nothing); the run's candidates among them (absent in the previous complete listing too) are
        written to its deletions. Returns the candidates."""
        now = datetime.now(UTC)
        found = batch_get(self._db, {self._table: [{"run_id": SIGHTINGS, "key": key} for key in keys]}, consistent=True)
        before = {item["key"]: item for item in found[self._table]}
        expires = int((now + timedelta(days=SIGHTING_DAYS)).timestamp())
        sightings, candidates = [], []
        for key in keys:
            seen = before.get(key)
            last = seen.get("last_run") if seen is not None else None
            if seen is not None and last == run.run_id:
                count = int(seen["count"])  # sighted already by this run (a page listed again after a crash)
            elif seen is not None and run.previous_listing is not None and last == run.previous_listing:
                count = int(seen["count"]) + 1
            else:
                count = 1
            sightings.append({"run_id": SIGHTINGS, "key": key, "count": count, "last_run": run.run_id, "ttl": expires})
            if count >= 2:
                candidates.append(key)
        run_expires = int((now + self._ttl).timestamp())
        marked = [self._mark(run.run_id, key, "candidate", run_expires) for key in candidates]
        writes = ([] if run.dry_run else sightings) + marked
        if writes:
            write_batch(self._db, {self._table: writes})
        return candidates

    def _mark(self, run_id: str, key: str, outcome: str, expires: int) -> dict[str, Any]:
        return {"run_id": deletes_partition(run_id), "key": key, "outcome": outcome, "ttl": expires}

    def of_run(self, run_id: str) -> dict[str, str]:
        """The run's deletions: key -> outcome."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="run_id = :r",
            ExpressionAttributeValues=values(r=deletes_partition(run_id)),
            ConsistentRead=True,
        )
        return {item["key"]: item["outcome"] for page in pages for item in map(from_item, page.get("Items", []))}

    def settle(self, run_id: str, key: str, outcome: str) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"run_id": deletes_partition(run_id), "key": key}),
            UpdateExpression="SET outcome = :o, settled_at = :t",
            ExpressionAttributeValues=values(o=outcome, t=datetime.now(UTC).isoformat()),
        )

    def forget(self, key: str) -> None:
        """The key was deleted: its sighting and its manifest entry go (a key that comes back is copied)."""
        self._db.delete_item(TableName=self._table, Key=to_item({"run_id": SIGHTINGS, "key": key}))
        self._db.delete_item(TableName=self._manifest, Key=to_item({"key": key}))
