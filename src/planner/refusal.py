"""A run asked for while another one holds the one-active-run lock: nothing starts, and the caller learns it.

Two triggers at the same moment both see no active run and both invoke the planner; one takes the lock,
the other is refused. The planner's answer says so (`started: false`, the active run, why). A caller that
invoked it asynchronously never reads that answer, so a run asked for under its own id (`new_run_id`: the
id `s3-hydration trigger` prints and follows) is recorded as REFUSED under that id, with the reason: the
caller polling for it finds it ended, and `runs list` shows it. Every refusal is counted
(`RunsNotStarted`, dimension `kind`): a reconcile that does not start alarms (ReconcileNotStartedAlarm).
"""

from __future__ import annotations

from hydration.errors import RunAlreadyActiveError
from hydration.models import PlanResult, RunRecord, RunStatus
from hydration.observability import MetricUnit, dimensioned_metric, logger
from planner.context import PlannerDeps


def refuse(run: RunRecord, busy: RunAlreadyActiveError, deps: PlannerDeps, *, asked_for: bool) -> PlanResult:
    """The answer to a run that could not start because `busy` is active; recorded if `asked_for`."""
    message = (
        f"run {run.run_id} not started: run {busy.run_id} is {busy.status} (follow it: s3-hydration runs watch "
        f"{busy.run_id}); a new run starts once it has finished"
    )
    logger.warning(
        "RunNotStarted", requested_run_id=run.run_id, kind=run.kind, active_run_id=busy.run_id, status=busy.status
    )
    dimensioned_metric("RunsNotStarted", MetricUnit.Count, 1, service="planner", kind=run.kind.value)
    if asked_for:
        refused = run.model_copy(
            update={"status": RunStatus.REFUSED, "ended_at": deps.clock(), "error": message, "heartbeat_at": None}
        )
        if not deps.runs.record_unstarted(refused):
            logger.info("the refused run's id is taken already; not recorded again", run_id=run.run_id)
    return PlanResult(
        started=False,
        run_id=busy.run_id,
        status=busy.status,
        kind=run.kind.value,
        refused_run_id=run.run_id,
        message=message,
    )
