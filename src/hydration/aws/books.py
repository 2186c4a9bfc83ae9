"""The books table: one item per (run, key) a run enqueued, settled exactly once, and the run's counters.

Items:
- a task: partition `run_id`, sort `key` (the source key); `outcome` is absent until the key settles.
- counter items: partition `<run_id>#counters`, sort `00`..`15`: `keys_enqueued`, `bytes_enqueued`,
  `objects_<outcome>`, `bytes_transferred`. Writers spread over 16 items so that concurrent copiers do not
  contend for one item; a run's totals are their sum (`RunStore.get` adds them up).

Tasks are created and settled in transactions together with the counter they move, under a
ClientRequestToken: a task is counted once when it is enqueued and once when it settles, whatever the
duplicates (an SQS redelivery, a planner retry) and whatever the network retries. The books balance
(settled == enqueued) exactly when every enqueued key has settled.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hydration.aws.dynamo import Built, TableStore, from_item, to_item, transact, values
from hydration.models import Books, Outcome, Settlement, Task, iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_SHARDS = 16
CHUNK = 99  # tasks per transaction: 100 actions, one of them the counter


def counters_key(run_id: str, shard: int) -> dict[str, str]:
    return {"run_id": f"{run_id}#counters", "key": f"{shard:02d}"}


class BooksStore(TableStore):
    def __init__(self, client: DynamoDBClient, table: str, ttl_days: int = 30) -> None:
        super().__init__(client, table)
        self._ttl = timedelta(days=ttl_days)

    # ------------------------------------------------------------------ enqueue (planner)

    def open(self, run_id: str, tasks: list[Task]) -> list[Task]:
        """Create these tasks; returns those created now (a task the run already has is not created again
        and must not be sent again). keys_enqueued/bytes_enqueued move in the same transaction."""
        created: list[Task] = []
        expires = int((datetime.now(UTC) + self._ttl).timestamp())
        for start in range(0, len(tasks), CHUNK):
            chunk = {task.key: task for task in tasks[start : start + CHUNK]}
            shard = random.randrange(COUNTER_SHARDS)

            def build(excluded: frozenset[Hashable], chunk: dict[str, Task] = chunk, shard: int = shard) -> Built:
                kept = [task for key, task in chunk.items() if key not in excluded]
                if not kept:
                    return []
                actions: Built = [(task.key, self._put_task(task, expires)) for task in kept]
                counts = {"keys_enqueued": len(kept), "bytes_enqueued": sum(t.size for t in kept)}
                actions.append((None, self._add(run_id, shard, counts, expires)))
                return actions

            excluded = transact(self._db, build)
            created += [task for key, task in chunk.items() if key not in excluded]
        return created

    def _put_task(self, task: Task, expires: int) -> dict[str, Any]:
        item = task.model_dump(mode="json", exclude={"outcome", "settled_at"})
        item["enqueued_at"] = iso(task.enqueued_at or datetime.now(UTC))
        item["ttl"] = expires
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(run_id)",
            }
        }

    # ------------------------------------------------------------------ settle (copier, finalizer)

    def settle(self, run_id: str, settlements: list[Settlement]) -> list[str]:
        """Settle these keys; returns the keys settled now. A key already settled, or unknown to the run's
        books, is left alone and not counted."""
        settled: list[str] = []
        now = iso(datetime.now(UTC))
        by_key = {s.key: s for s in settlements}
        keys = list(by_key)
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            shard = random.randrange(COUNTER_SHARDS)

            def build(excluded: frozenset[Hashable], chunk: list[str] = chunk, shard: int = shard) -> Built:
                kept = [by_key[key] for key in chunk if key not in excluded]
                if not kept:
                    return []
                actions: Built = [(s.key, self._settle_task(run_id, s.key, s.outcome, now)) for s in kept]
                counts: dict[str, int] = {}
                for s in kept:
                    counts[s.outcome.counter] = counts.get(s.outcome.counter, 0) + 1
                    for name, value in (
                        ("bytes_transferred", s.bytes),
                        ("s3_requests", s.requests),
                        ("copy_ms", s.copy_ms),
                    ):
                        counts[name] = counts.get(name, 0) + value
                actions.append((None, self._add(run_id, shard, counts, None)))
                return actions

            excluded = transact(self._db, build)
            settled += [key for key in chunk if key not in excluded]
        return settled

    def add_costs(self, run_id: str, *, requests: int, copy_ms: int) -> None:
        """Count what copies still in progress cost (their S3 requests and time) in the run's totals."""
        update = self._add(
            run_id, random.randrange(COUNTER_SHARDS), {"s3_requests": requests, "copy_ms": copy_ms}, None
        )
        if len(update["Update"]["ExpressionAttributeValues"]):
            self._db.update_item(**update["Update"])

    def _settle_task(self, run_id: str, key: str, outcome: Outcome, now: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"run_id": run_id, "key": key}),
                "UpdateExpression": "SET outcome = :o, settled_at = :t",
                "ConditionExpression": "attribute_exists(run_id) AND attribute_not_exists(outcome)",
                "ExpressionAttributeValues": values(o=outcome.value, t=now),
            }
        }

    def _add(self, run_id: str, shard: int, counts: dict[str, int], expires: int | None) -> dict[str, Any]:
        counts = {name: n for name, n in counts.items() if n}
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        expression = "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
        attribute_values = {f":c{i}": {"N": str(n)} for i, n in enumerate(counts.values())}
        if expires is not None:
            expression += " SET #ttl = if_not_exists(#ttl, :ttl)"
            names["#ttl"] = "ttl"
            attribute_values[":ttl"] = {"N": str(expires)}
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item(counters_key(run_id, shard)),
                "UpdateExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": attribute_values,
            }
        }

    # ------------------------------------------------------------------ reading

    def counters(self, run_id: str) -> Books:
        """The run's totals: the sum of its counter items (one consistent Query)."""
        totals = dict.fromkeys(Books.COUNTERS, 0)
        for item in self._query(f"{run_id}#counters", consistent=True):
            for name in Books.COUNTERS:
                totals[name] += int(item.get(name, 0))
        return Books(**totals)

    def unsettled(self, run_id: str) -> Iterator[Task]:
        """The run's tasks that have not settled (a Query over the run's tasks, filtered)."""
        for item in self._query(run_id, consistent=True, unsettled=True):
            yield Task.model_validate(item)

    def tasks(self, run_id: str) -> Iterator[Task]:
        for item in self._query(run_id, consistent=False):
            yield Task.model_validate(item)

    def _query(self, partition: str, *, consistent: bool, unsettled: bool = False) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "run_id = :r",
            "ExpressionAttributeValues": values(r=partition),
            "ConsistentRead": consistent,
        }
        if unsettled:
            kwargs["FilterExpression"] = "attribute_not_exists(outcome)"
        for page in self._db.get_paginator("query").paginate(**kwargs):
            for item in page.get("Items", []):
                yield from_item(item)
