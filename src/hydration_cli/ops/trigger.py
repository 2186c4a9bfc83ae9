"""`trigger`: start a run through the planner; follow it to its end, nudging the finalizer each poll."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from finalizer.service import FinalizeResult
from hydration.errors import InvalidRequestError
from hydration.models import TERMINAL, PlannerRequest, RunRecord, describe_validation_error
from hydration_cli.deployment import Deployment
from hydration_cli.errors import WaitTimeoutError
from hydration_cli.ops.runs import Progress, progress
from planner.service import PlanResult


class TriggerResult(BaseModel):
    payload: dict[str, Any]
    plan: PlanResult
    run: RunRecord | None = None  # the run at its end (with --wait)
    progress: Progress | None = None


def build_request(
    *,
    full: bool = False,
    prefix: str | None = None,
    since: datetime | None = None,
    reconcile: bool = False,
    dry_run: bool = False,
) -> PlannerRequest:
    """The planner payload, validated here exactly as the planner validates it (exit 2 if invalid)."""
    try:
        return PlannerRequest(full=full, prefix=prefix, since=since, reconcile=reconcile, dry_run=dry_run)
    except ValidationError as exc:
        raise InvalidRequestError(describe_validation_error(exc)) from exc


def payload_of(request: PlannerRequest) -> dict[str, Any]:
    """`{}`, `{"full": true}`, `{"prefix": ...}`, `{"since": ...}`, `{"reconcile": true}`, `+ "dry_run"`."""
    return request.model_dump(mode="json", exclude_defaults=True)


def start(deployment: Deployment, request: PlannerRequest) -> TriggerResult:
    payload = payload_of(request)
    answer = deployment.functions.invoke(deployment.function_name("planner"), payload)
    return TriggerResult(payload=payload, plan=PlanResult.model_validate(answer))


def finalize(deployment: Deployment, run_id: str) -> FinalizeResult:
    answer = deployment.functions.invoke(deployment.function_name("finalizer"), {"run_id": run_id})
    return FinalizeResult.model_validate(answer)


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
    """Poll the run record until the run ends; each poll also invokes the finalizer for this run, so the
    run closes as soon as its queue has drained instead of at the finalizer's next schedule."""
    deadline = clock() + timeout
    while True:
        run = deployment.runs.get(run_id)
        if run.status not in TERMINAL:
            finalize(deployment, run_id)
            run = deployment.runs.get(run_id)
        on_progress(progress(run, clock()))
        if run.status in TERMINAL:
            return run
        if clock() >= deadline:
            raise WaitTimeoutError(
                f"run {run_id} is still {run.status.value} after {timeout}; it goes on without us: "
                f"s3-hydration runs show {run_id}"
            )
        sleep(interval)
