"""`runs watch` (and `trigger --wait`): follow a run from planning to its end, nudging the finalizer each poll
so the run closes as soon as it can instead of at the finalizer's next schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hydration.errors import RunNotFoundError
from hydration.models import TERMINAL, FinalizeResult, RunRecord, RunStatus
from hydration_cli.deployment import Deployment
from hydration_cli.errors import NoActiveRunError, RunNotStartedError, WaitTimeoutError
from hydration_cli.ops.runs import Progress, planning_of, progress
from hydration_cli.outcome import ExitCode, Result


class RunWatch(Result):
    run: RunRecord  # as it ended
    progress: Progress

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.run.status is RunStatus.COMPLETED else ExitCode.FAILURE


@dataclass(frozen=True)
class Polling:
    timeout: timedelta  # the longest wait for the run to end, once it exists
    interval: float  # seconds between polls
    start_timeout: timedelta  # the longest wait for the run to appear
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]


def finalize(deployment: Deployment, run_id: str) -> FinalizeResult:
    answer = deployment.functions.invoke(deployment.function_name("finalizer"), {"run_id": run_id})
    return FinalizeResult.model_validate(answer)


def _exists(deployment: Deployment, run_id: str) -> bool:
    try:
        deployment.runs.get(run_id)
    except RunNotFoundError:
        return False
    return True


def _active_or_new(deployment: Deployment, began: datetime) -> str | None:
    """The active run, or one that started since the watch began and has ended already (a short run can
    start and end between two polls)."""
    active = deployment.runs.active_run_id()
    if active is not None:
        return active
    recent = [run for run in deployment.runs.list(limit=5) if not run.dry_run and run.started_at >= began]
    return recent[0].run_id if recent else None


def find(
    deployment: Deployment, run_id: str | None, polling: Polling, on_waiting: Callable[[], None] = lambda: None
) -> str:
    """The run to follow: `run_id` once it exists (a run just triggered asynchronously appears within
    seconds), or, without one, the active run (waiting for one to start, e.g. the schedule's)."""
    began = polling.clock()
    deadline = began + polling.start_timeout
    while True:
        found = _active_or_new(deployment, began) if run_id is None else run_id if _exists(deployment, run_id) else None
        if found is not None:
            return found
        if polling.clock() >= deadline:
            if run_id is None:
                raise NoActiveRunError(
                    f"no run became active within {polling.start_timeout} (s3-hydration runs list shows the last ones)"
                )
            raise RunNotStartedError(
                f"run {run_id} did not appear within {polling.start_timeout}: the planner may have started nothing "
                "(s3-hydration logs --function planner --errors; s3-hydration dlq peek --invocation)"
            )
        on_waiting()
        polling.sleep(polling.interval)


def follow(
    deployment: Deployment,
    run_id: str,
    polling: Polling,
    on_progress: Callable[[Progress], None] = lambda _: None,
) -> RunWatch:
    """Poll the run record until the run ends; each poll also invokes the finalizer for this run."""
    deadline = polling.clock() + polling.timeout
    while True:
        run = deployment.runs.get(run_id)
        if run.status not in TERMINAL:
            finalize(deployment, run_id)
            run = deployment.runs.get(run_id)
        current = progress(run, polling.clock(), planning_of(deployment, run))
        on_progress(current)
        if run.status in TERMINAL:
            return RunWatch(run=run, progress=current)
        if polling.clock() >= deadline:
            raise WaitTimeoutError(
                f"run {run_id} is still {run.status.value} after {polling.timeout}; it goes on without us: "
                f"s3-hydration runs watch {run_id}"
            )
        polling.sleep(polling.interval)
