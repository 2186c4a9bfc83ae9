"""`runs report`: what a run did and what it cost (an estimate: hydration_cli.ops.costs)."""

from __future__ import annotations

from datetime import datetime

from hydration.models import RunRecord
from hydration_cli.deployment import Deployment
from hydration_cli.ops.costs import Cost, Rates, Work, cost_of
from hydration_cli.ops.stack import DeployedSettings, deployed_settings
from hydration_cli.outcome import Result


class RunReport(Result):
    run: RunRecord
    settings: DeployedSettings
    duration_seconds: float
    planning_seconds: float
    objects_per_second: float | None
    bytes_per_second: float | None
    work: Work
    cost: Cost
    deletions: dict[str, str] = {}  # guarded deletes: key -> deleted | kept | refused | would-delete


def work_of(run: RunRecord, now: datetime, workers: int = 1) -> tuple[Work, float]:
    """The cost model's input from a run's record and books, and the run's duration so far (`workers`: the
    planner workers the deployment runs at once; a run keeps at most one busy per shard)."""
    end = run.ended_at or now
    duration = max(0.0, (end - run.started_at).total_seconds())
    # finishing planning is the planner's last heartbeat; a run that never finished planning planned until its end
    planned_until = run.heartbeat_at if run.planning_complete and run.heartbeat_at else end
    work = Work(
        kind=run.kind,
        prefixes=max(1, len(run.prefixes)),
        keys_listed=run.keys_listed,
        keys_looked_up=run.keys_enqueued + run.keys_unchanged,
        keys_enqueued=run.keys_enqueued,
        keys_settled=run.keys_settled,
        objects_transferred=run.objects_transferred,
        objects_failed=run.objects_failed,
        bytes_transferred=run.bytes_transferred,
        s3_requests=run.s3_requests,
        copy_seconds=run.copy_ms / 1000,
        planner_seconds=max(0.0, (planned_until - run.started_at).total_seconds()),
        planner_workers=max(1, min(workers, run.shards_total)),
        run_seconds=duration,
        sheets=run.sheets,
        sheet_bytes=run.sheet_bytes,
        sheet_settles=run.sheet_settles,
        claims=run.claims,
        book_transactions=run.book_transactions,
        checkpoints=run.checkpoints,
    )
    return work, duration


def report_run(deployment: Deployment, run_id: str, now: datetime, rates: Rates) -> RunReport:
    run = deployment.runs.get(run_id)  # RunNotFoundError for an unknown id
    settings = deployed_settings(deployment)
    work, duration = work_of(run, now, settings.planner_concurrency)
    return RunReport(
        run=run,
        settings=settings,
        duration_seconds=duration,
        planning_seconds=work.planner_seconds,
        objects_per_second=run.objects_transferred / duration if duration else None,
        bytes_per_second=run.bytes_transferred / duration if duration else None,
        work=work,
        cost=cost_of(work, settings, rates),
        deletions=deployment.stores.deletions.of_run(run_id),
    )
