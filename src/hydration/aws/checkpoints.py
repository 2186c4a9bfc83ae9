"""The planner's checkpoints in the runs table: where planning stands, written in the transaction that opens
the sheets it covers (`hydration.aws.books`), each conditional on the one before (`checkpoints = n`) and on
the run still PLANNING, so that what is in the books and where a resumed planning starts never disagree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hydration.aws.dynamo import to_item, values
from hydration.models import RunRecord, RunStatus, iso

PLANNER_FIELDS = ("keys_listed", "keys_unchanged")  # the run item's, set by the planner with its checkpoints


def planning_clauses(run: RunRecord) -> tuple[str, dict[str, Any]]:
    """SET clauses and values for where planning stands and what it counted (keys_enqueued is the books')."""
    named: dict[str, Any] = {name: getattr(run, name) for name in PLANNER_FIELDS}
    named["heartbeat_at"] = iso(datetime.now(UTC))
    named["watermark"] = iso(run.watermark)
    named["inflight_uploads"] = run.inflight_uploads
    clauses = [f"{name} = :{name}" for name in named]
    if run.drift is not None:
        clauses.append("drift = :drift")
        named["drift"] = run.drift.model_dump(mode="json")
    return ", ".join(clauses), named


def expecting(checkpoints: int) -> str:
    """The condition that no other invocation has checkpointed the run since this one read it."""
    if checkpoints:
        return "checkpoints = :expected"
    return "(attribute_not_exists(checkpoints) OR checkpoints = :expected)"


def checkpoint_action(table: str, run: RunRecord, expected: int) -> dict[str, Any]:
    """A TransactWriteItems action that saves where planning stands (`run.cursor`, its counts, a heartbeat)
    as checkpoint number `expected + 1`, if the run is PLANNING and its last checkpoint is number `expected`."""
    clauses, named = planning_clauses(run)
    named |= {"next": expected + 1, "expected": expected, "planning": RunStatus.PLANNING.value}
    names = {"#s": "status"}
    expression = "SET checkpoints = :next, " + clauses
    if run.cursor is not None:
        expression += ", #c = :cursor"
        names["#c"] = "cursor"
        named["cursor"] = run.cursor.model_dump(mode="json")
    condition = "#s = :planning AND " + expecting(expected)
    used = {k: v for k, v in named.items() if f":{k}" in expression + " " + condition}
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"run_id": run.run_id}),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values(**used),
        }
    }
