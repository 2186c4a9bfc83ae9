"""The runs table: run records and the one-active-run lock (item `run_id = ACTIVE`).

Every status change is conditional on the status it leaves, so a late or duplicate writer (a retried
planner, a second finalizer, an operator's cancel) can never move a run backwards or out of an end state.
A run's counters live in the books table (`hydration.aws.books`); `get` adds them in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hydration.aws.books import BooksStore
from hydration.aws.dynamo import (
    TableStore,
    conditional,
    conditional_failed,
    from_item,
    retry_conflicts,
    to_item,
    values,
)
from hydration.aws.planning import finish_clauses, planning_check
from hydration.errors import RunAlreadyActiveError, RunNotFoundError
from hydration.models import RunRecord, RunStatus, iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOCK_ID = "ACTIVE"


class RunStore(TableStore):
    def __init__(self, client: DynamoDBClient, table: str, books: BooksStore) -> None:
        super().__init__(client, table)
        self._books = books

    # ------------------------------------------------------------------ reading

    def _item(self, run_id: str) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key=to_item({"run_id": run_id}), ConsistentRead=True)
        return from_item(item["Item"]) if "Item" in item else None

    def get(self, run_id: str) -> RunRecord:
        """The run with its books' totals (consistent reads)."""
        data = self._item(run_id) if run_id != LOCK_ID else None
        if data is None:
            raise RunNotFoundError(run_id)
        return self._with_counters(data)

    def _with_counters(self, data: dict[str, Any]) -> RunRecord:
        counters = self._books.counters(data["run_id"])
        return RunRecord.model_validate({**data, **counters.model_dump()})

    def active_run_id(self) -> str | None:
        data = self._item(LOCK_ID)
        return data["active_run_id"] if data else None

    def active(self) -> RunRecord | None:
        run_id = self.active_run_id()
        if run_id is None:
            return None
        try:
            return self.get(run_id)
        except RunNotFoundError:
            return None

    def list(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        items: list[dict[str, Any]] = []
        for page in self._db.get_paginator("scan").paginate(TableName=self._table):
            items += [from_item(item) for item in page.get("Items", [])]
        runs = [item for item in items if item.get("run_id") != LOCK_ID]
        runs.sort(key=lambda item: str(item.get("started_at", "")), reverse=True)
        return [self._with_counters(item) for item in runs[:limit]]

    # ------------------------------------------------------------------ lifecycle

    def create(self, run: RunRecord) -> None:
        """Take the lock and write the run, atomically; RunAlreadyActiveError if a run holds the lock. A dry
        run takes no lock (it changes nothing): it is written alone."""
        lock = {"run_id": LOCK_ID, "active_run_id": run.run_id, "since": iso(run.started_at)}
        item = to_item(run.model_dump(mode="json", exclude=set(RunRecord.COUNTERS)))
        if run.dry_run:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(run_id)")
            return
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
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(run_id)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            active = self.active()
            if active is None:
                raise RunAlreadyActiveError(self.active_run_id() or "?", "active") from exc
            raise RunAlreadyActiveError(active.run_id, active.status.value) from exc

    def record_unstarted(self, run: RunRecord) -> bool:
        """Record a run that never started (REFUSED, or FAILED before it could), with why, without taking
        the lock: whoever follows its id learns it. False if a record with that id exists already."""
        item = run.model_dump(mode="json", exclude=set(RunRecord.COUNTERS))
        return (
            conditional(
                lambda: self._db.put_item(
                    TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(run_id)"
                )
            )
            is not None
        )

    def _update(self, run_id: str, expression: str, condition: str, names: dict[str, str], **named: Any) -> bool:
        """A conditional update of the run item; False if the condition did not hold."""
        text = expression + " " + condition
        names = {k: v for k, v in {"#s": "status", **names}.items() if k in text}
        named = {k: v for k, v in named.items() if f":{k}" in text}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"run_id": run_id}),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values(**named),
        }
        if names:
            request["ExpressionAttributeNames"] = names
        return conditional(lambda: retry_conflicts(lambda: self._db.update_item(**request))) is not None

    def heartbeat(self, run: RunRecord) -> bool:
        """Record that planning is alive; False if the run is no longer planning."""
        return self._update(
            run.run_id,
            "SET heartbeat_at = :now",
            "#s = :planning",
            {},
            now=iso(datetime.now(UTC)),
            planning=RunStatus.PLANNING.value,
        )

    def planning_check(self, run: RunRecord) -> dict[str, Any]:
        """A TransactWriteItems ConditionCheck: the run is still PLANNING (`hydration.aws.planning`)."""
        return planning_check(self._table, run.run_id)

    def finish_planning(self, run: RunRecord) -> bool:
        """PLANNING -> DRAINING once every shard of the run is done (a dry run: -> COMPLETED, it has nothing to
        drain), with the planning totals summed from its shards. False if a shard is still open or the run
        left PLANNING."""
        expression, named = finish_clauses(run)
        return self._update(
            run.run_id,
            expression,
            "#s = :planning AND shards_cut = :t AND shards_open = :zero",
            {},
            planning=RunStatus.PLANNING.value,
            t=True,
            zero=0,
            **named,
        )

    def fail(self, run_id: str, error: str) -> bool:
        """PLANNING -> FAILED (the marker stays), releasing the lock. A run past planning is left as is."""
        return self._end(run_id, RunStatus.FAILED, error, RunStatus.PLANNING)

    def cancel(self, run_id: str, reason: str) -> bool:
        """PLANNING|DRAINING -> CANCELLED (the marker stays), releasing the lock."""
        return self._end(run_id, RunStatus.CANCELLED, reason, RunStatus.PLANNING, RunStatus.DRAINING)

    def _end(self, run_id: str, status: RunStatus, why: str, *source: RunStatus) -> bool:
        """One of `source` -> `status`, with why; the lock released. False if the run was in no `source`."""
        sources = {f"from{i}": s.value for i, s in enumerate(source)}
        ended = self._update(
            run_id,
            "SET #s = :to, #e = :e, ended_at = :now",
            f"#s IN ({', '.join(':' + name for name in sources)})",
            {"#e": "error"},
            to=status.value,
            e=why[:2000],
            now=iso(datetime.now(UTC)),
            **sources,
        )
        if ended:
            self.release_lock(run_id)
        return ended

    def release_lock(self, run_id: str) -> None:
        conditional(
            lambda: self._db.delete_item(
                TableName=self._table,
                Key=to_item({"run_id": LOCK_ID}),
                ConditionExpression="active_run_id = :r",
                ExpressionAttributeValues=values(r=run_id),
            )
        )

    def set_drain_seen(self, run_id: str, seen: datetime | None) -> None:
        if seen is None:
            self._update(run_id, "REMOVE drain_seen_empty_at", "#s = :draining", {}, draining=RunStatus.DRAINING.value)
        else:
            self._update(
                run_id,
                "SET drain_seen_empty_at = :d",
                "#s = :draining",
                {},
                d=iso(seen),
                draining=RunStatus.DRAINING.value,
            )

    # ------------------------------------------------------------------ closing (one closer at a time)

    def claim(self, run_id: str, claimant: str, stale_after: timedelta) -> bool:
        """Conditional claim on a DRAINING, planned run: of several closers, exactly one gets True (a claim
        older than `stale_after`, left by a closer that died, can be taken over)."""
        now = datetime.now(UTC)
        return self._update(
            run_id,
            "SET closer = :c, closer_at = :now",
            "#s = :draining AND planning_complete = :t AND (attribute_not_exists(closer) OR closer_at < :stale)",
            {},
            c=claimant,
            now=iso(now),
            draining=RunStatus.DRAINING.value,
            t=True,
            stale=iso(now - stale_after),
        )

    def release_claim(self, run_id: str, claimant: str) -> None:
        self._update(run_id, "REMOVE closer, closer_at", "closer = :c", {}, c=claimant)

    def close(
        self,
        run_id: str,
        claimant: str,
        status: RunStatus,
        failed_count: int,
        marker: datetime | None,
        unsettled_swept: int = 0,
    ) -> None:
        """DRAINING -> an end status, by the claimant, and release the lock, atomically."""
        named: dict[str, Any] = {
            "status": status.value,
            "f": failed_count,
            "u": unsettled_swept,
            "now": iso(datetime.now(UTC)),
            "draining": RunStatus.DRAINING.value,
            "c": claimant,
        }
        expression = "SET #s = :status, failed_count = :f, unsettled_swept = :u, ended_at = :now"
        if marker is not None:
            expression += ", marker_written = :m"
            named["m"] = iso(marker)
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item({"run_id": run_id}),
                        "UpdateExpression": expression + " REMOVE closer, closer_at",
                        "ConditionExpression": "#s = :draining AND closer = :c",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": values(**named),
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": to_item({"run_id": LOCK_ID}),
                        "ConditionExpression": "attribute_not_exists(run_id) OR active_run_id = :r",
                        "ExpressionAttributeValues": values(r=run_id),
                    }
                },
            ]
        )
