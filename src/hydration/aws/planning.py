"""The run item's planning writes that the sharded planner adds: the ConditionCheck its workers' books
transactions carry (the run is still PLANNING), and what completing the planning writes (the totals summed
from the run's shards)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hydration.aws.dynamo import to_item, values
from hydration.models import RunRecord, RunStatus, iso

# The planning totals, summed from the run's shards when the last one is done (`RunStore.finish_planning`).
PLANNING_TOTALS = (
    "keys_listed",
    "keys_selected",
    "bytes_selected",
    "keys_unchanged",
    "ledger_keys_enqueued",
    "list_calls",
    "probes",
    "shards_total",
    "deletes_seen",
    "objects_deleted",
    "checkpoints",
)


def planning_check(table: str, run_id: str) -> dict[str, Any]:
    """A TransactWriteItems ConditionCheck: the run is still PLANNING (a planner worker's transactions carry
    it, so a cancelled or failed run opens nothing more)."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": to_item({"run_id": run_id}),
            "ConditionExpression": "#s = :planning",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": values(planning=RunStatus.PLANNING.value),
        }
    }


def finish_clauses(run: RunRecord) -> tuple[str, dict[str, Any]]:
    """The update that completes a run's planning: PLANNING -> DRAINING (a dry run: COMPLETED), its totals."""
    named: dict[str, Any] = {name: getattr(run, name) for name in PLANNING_TOTALS}
    named |= {"sample_keys": run.sample_keys, "heartbeat_at": iso(datetime.now(UTC))}
    clauses = [f"{name} = :{name}" for name in named]
    if run.drift is not None:
        clauses.append("drift = :drift")
        named["drift"] = run.drift.model_dump(mode="json")
    if run.deletes_refused is not None:
        clauses.append("deletes_refused = :deletes_refused")
        named["deletes_refused"] = run.deletes_refused
    if run.dry_run:
        clauses.append("ended_at = :heartbeat_at")
    named["to"] = (RunStatus.COMPLETED if run.dry_run else RunStatus.DRAINING).value
    return "SET #s = :to, planning_complete = :t, " + ", ".join(clauses), named
