"""`status`: last sync, the active run and its progress, queues, alarms, failure ledger."""

from __future__ import annotations

from datetime import datetime

from hydration.models import QueueDepth, RunRecord
from hydration_cli.deployment import Deployment
from hydration_cli.ops.alarms import AlarmState, alarm_states
from hydration_cli.ops.runs import Progress, planning_of, progress, recent_runs
from hydration_cli.ops.sync import LastSync, read_raw
from hydration_cli.outcome import Result


class Status(Result):
    stack: str
    bucket: str
    last_sync: LastSync
    active_run: Progress | None
    last_run: RunRecord | None
    transfer_queue: QueueDepth
    transfer_dlq: QueueDepth
    invocation_dlq: QueueDepth | None
    alarms: list[AlarmState]
    failure_ledger: int  # every entry, archived ones included
    archived_keys: int = 0  # of them: archived sources (a restore is needed)


def status(deployment: Deployment, now: datetime) -> Status:
    queues = deployment.queues
    active = deployment.runs.active()
    recent, _ = recent_runs(deployment, 1)
    invocation_dlq = deployment.invocation_dlq_url
    ledger = deployment.ledger.counts()
    return Status(
        stack=deployment.stack,
        bucket=deployment.bucket,
        last_sync=read_raw(deployment, now),
        active_run=progress(active, now, planning_of(deployment, active)) if active else None,
        last_run=recent[0] if recent else None,
        transfer_queue=queues.depth(deployment.transfer_queue_url),
        transfer_dlq=queues.depth(deployment.dlq_url),
        invocation_dlq=queues.depth(invocation_dlq) if invocation_dlq else None,
        alarms=alarm_states(deployment),
        failure_ledger=ledger.entries,
        archived_keys=ledger.archived,
    )
