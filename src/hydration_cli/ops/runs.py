"""Run records (read with RunStore), the progress figures derived from them, and cancelling a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from hydration.errors import RunNotFoundError
from hydration.models import TERMINAL, RunKind, RunRecord, RunStatus, Shard, ShardStatus
from hydration_cli.deployment import Deployment
from hydration_cli.errors import RunNotActiveError
from hydration_cli.outcome import ExitCode, Result
from hydration_cli.params import encode_token

COPIED_ALL = frozenset({RunStatus.COMPLETED, RunStatus.COMPLETED_WITH_FAILURES})  # every enqueued key settled


class Progress(BaseModel):
    """Keys enqueued vs settled (transferred + skipped + vanished + failed), bytes, rate and ETA."""

    run_id: str
    status: RunStatus
    kind: RunKind
    planning_complete: bool
    keys_listed: int
    keys_enqueued: int
    keys_settled: int
    objects_transferred: int
    objects_skipped: int
    objects_vanished: int
    objects_archived: int
    objects_failed: int
    bytes_enqueued: int
    bytes_transferred: int
    elapsed_seconds: float
    keys_per_second: float | None
    bytes_per_second: float | None
    eta_seconds: float | None
    fraction: float | None
    shards_total: int = 0  # the planning's shards: cut, split while they ran
    shards_done: int = 0
    shards_in_flight: int = 0  # a worker holds them now
    keys_listed_per_second: float | None = None  # while the run plans: its workers' listing rate

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL


def planning_of(deployment: Deployment, run: RunRecord) -> list[Shard] | None:
    """The run's shards while it plans (their live counts), None once its planning totals are in the run."""
    return deployment.shards.of_run(run.run_id) if run.status is RunStatus.PLANNING else None


def progress(run: RunRecord, now: datetime, shards: list[Shard] | None = None) -> Progress:
    """The run's progress; `shards` (while it plans): the keys listed so far, and the shards done and held."""
    end = run.ended_at or now
    elapsed = max(0.0, (end - run.started_at).total_seconds())
    listed, total, shards_done, in_flight = run.keys_listed, run.shards_total, run.shards_total, 0
    if shards is not None:
        listed = sum(shard.keys_listed for shard in shards)
        total = len(shards)
        shards_done = sum(1 for shard in shards if shard.status is ShardStatus.DONE)
        in_flight = sum(1 for shard in shards if shard.status is ShardStatus.OPEN and shard.leased(now))
    planned_until = now if shards is not None else (run.heartbeat_at or end)
    planning_seconds = max(0.0, (planned_until - run.started_at).total_seconds())
    done = run.keys_settled
    keys_rate = done / elapsed if elapsed > 0 and done else None
    bytes_rate = run.bytes_transferred / elapsed if elapsed > 0 and run.bytes_transferred else None
    remaining = max(0, run.keys_enqueued - done)
    eta = None
    if run.status not in TERMINAL and run.planning_complete and keys_rate:
        eta = remaining / keys_rate
    fraction = min(1.0, done / run.keys_enqueued) if run.keys_enqueued else None
    if run.status in COPIED_ALL:
        fraction = 1.0
    return Progress(
        run_id=run.run_id,
        status=run.status,
        kind=run.kind,
        planning_complete=run.planning_complete,
        keys_listed=listed,
        keys_enqueued=run.keys_enqueued,
        keys_settled=done,
        objects_transferred=run.objects_transferred,
        objects_skipped=run.objects_skipped,
        objects_vanished=run.objects_vanished,
        objects_archived=run.objects_archived,
        objects_failed=run.objects_failed,
        bytes_enqueued=run.bytes_enqueued,
        bytes_transferred=run.bytes_transferred,
        elapsed_seconds=elapsed,
        keys_per_second=keys_rate,
        bytes_per_second=bytes_rate,
        eta_seconds=eta,
        fraction=fraction,
        shards_total=total,
        shards_done=shards_done,
        shards_in_flight=in_flight,
        keys_listed_per_second=listed / planning_seconds if planning_seconds > 0 and listed else None,
    )


class RunList(Result):
    runs: list[RunRecord]  # newest first
    next_token: str | None = None  # --starting-token for the next page (None: no more runs)


class RunDetail(Result):
    run: RunRecord
    progress: Progress


def recent_runs(
    deployment: Deployment, limit: int, before: dict[str, str] | None = None
) -> tuple[list[RunRecord], Any]:
    """The newest `limit` runs (started before `before`), each with its books' totals, and where the next
    page starts; read through the runs table's index, a page at a time."""
    page = deployment.run_index.newest(limit, before)
    runs = []
    for run_id in page.run_ids:
        try:
            runs.append(deployment.runs.get(run_id))
        except RunNotFoundError:
            continue  # expired (TTL) between the index read and the item read
    return runs, page.next_before


def list_runs(deployment: Deployment, limit: int, starting_token: dict[str, str] | None = None) -> RunList:
    runs, next_before = recent_runs(deployment, limit, starting_token)
    return RunList(runs=runs, next_token=encode_token(next_before))


def show_run(deployment: Deployment, run_id: str, now: datetime) -> RunDetail:
    run = deployment.runs.get(run_id)  # RunNotFoundError for an unknown id
    return RunDetail(run=run, progress=progress(run, now, planning_of(deployment, run)))


class CancelPreview(RunDetail):
    """`runs cancel --dry-run`: the run as it is; nothing cancelled."""

    @property
    def cancellable(self) -> bool:
        return self.run.status in (RunStatus.PLANNING, RunStatus.DRAINING)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.cancellable else ExitCode.OK


class CancelledRun(Result):
    run: RunRecord  # as it ended: CANCELLED
    event_error: str | None = None  # why the `Run Cancelled` event could not be published (the run is cancelled)


def cancel_run(deployment: Deployment, run_id: str, reason: str) -> CancelledRun:
    """PLANNING|DRAINING -> CANCELLED (conditional; the lock is released) and a `Run Cancelled` event. The
    planner stops at its next heartbeat; keys already queued are still copied and settled in the run's books,
    but the run never closes and the marker stays."""
    if not deployment.runs.cancel(run_id, reason):
        run = deployment.runs.get(run_id)  # RunNotFoundError for an unknown id
        raise RunNotActiveError(run_id, run.status)
    run = deployment.runs.get(run_id)
    try:
        deployment.events.run_ended(run)
    except (ClientError, BotoCoreError) as exc:
        return CancelledRun(run=run, event_error=str(exc))
    return CancelledRun(run=run)
