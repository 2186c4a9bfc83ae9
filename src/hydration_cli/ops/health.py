"""`health`: the periodic health check in one command (cron: it exits 1 when a check is critical).

Critical (`fail`): unhandled function errors or timeouts in the window (AWS/Lambda Errors), a message in
the transfer DLQ or the invocation DLQ, a transfer backlog older than BacklogAgeThresholdSeconds, a FAILED
or INCOMPLETE run in the window, an alarm in ALARM, a last sync older than --max-sync-age or a marker that
does not parse. Warnings (`warn`) alone leave the deployment healthy: runs that completed with failures or
were cancelled, alarms not found, no marker yet, a failure ledger that is not empty.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from hydration.models import RunStatus
from hydration_cli.aws.cloudwatch import MetricQuery
from hydration_cli.deployment import Deployment
from hydration_cli.ops.alarms import MISSING, alarm_states
from hydration_cli.ops.metrics import align, period_for
from hydration_cli.ops.runs import recent_runs
from hydration_cli.ops.sync import read_raw
from hydration_cli.outcome import ExitCode, Result

Level = Literal["ok", "warn", "fail"]
BACKLOG_WINDOW = timedelta(minutes=15)


class Check(BaseModel):
    name: str
    status: Level
    detail: str
    value: float | None = None
    threshold: float | None = None


# Run statuses that make a run a problem: critical (the marker did not move), or a warning.
FAILED_RUNS = frozenset({RunStatus.FAILED, RunStatus.INCOMPLETE})
PARTIAL_RUNS = frozenset({RunStatus.COMPLETED_WITH_FAILURES, RunStatus.CANCELLED})


class HealthReport(Result):
    stack: str
    healthy: bool
    since: datetime
    checks: list[Check]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.healthy else ExitCode.FAILURE


def check_function_errors(deployment: Deployment, since: datetime, now: datetime) -> Check:
    period = period_for(now - since, points=500)  # fine buckets, summed: the window stays as asked
    start, end = align(since, now, period)
    names = {service: deployment.function_name(service) for service in deployment.services}
    queries = [
        MetricQuery(f"e{i}", "AWS/Lambda", "Errors", {"FunctionName": name}, period, "Sum")
        for i, name in enumerate(names.values())
    ]
    data = deployment.cloudwatch.metric_data(queries, start, end)
    counts = {service: sum(v for _, v in data[f"e{i}"]) for i, service in enumerate(names)}
    total = sum(counts.values())
    detail = ", ".join(f"{service} {count:.0f}" for service, count in counts.items())
    return Check(
        name="function-errors",
        status="fail" if total > 0 else "ok",
        detail=f"unhandled errors/timeouts: {detail}",
        value=total,
        threshold=0,
    )


def check_transfer_dlq(deployment: Deployment) -> Check:
    current = deployment.queues.depth(deployment.dlq_url)
    held = current.visible + current.in_flight
    return Check(
        name="transfer-dlq",
        status="fail" if held else "ok",
        detail=f"{held} message(s) in the transfer DLQ",
        value=held,
        threshold=0,
    )


def check_invocation_dlq(deployment: Deployment) -> Check:
    url = deployment.invocation_dlq_url
    if url is None:
        return Check(name="invocation-dlq", status="warn", detail="the stack has no InvocationDlqUrl output")
    current = deployment.queues.depth(url)
    held = current.visible + current.in_flight
    return Check(
        name="invocation-dlq",
        status="fail" if held else "ok",
        detail=f"{held} failed planner/finalizer event(s) in the invocation DLQ",
        value=held,
        threshold=0,
    )


def check_backlog(deployment: Deployment, now: datetime) -> Check:
    """ApproximateAgeOfOldestMessage of the transfer queue; without datapoints, an upper bound: the age
    of the active run (its messages cannot be older). The transfer queue is never received from here."""
    threshold = float(deployment.parameter("BacklogAgeThresholdSeconds", "3600"))
    queue_name = deployment.transfer_queue_url.rstrip("/").rsplit("/", 1)[-1]
    query = MetricQuery("age", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": queue_name}, 60, "Maximum")
    start, end = align(now - BACKLOG_WINDOW, now, 60)
    points = deployment.cloudwatch.metric_data([query], start, end)["age"]
    if points:
        age, source = points[-1][1], "ApproximateAgeOfOldestMessage"
    else:
        current = deployment.queues.depth(deployment.transfer_queue_url)
        active = deployment.runs.active()
        if current.empty:
            age, source = 0.0, "the queue is empty"
        elif active is not None:
            age, source = (now - active.started_at).total_seconds(), f"at most the age of run {active.run_id}"
        else:
            age, source = 0.0, "no datapoints and no active run"
    return Check(
        name="backlog-age",
        status="fail" if age > threshold else "ok",
        detail=f"oldest transfer message {age:.0f}s ({source}; threshold {threshold:.0f}s)",
        value=age,
        threshold=threshold,
    )


def check_runs(deployment: Deployment, since: datetime) -> Check:
    recent = [r for r in recent_runs(deployment, 100)[0] if (r.ended_at or r.started_at) >= since]
    failed = [f"{r.run_id} {r.status}" for r in recent if r.status in FAILED_RUNS]
    partial = [f"{r.run_id} {r.status}" for r in recent if r.status in PARTIAL_RUNS]
    if failed:
        return Check(name="runs", status="fail", detail=f"run(s): {', '.join(failed)}", value=len(failed))
    if partial:
        return Check(name="runs", status="warn", detail=f"run(s): {', '.join(partial)}", value=len(partial))
    return Check(name="runs", status="ok", detail=f"{len(recent)} run(s) in the window, none failed", value=0)


def check_alarms(deployment: Deployment) -> Check:
    states = alarm_states(deployment)
    firing = [a.alarm for a in states if a.state == "ALARM"]
    missing = [a.alarm for a in states if a.state == MISSING]
    if firing:
        return Check(name="alarms", status="fail", detail=f"in ALARM: {', '.join(firing)}", value=len(firing))
    if missing:
        return Check(name="alarms", status="warn", detail=f"not found: {', '.join(missing)}", value=0)
    return Check(name="alarms", status="ok", detail=f"{len(states)} alarm(s), none in ALARM", value=0)


def check_last_sync(deployment: Deployment, now: datetime, max_age: timedelta) -> Check:
    marker = read_raw(deployment, now)
    if not marker.exists:
        return Check(name="last-sync", status="warn", detail="no sync marker: the next run is a full transfer")
    if marker.synced_to is None:
        return Check(name="last-sync", status="fail", detail="the sync marker does not parse: runs fail on it")
    age = marker.age_seconds or 0.0
    return Check(
        name="last-sync",
        status="fail" if age > max_age.total_seconds() else "ok",
        detail=f"synced to {marker.synced_to.isoformat()} ({age / 3600:.1f}h ago)",
        value=age,
        threshold=max_age.total_seconds(),
    )


def check_ledger(deployment: Deployment) -> Check:
    size, archived = deployment.ledger.counts()
    detail = f"{size - archived} key(s) whose last attempt failed (every run retries them)"
    if archived:
        detail += f", {archived} archived (a restore is needed: failures restore)"
    return Check(name="failure-ledger", status="warn" if size else "ok", detail=detail, value=size)


def health(deployment: Deployment, since: datetime, now: datetime, max_sync_age: timedelta) -> HealthReport:
    checks = [
        check_function_errors(deployment, since, now),
        check_transfer_dlq(deployment),
        check_invocation_dlq(deployment),
        check_backlog(deployment, now),
        check_runs(deployment, since),
        check_alarms(deployment),
        check_last_sync(deployment, now, max_sync_age),
        check_ledger(deployment),
    ]
    return HealthReport(
        stack=deployment.stack,
        healthy=all(c.status != "fail" for c in checks),
        since=since,
        checks=checks,
    )
