"""The books table: a run's books, one item per transfer message (a "sheet"), and the run's counters.

Items (partition `run_id`, sort `key`):
- a sheet, `s#<sheet id>`: the keys of one transfer message in slots (their places in `objects`), opened
  once (the opener chooses ids unique within the run); `pending` counts the slots not settled, `settled` (a
  list) holds those settled and `o_<outcome>` those of each outcome (the format: `hydration.aws.sheets`).
- a claim, `k#<key>` (`h#<sha-256 of the key>` for a key too long for a sort key): a key opened outside the
  listing's order (the failure ledger's, an operator's), so that a run opens it once whichever pass reaches it.
- counter items: partition `<run_id>#counters`, sort `00`..`15` (`Books.COUNTERS`). Writers spread over 16
  items so that concurrent copiers do not contend for one; a run's totals are their sum (`RunStore.get`).

Opening: one transaction of conditional Puts (sheets, claims), the counter ADD and the caller's actions
(`also`: the planner's checkpoint, so that the listing position and the sheets it produced commit together).
A claim that exists leaves its key out (the sheet is opened without it); a checkpoint that does not hold
raises CheckpointMovedError, and nothing was written.
Settling: one conditional update per sheet, appending the slots to `settled` and `o_<outcome>` and `ADD
pending -n`, each slot only if not in `settled` and naming the key; every sheet a batch touches in one
transaction with one counter ADD (chunked at the limit), under a ClientRequestToken. When a condition fails (a
duplicate delivery), the sheet as it was (the cancellation's ALL_OLD item; read again, consistently, if the
answer lacks it: a settled slot stays settled) says which slots settled already: they are left out and the
rest settled again. Each key counts once, whatever the duplicates and retries; the books balance (settled ==
enqueued) when every slot has settled.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hydration.aws.dynamo import Built, TableStore, from_item, item_size, to_item, transact, values
from hydration.aws.sheets import claim_item, epoch_ms, outcome_attribute, sheet_item, sheet_key, sheet_of
from hydration.errors import CheckpointMovedError
from hydration.models import Books, Origin, Settlement, Sheet, Task
from hydration.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_SHARDS = 16
TRANSACTION_ACTIONS = 100  # TransactWriteItems' limit
SETTLE_SHEETS = TRANSACTION_ACTIONS - 1  # sheets per settle transaction, with its counter
SLOTS_PER_UPDATE = 50  # an update's condition stays under DynamoDB's 4 KB per expression


def counters_key(run_id: str, shard: int) -> dict[str, str]:
    return {"run_id": f"{run_id}#counters", "key": f"{shard:02d}"}


class BooksStore(TableStore):
    def __init__(self, client: DynamoDBClient, table: str, ttl_days: int = 30) -> None:
        super().__init__(client, table)
        self._ttl = timedelta(days=ttl_days)

    # ------------------------------------------------------------------ open (planner)

    def open(self, run_id: str, sheets: Sequence[Sheet], *, also: Sequence[Any] = ()) -> list[Sheet]:
        """Open these sheets, and write `also`, in one transaction (at most 100 actions: sheets, claims, a
        counter and `also`). Returns the sheets as opened: a key another pass of the run has claimed already
        is left out (and must not be sent again). Raises CheckpointMovedError if an `also` does not hold."""
        expires = int((datetime.now(UTC) + self._ttl).timestamp())
        shard = random.randrange(COUNTER_SHARDS)

        def kept(excluded: frozenset[Hashable]) -> list[Sheet]:
            claimed = {ident[1] for ident in excluded if isinstance(ident, tuple)}
            return [left for sheet in sheets if (left := sheet.without(claimed)) is not None]

        def build(excluded: frozenset[Hashable]) -> Built:
            actions: Built = []
            counts = {"sheets": 0, "sheet_bytes": 0, "keys_enqueued": 0, "bytes_enqueued": 0}
            for sheet in kept(excluded):
                item = sheet_item(sheet, expires)
                actions.append((sheet.id, {"Put": self._put(item)}))
                counts["sheets"] += 1
                counts["sheet_bytes"] += item_size(item)
                counts["keys_enqueued"] += len(sheet.tasks)
                counts["bytes_enqueued"] += sum(task.size for task in sheet.tasks)
                counts["ledger_keys_enqueued"] = counts.get("ledger_keys_enqueued", 0) + sum(
                    1 for task in sheet.tasks if task.origin is Origin.LEDGER
                )
                for task in sheet.tasks:
                    if task.claimed:
                        claim = claim_item(run_id, task.key, sheet.id, expires)
                        actions.append((("claim", task.key), {"Put": self._put(claim)}))
                        counts["claims"] = counts.get("claims", 0) + 1
            if actions:
                actions.append((None, self._add(run_id, shard, counts | {"book_transactions": 1}, expires)))
            return actions + [(("also", i), action) for i, action in enumerate(also)] if actions or also else []

        def explain(ident: Hashable, reason: dict[str, Any]) -> frozenset[Hashable]:
            if isinstance(ident, tuple) and ident[0] == "claim":
                return frozenset({ident})
            if also:  # the caller's checkpoint did not hold, or (sheet ids follow it) another one wrote these
                raise CheckpointMovedError(f"run {run_id}: its checkpoint moved or it is no longer planning")
            raise RuntimeError(f"run {run_id} already has a sheet {ident}: sheet ids must be unique in a run")

        return kept(transact(self._db, build, explain))

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(run_id)"}

    # ------------------------------------------------------------------ settle (copier, planner, finalizer)

    def settle(self, run_id: str, settlements: Sequence[Settlement]) -> list[Settlement]:
        """Settle these slots; returns the settlements counted now. A slot settled already, or a settlement
        whose sheet the run does not have (or whose slot names another key), is left alone and not counted."""
        by_sheet: dict[str, dict[int, Settlement]] = {}
        for s in settlements:
            if s.sheet is not None and s.slot is not None:
                by_sheet.setdefault(s.sheet, {}).setdefault(s.slot, s)  # a slot twice in a batch: once
        rounds: list[list[tuple[str, list[Settlement]]]] = []  # one update per sheet per transaction
        for sheet_id, slots in by_sheet.items():
            mine = list(slots.values())
            for n, start in enumerate(range(0, len(mine), SLOTS_PER_UPDATE)):
                if n == len(rounds):
                    rounds.append([])
                rounds[n].append((sheet_id, mine[start : start + SLOTS_PER_UPDATE]))
        settled: list[Settlement] = []
        for groups in rounds:
            for start in range(0, len(groups), SETTLE_SHEETS):
                settled += self._settle_chunk(run_id, dict(groups[start : start + SETTLE_SHEETS]))
        return settled

    def _settle_chunk(self, run_id: str, groups: dict[str, list[Settlement]]) -> list[Settlement]:
        now = epoch_ms(datetime.now(UTC))
        shard = random.randrange(COUNTER_SHARDS)

        def build(excluded: frozenset[Hashable]) -> Built:
            actions: Built = []
            counts: dict[str, int] = {}
            for sheet_id, group in groups.items():
                kept = [s for s in group if (sheet_id, s.slot) not in excluded]
                if not kept:
                    continue
                actions.append((sheet_id, self._settle_sheet(run_id, sheet_id, kept, now)))
                counts["sheet_settles"] = counts.get("sheet_settles", 0) + 1
                for s in kept:
                    for name, value in (
                        (s.outcome.counter, 1),
                        ("bytes_transferred", s.bytes),
                        ("s3_requests", s.requests),
                        ("copy_ms", s.copy_ms),
                    ):
                        counts[name] = counts.get(name, 0) + value
            if actions:
                actions.append((None, self._add(run_id, shard, counts | {"book_transactions": 1}, None)))
            return actions

        def explain(ident: Hashable, reason: dict[str, Any]) -> frozenset[Hashable]:
            sheet_id = str(ident)
            item = reason.get("Item") or self._get_sheet(run_id, sheet_id)  # a settled slot stays settled
            group = groups[sheet_id]
            if not item:
                logger.warning("no such sheet in the run's books: nothing settled", run_id=run_id, sheet=sheet_id)
                return frozenset((sheet_id, s.slot) for s in group)
            stored = from_item(item)
            settled, objects = set(stored.get("settled") or ()), stored.get("objects") or []
            left: set[Hashable] = set()
            for s in group:
                assert s.slot is not None
                if s.slot in settled:
                    left.add((sheet_id, s.slot))
                elif s.slot >= len(objects) or objects[s.slot][0] != s.key:
                    logger.error("SlotMismatch: the slot names another key", key=s.key, sheet=sheet_id, slot=s.slot)
                    left.add((sheet_id, s.slot))
            return frozenset(left)

        excluded = transact(self._db, build, explain)
        return [s for sheet_id, group in groups.items() for s in group if (sheet_id, s.slot) not in excluded]

    def _settle_sheet(self, run_id: str, sheet_id: str, kept: list[Settlement], now_ms: int) -> dict[str, Any]:
        """Append the slots to `settled` and to `o_<outcome>`, `ADD pending -n`: each slot if not in `settled`
        yet and naming its key. Lists rather than a map entry and a clause per slot: an update of a few clauses
        (LocalStack's DynamoDB parses every one), 3 bytes a slot instead of 14."""
        by_outcome: dict[str, list[int]] = {}
        for s in kept:
            assert s.slot is not None
            by_outcome.setdefault(outcome_attribute(s.outcome), []).append(s.slot)
        names = {f"#o{i}": name for i, name in enumerate(by_outcome)}
        named: dict[str, Any] = {
            ":m": {"N": str(-len(kept))},
            ":t": {"N": str(now_ms)},
            ":none": {"L": []},
            ":slots": _numbers(s.slot for s in kept),
        }
        named |= {f":o{i}": _numbers(slots) for i, slots in enumerate(by_outcome.values())}
        conditions = ["attribute_exists(run_id)"]
        for i, s in enumerate(kept):
            named[f":s{i}"] = {"N": str(s.slot)}
            named[f":k{i}"] = {"S": s.key}
            conditions.append(f"NOT contains(settled, :s{i}) AND objects[{s.slot}][0] = :k{i}")
        appends = [
            "settled = list_append(if_not_exists(settled, :none), :slots)",
            *(f"#o{i} = list_append(if_not_exists(#o{i}, :none), :o{i})" for i in range(len(by_outcome))),
        ]
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"run_id": run_id, "key": sheet_key(sheet_id)}),
                "UpdateExpression": f"SET {', '.join(appends)}, settled_at = :t ADD pending :m",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": named,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _get_sheet(self, run_id: str, sheet_id: str) -> dict[str, Any] | None:
        key = to_item({"run_id": run_id, "key": sheet_key(sheet_id)})
        return self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")

    def add_costs(self, run_id: str, *, requests: int, copy_ms: int) -> None:
        """Count what copies still in progress cost (their S3 requests and time) in the run's totals."""
        update = self._add(
            run_id, random.randrange(COUNTER_SHARDS), {"s3_requests": requests, "copy_ms": copy_ms}, None
        )
        if len(update["Update"]["ExpressionAttributeValues"]):
            self._db.update_item(**update["Update"])

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

    def sheets(self, run_id: str, *, unsettled: bool = False, consistent: bool = False) -> Iterator[Sheet]:
        """The run's sheets (those with unsettled slots only, if asked), in id order."""
        for item in self._query(run_id, consistent=consistent, prefix="s#", unsettled=unsettled):
            yield sheet_of(item)

    def unsettled(self, run_id: str) -> Iterator[Task]:
        """The run's keys that have not settled, each with its sheet and slot (a consistent Query)."""
        for sheet in self.sheets(run_id, unsettled=True, consistent=True):
            yield from sheet.unsettled()

    def tasks(self, run_id: str) -> Iterator[Task]:
        """Every key of the run's books with its outcome (None: not settled yet)."""
        for sheet in self.sheets(run_id):
            yield from sheet.settled_tasks()

    def _query(
        self, partition: str, *, consistent: bool, prefix: str | None = None, unsettled: bool = False
    ) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "run_id = :r" + (" AND begins_with(#k, :p)" if prefix else ""),
            "ExpressionAttributeValues": values(r=partition, **({"p": prefix} if prefix else {})),
            "ConsistentRead": consistent,
        }
        if prefix:
            kwargs["ExpressionAttributeNames"] = {"#k": "key"}
        if unsettled:
            kwargs["FilterExpression"] = "pending > :z"
            kwargs["ExpressionAttributeValues"][":z"] = {"N": "0"}
        for page in self._db.get_paginator("query").paginate(**kwargs):
            for item in page.get("Items", []):
                yield from_item(item)


def _numbers(slots: Iterable[int | None]) -> dict[str, Any]:
    return {"L": [{"N": str(slot)} for slot in slots]}
