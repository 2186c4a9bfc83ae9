"""A run's shards in the books table, and the run item's shard counters (runs table).

Items:
- a shard: partition `<run_id>#shards`, sort `key` = its id; its range, progress and counts
  (`hydration.models.shards`).
- the run item (runs table) counts them: `shards_cut` (the first shards exist), `shards_open` (not yet done:
  the run's planning is complete when it is 0), `shards_total`.
- the key space's last boundaries: partition `_keyspace`, sort = the scope they were cut in (no TTL): the
  next run's first split points.

Every write of a shard is conditional on the version read and on the worker holding its lease, and moves
the version on: a worker that lost its lease (it was too slow, another took the shard over) can no longer
write, so what a shard records is what one worker did. Creating shards, splitting one and finishing one
move the run's counters in the same transaction.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hydration.aws.dynamo import Built, TableStore, conditional, from_item, retry_conflicts, to_item, transact, values
from hydration.models import RunStatus, iso
from hydration.models.shards import KeptCut, Shard, ShardCounts, ShardStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_CUT = 99  # shards created in the one transaction that cuts a run (with the run item: 100 actions)
KEYSPACE = "_keyspace"
PROGRESS = (*ShardCounts.FIELDS, "position", "rows_done", "sample_keys", "first_drift", "upto", "error")


def shards_partition(run_id: str) -> str:
    return f"{run_id}#shards"


class ShardStore(TableStore):
    def __init__(self, client: DynamoDBClient, books_table: str, runs_table: str, ttl_days: int = 30) -> None:
        super().__init__(client, books_table)
        self._runs = runs_table
        self._ttl = timedelta(days=ttl_days)

    # ------------------------------------------------------------------ creating

    def cut(self, run_id: str, shards: list[Shard], probes: int = 0) -> bool:
        """Create a run's first shards, once (with the ListObjectsV2 calls it took to find where to cut):
        False if the run was cut already or is no longer planning."""
        if not 0 < len(shards) <= MAX_CUT:
            raise ValueError(f"a run is cut into 1 to {MAX_CUT} shards, not {len(shards)}")
        uncut = "(attribute_not_exists(shards_cut) OR shards_cut = :f)"
        run = self._run_counters(run_id, len(shards), uncut, cut=True, probes=probes)
        return self._all_or_nothing([*(self._put(shard) for shard in shards), run])

    def add(self, shard: Shard) -> bool:
        """A shard added to a run that is cut and still planning (its guarded deletions)."""
        return self._all_or_nothing([self._put(shard), self._run_counters(shard.run_id, 1, "shards_cut = :t")])

    def _put(self, shard: Shard) -> dict[str, Any]:
        now = datetime.now(UTC)
        shard.created_at = shard.updated_at = now
        item = shard.model_dump(mode="json", exclude={"run_id", "shard_id"}, exclude_none=True)
        item |= {"run_id": shards_partition(shard.run_id), "key": shard.shard_id}
        item["ttl"] = int((now + self._ttl).timestamp())
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(run_id)",
            }
        }

    def _run_counters(
        self, run_id: str, opened: int, condition: str, *, cut: bool = False, probes: int = 0
    ) -> dict[str, Any]:
        expression = "ADD shards_open :n, shards_total :total"
        named: dict[str, Any] = {"n": opened, "total": max(opened, 0), "planning": RunStatus.PLANNING.value}
        if cut:
            expression += " SET shards_cut = :t, probes = :probes"
            named["probes"] = probes
        if cut or ":t" in condition:
            named["t"] = True
        if ":f" in condition:
            named["f"] = False
        return {
            "Update": {
                "TableName": self._runs,
                "Key": to_item({"run_id": run_id}),
                "UpdateExpression": expression,
                "ConditionExpression": f"#s = :planning AND {condition}",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": values(**named),
            }
        }

    # ------------------------------------------------------------------ reading

    def get(self, run_id: str, shard_id: str) -> Shard | None:
        item = self._db.get_item(
            TableName=self._table,
            Key=to_item({"run_id": shards_partition(run_id), "key": shard_id}),
            ConsistentRead=True,
        ).get("Item")
        return _shard(run_id, from_item(item)) if item else None

    def of_run(self, run_id: str) -> list[Shard]:
        """Every shard of the run (a consistent Query of its partition)."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="run_id = :r",
            ExpressionAttributeValues=values(r=shards_partition(run_id)),
            ConsistentRead=True,
        )
        return [_shard(run_id, from_item(item)) for page in pages for item in page.get("Items", [])]

    def open_count(self, run_id: str) -> int:
        item = self._db.get_item(
            TableName=self._runs,
            Key=to_item({"run_id": run_id}),
            ProjectionExpression="shards_open",
            ConsistentRead=True,
        ).get("Item")
        return int(from_item(item).get("shards_open", 0)) if item else 0

    # ------------------------------------------------------------------ working one (conditional on its version)

    def claim(self, shard: Shard, owner: str, until: datetime) -> Shard | None:
        """Take the shard's lease: it is open and nobody holds a live lease (or `owner` already does). The
        shard as claimed, or None."""
        now = datetime.now(UTC)
        response = conditional(
            lambda: retry_conflicts(
                lambda: self._db.update_item(
                    TableName=self._table,
                    Key=self._key(shard),
                    UpdateExpression="SET #o = :me, lease_until = :until, updated_at = :now ADD version :one",
                    ConditionExpression="#st = :open AND (attribute_not_exists(#o) OR lease_until < :now OR #o = :me)",
                    ExpressionAttributeNames={"#o": "owner", "#st": "status"},
                    ExpressionAttributeValues=values(
                        me=owner, until=iso(until), now=iso(now), one=1, open=ShardStatus.OPEN.value
                    ),
                    ReturnValues="ALL_NEW",
                )
            )
        )
        return _shard(shard.run_id, from_item(response["Attributes"])) if response is not None else None

    def save(self, shard: Shard, until: datetime) -> bool:
        """Record the shard's progress and renew its lease (the worker holds it, at the version it read)."""
        return self._write(shard, sets={"lease_until": iso(until)})

    def checkpoint_action(self, shard: Shard, expected: int, until: datetime) -> dict[str, Any]:
        """A TransactWriteItems action for `books.open`'s `also`: the shard's progress (its position, the next
        listing's StartAfter, and its counts) as version `expected + 1`, the lease renewed, if the worker
        still holds it at version `expected`: the checkpoint that commits with the sheets it covers."""
        return self._update(shard.model_copy(update={"version": expected}), sets={"lease_until": iso(until)})

    def hand_on(self, shard: Shard) -> bool:
        """Record the progress and give the lease up: the next worker starts where this one stopped."""
        shard.hand_ons += 1
        return self._write(shard, sets={"dispatched_at": iso(datetime.now(UTC))}, removes=("owner", "lease_until"))

    def release(self, shard: Shard) -> bool:
        """Give the lease up without recording progress (the worker failed: the shard's message is retried
        and its next worker starts from the last checkpoint)."""
        return (
            conditional(
                lambda: retry_conflicts(
                    lambda: self._db.update_item(
                        TableName=self._table,
                        Key=self._key(shard),
                        UpdateExpression="REMOVE #o, lease_until",
                        ConditionExpression="#o = :me AND version = :v",
                        ExpressionAttributeNames={"#o": "owner"},
                        ExpressionAttributeValues=values(me=shard.owner or "", v=shard.version),
                    )
                )
            )
            is not None
        )

    def fail(self, shard: Shard, error: str) -> bool:
        """OPEN -> FAILED (whoever holds it: its worker gave up on its last attempt)."""
        return (
            conditional(
                lambda: self._db.update_item(
                    TableName=self._table,
                    Key=self._key(shard),
                    UpdateExpression="SET #st = :failed, #e = :e, updated_at = :now",
                    ConditionExpression="#st = :open",
                    ExpressionAttributeNames={"#st": "status", "#e": "error"},
                    ExpressionAttributeValues=values(
                        failed=ShardStatus.FAILED.value,
                        open=ShardStatus.OPEN.value,
                        e=error[:2000],
                        now=iso(datetime.now(UTC)),
                    ),
                )
            )
            is not None
        )

    def split(self, shard: Shard, upper: Shard) -> bool:
        """Hand the upper part of a running shard on: `shard.upto` is already cut down; `upper` is created
        and the run counts one more open shard, in one transaction."""
        shard.splits += 1
        actions = [self._update(shard), self._put(upper), self._run_counters(shard.run_id, 1, "shards_cut = :t")]
        return self._all_or_nothing(actions, shard)

    def finish(self, shard: Shard) -> bool:
        """OPEN -> DONE with its last counts, and one open shard fewer on the run (still planning)."""
        update = self._update(shard, sets={"status": ShardStatus.DONE.value}, removes=("owner", "lease_until"))
        run = self._run_counters(shard.run_id, -1, "shards_cut = :t")
        return self._all_or_nothing([update, run], shard, done=True)

    def mark_dispatched(self, shard: Shard, now: datetime, quiet: timedelta) -> bool:
        """Note that a message is being sent for this open shard, unless one was sent within `quiet`: the
        finalizer's and the coordinator's re-dispatches do not pile messages up."""
        return (
            conditional(
                lambda: self._db.update_item(
                    TableName=self._table,
                    Key=self._key(shard),
                    UpdateExpression="SET dispatched_at = :now",
                    ConditionExpression="#st = :open AND (attribute_not_exists(dispatched_at) OR dispatched_at < :q)",
                    ExpressionAttributeNames={"#st": "status"},
                    ExpressionAttributeValues=values(now=iso(now), q=iso(now - quiet), open=ShardStatus.OPEN.value),
                )
            )
            is not None
        )

    def _key(self, shard: Shard) -> dict[str, Any]:
        return to_item({"run_id": shards_partition(shard.run_id), "key": shard.shard_id})

    def _update(
        self, shard: Shard, sets: dict[str, Any] | None = None, removes: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The conditional progress write: every progress field (and `sets`), the version moved on, only by
        the worker holding the lease at the version it read."""
        data = shard.model_dump(mode="json", include=set(PROGRESS), exclude_none=True) | (sets or {})
        data |= {"version": shard.version + 1, "updated_at": iso(datetime.now(UTC))}
        names = {f"#f{i}": name for i, name in enumerate(data)} | {"#owner": "owner"}
        expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(data)))
        if removes:
            names |= {f"#r{i}": name for i, name in enumerate(removes) if name != "owner"}
            expression += " REMOVE " + ", ".join("#owner" if n == "owner" else f"#r{i}" for i, n in enumerate(removes))
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._key(shard),
                "UpdateExpression": expression,
                "ConditionExpression": "#owner = :me AND version = :v",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values(
                    **{f"f{i}": value for i, value in enumerate(data.values())}, me=shard.owner or "", v=shard.version
                ),
            }
        }

    def _write(self, shard: Shard, sets: dict[str, Any] | None = None, removes: tuple[str, ...] = ()) -> bool:
        update = self._update(shard, sets, removes)["Update"]
        if conditional(lambda: retry_conflicts(lambda: self._db.update_item(**update))) is None:
            return False
        shard.version += 1
        if "owner" in removes:
            shard.owner = shard.lease_until = None
        return True

    def _all_or_nothing(self, actions: list[dict[str, Any]], shard: Shard | None = None, *, done: bool = False) -> bool:
        """One transaction: True if every condition held (and `shard` moves to its next version)."""

        def build(excluded: frozenset[Hashable]) -> Built:
            return [] if excluded else [(i, action) for i, action in enumerate(actions)]

        if transact(self._db, build):
            return False
        if shard is not None:
            shard.version += 1
            if done:
                shard.status, shard.owner, shard.lease_until = ShardStatus.DONE, None, None
        return True

    # ------------------------------------------------------------------ the key space's last boundaries

    def boundaries(self, scope: str) -> KeptCut:
        item = self._db.get_item(TableName=self._table, Key=to_item({"run_id": KEYSPACE, "key": scope})).get("Item")
        if not item:
            return KeptCut()
        data = from_item(item)
        listed = {entry["prefix"]: int(entry["keys"]) for entry in data.get("listed", [])}
        return KeptCut(points=list(data.get("points", [])), listed=listed)

    def remember(self, scope: str, kept: KeptCut, run_id: str) -> None:
        # a list of pairs, not a map: a map's keys are attribute names, which cannot be empty (the prefix "")
        listed = [{"prefix": prefix, "keys": keys} for prefix, keys in kept.listed.items()]
        item = {"run_id": KEYSPACE, "key": scope, "points": kept.points, "listed": listed, "from_run": run_id}
        self._db.put_item(TableName=self._table, Item=to_item(item))


def _shard(run_id: str, item: dict[str, Any]) -> Shard:
    fields = {k: v for k, v in item.items() if k not in ("run_id", "key", "ttl")}
    return Shard.model_validate({**fields, "run_id": run_id, "shard_id": item["key"]})
