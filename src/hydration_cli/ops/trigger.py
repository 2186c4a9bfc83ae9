"""`trigger`: start a run through the planner, asynchronously as the schedule does, under a run id chosen here
(so it can be followed: hydration_cli.ops.watch), then confirm it started: the run appears under that id
within seconds, or the planner recorded it REFUSED (another trigger took the one-active-run lock at the same
moment) and the caller is told so; a dry run asks the planner and waits for its answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from hydration.errors import InvalidRequestError
from hydration.models import (
    PlannerRequest,
    PlanResult,
    RunKind,
    RunRecord,
    RunStatus,
    describe_validation_error,
    new_run_id,
)
from hydration_cli.deployment import Deployment
from hydration_cli.errors import RunNotStartedError
from hydration_cli.ops import watch
from hydration_cli.ops.runs import Progress
from hydration_cli.ops.stack import deployed_settings
from hydration_cli.outcome import ExitCode, Result


class TriggerResult(Result):
    payload: dict[str, Any]
    kind: RunKind
    run_id: str | None = None  # the run started (or continued); None for a dry run
    resumed: bool = False  # the active run had stopped planning: the planner continues it, no new run starts
    plan: PlanResult | None = None  # a dry run: the planner's answer
    run: RunRecord | None = None  # the run at its end (--wait)
    progress: Progress | None = None

    @property
    def exit_code(self) -> ExitCode:
        if self.plan is not None:
            if self.plan.status not in (None, RunStatus.COMPLETED):
                return ExitCode.FAILURE  # the dry run did not finish its listing
            return ExitCode.FOUND if self.plan.keys_enqueued else ExitCode.OK
        if self.run is not None and self.run.status is not RunStatus.COMPLETED:
            return ExitCode.FAILURE
        return ExitCode.OK


def build_request(
    *,
    full: bool = False,
    prefix: str | None = None,
    since: datetime | None = None,
    keys: list[str] | None = None,
    reconcile: bool = False,
    force: bool = False,
    dry_run: bool = False,
) -> PlannerRequest:
    """The planner payload, validated here exactly as the planner validates it (exit 2 if invalid)."""
    try:
        return PlannerRequest(
            full=full,
            prefix=prefix,
            since=since,
            keys=keys or None,
            reconcile=reconcile,
            force=force,
            dry_run=dry_run,
        )
    except ValidationError as exc:
        raise InvalidRequestError(describe_validation_error(exc)) from exc


def payload_of(request: PlannerRequest) -> dict[str, Any]:
    """`{}`, `{"full": true}`, `{"prefix": ...}`, `{"keys": [...]}`, ... with `"force"`, `"dry_run"`, `"new_run_id"`."""
    return request.model_dump(mode="json", exclude_defaults=True)


def ask_planner(deployment: Deployment, request: PlannerRequest, polling: watch.Polling) -> PlanResult:
    """A dry run: the planner starts it (a run record that takes no lock) and its workers list and count, as
    they would for the run itself; its figures once every shard is done (followed as `runs watch` does)."""
    answer = PlanResult.model_validate(
        deployment.functions.invoke(deployment.function_name("planner"), payload_of(request))
    )
    if not answer.dry_run or answer.run_id is None or answer.status != RunStatus.PLANNING:
        return answer
    return plan_of(watch.follow(deployment, answer.run_id, polling).run)


def plan_of(run: RunRecord) -> PlanResult:
    """A dry run's figures, as the planner answers them."""
    return PlanResult(
        started=False,
        dry_run=True,
        run_id=run.run_id,
        status=run.status,
        kind=run.kind,
        since=run.since,
        watermark=run.watermark,
        keys_listed=run.keys_listed,
        keys_enqueued=run.keys_selected,
        bytes_enqueued=run.bytes_selected,
        shards=run.shards_total,
        sample_keys=run.sample_keys,
        message=run.error or "dry run: nothing was enqueued",
    )


def dry_run(deployment: Deployment, request: PlannerRequest, polling: watch.Polling) -> TriggerResult:
    return TriggerResult(payload=payload_of(request), kind=request.kind, plan=ask_planner(deployment, request, polling))


def start(deployment: Deployment, request: PlannerRequest, now: datetime) -> TriggerResult:
    """Invoke the planner asynchronously with a new run's id. A run already active starts nothing
    (RunNotStartedError), unless it stopped planning (no heartbeat for StalePlanningSeconds): then the planner
    continues it, and that run is the one to follow."""
    active = deployment.runs.active()
    resumed = False
    if active is not None:
        stale_after = timedelta(seconds=deployed_settings(deployment).stale_planning_seconds)
        if active.status is not RunStatus.PLANNING or now - active.heartbeat() <= stale_after:
            raise RunNotStartedError(
                f"run {active.run_id} is {active.status.value}; nothing started (follow it: s3-hydration runs "
                f"watch {active.run_id}; stop it: s3-hydration runs cancel {active.run_id})"
            )
        resumed = True
    request = request.model_copy(update={"new_run_id": new_run_id(now)})
    payload = payload_of(request)
    deployment.functions.invoke_async(deployment.function_name("planner"), payload)
    run_id = active.run_id if active is not None else str(request.new_run_id)
    return TriggerResult(payload=payload, kind=request.kind, run_id=run_id, resumed=resumed)


def confirm_started(deployment: Deployment, result: TriggerResult, polling: watch.Polling) -> TriggerResult:
    """Wait (bounded polling) until the run asked for exists; RunNotStartedError if the planner refused it
    (its record says why and names the active run) or it never appeared."""
    if result.run_id is None or result.resumed:
        return result
    run = deployment.runs.get(watch.find(deployment, result.run_id, polling))
    if run.status is RunStatus.REFUSED:
        raise RunNotStartedError(run.error or f"run {run.run_id} was not started: another run is active")
    return result


def follow(
    deployment: Deployment,
    run_id: str,
    *,
    timeout: timedelta,
    interval: float,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    on_progress: Callable[[Progress], None] = lambda _: None,
) -> RunRecord:
    """The run `run_id` at its end, followed as `runs watch` does (for callers that started it themselves:
    the benchmark)."""
    polling = watch.Polling(timeout, interval, timedelta(0), clock, sleep)
    return watch.follow(deployment, run_id, polling, on_progress).run
