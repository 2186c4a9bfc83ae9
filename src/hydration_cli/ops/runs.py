"""Run records (read with RunStore) and the progress figures derived from them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from hydration.models import TERMINAL, RunRecord, RunStatus
from hydration_cli.deployment import Deployment


class Progress(BaseModel):
    """Keys enqueued vs settled (transferred + skipped + vanished + failed), bytes, rate and ETA."""

    run_id: str
    status: RunStatus
    planning_complete: bool
    keys_enqueued: int
    keys_settled: int
    objects_failed: int
    bytes_enqueued: int
    bytes_transferred: int
    elapsed_seconds: float
    keys_per_second: float | None
    bytes_per_second: float | None
    eta_seconds: float | None
    fraction: float | None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL


def progress(run: RunRecord, now: datetime) -> Progress:
    end = run.ended_at or now
    elapsed = max(0.0, (end - run.started_at).total_seconds())
    done = run.keys_settled
    keys_rate = done / elapsed if elapsed > 0 and done else None
    bytes_rate = run.bytes_transferred / elapsed if elapsed > 0 and run.bytes_transferred else None
    remaining = max(0, run.keys_enqueued - done)
    eta = None
    if run.status not in TERMINAL and run.planning_complete and keys_rate:
        eta = remaining / keys_rate
    fraction = min(1.0, done / run.keys_enqueued) if run.keys_enqueued else None
    if run.status in TERMINAL:
        fraction = 1.0 if run.status in (RunStatus.COMPLETED, RunStatus.COMPLETED_WITH_FAILURES) else fraction
    return Progress(
        run_id=run.run_id,
        status=run.status,
        planning_complete=run.planning_complete,
        keys_enqueued=run.keys_enqueued,
        keys_settled=done,
        objects_failed=run.objects_failed,
        bytes_enqueued=run.bytes_enqueued,
        bytes_transferred=run.bytes_transferred,
        elapsed_seconds=elapsed,
        keys_per_second=keys_rate,
        bytes_per_second=bytes_rate,
        eta_seconds=eta,
        fraction=fraction,
    )


class RunList(BaseModel):
    runs: list[RunRecord]


class RunDetail(BaseModel):
    run: RunRecord
    progress: Progress


def list_runs(deployment: Deployment, limit: int) -> RunList:
    return RunList(runs=deployment.runs.list(limit=limit))


def show_run(deployment: Deployment, run_id: str, now: datetime) -> RunDetail:
    run = deployment.runs.get(run_id)  # RunNotFoundError for an unknown id
    return RunDetail(run=run, progress=progress(run, now))
