from __future__ import annotations

from collections.abc import Iterable, Sequence

import click
from rich.console import RenderableType

from hydration_cli import humanize, render, views
from hydration_cli.deployment import Deployment
from hydration_cli.ops.status import Status
from hydration_cli.ops.status import status as read_status
from hydration_cli.options import command, now


@click.command()
@command
def status(deployment: Deployment) -> Status:
    """Last sync, the active run and its progress, queues, alarms, failure ledger."""
    return read_status(deployment, now())


@render.table_view.register
def _table(s: Status) -> RenderableType:
    moment = now()
    rows: list[tuple[str, object]] = [
        ("stack", f"{s.stack} (bucket {s.bucket})"),
        ("last sync", views.last_sync_text(s.last_sync, moment)),
    ]
    if s.active_run:
        rows.append(
            ("active run", f"{s.active_run.run_id} started {humanize.human_duration(s.active_run.elapsed_seconds)} ago")
        )
        rows.append(("progress", views.progress_text(s.active_run)))
    else:
        rows.append(("active run", "none"))
        if s.last_run:
            r = s.last_run
            rows.append(("last run", f"{r.run_id} {r.status} {humanize.when(r.ended_at or r.started_at, moment)}"))
    rows.append(("transfer queue", views.queue_text(s.transfer_queue)))
    rows.append(("transfer DLQ", views.queue_text(s.transfer_dlq)))
    if s.invocation_dlq is not None:
        rows.append(("invocation DLQ", views.queue_text(s.invocation_dlq)))
    archived = f", {s.archived_keys:,} of them archived (failures list --archived)" if s.archived_keys else ""
    rows.append(("failure ledger", f"{s.failure_ledger:,} key(s){archived}"))
    rows += [(f"alarm {a.alarm}", render.styled(a.state)) for a in s.alarms]
    return render.pairs(rows)


@render.text_rows.register
def _text(s: Status) -> Iterable[Sequence[object]]:
    yield ("STACK", s.stack, s.bucket)
    marker = s.last_sync
    yield ("LASTSYNC", marker.exists, marker.synced_to, marker.age_seconds, marker.detail.get("run_id"))
    if s.active_run:
        p = s.active_run
        yield ("ACTIVERUN", p.run_id, p.status, p.keys_settled, p.keys_enqueued, p.bytes_transferred, p.eta_seconds)
    if s.last_run:
        r = s.last_run
        yield ("LASTRUN", r.run_id, r.status, r.started_at, r.ended_at)
    queues = [("transfer", s.transfer_queue), ("transfer-dlq", s.transfer_dlq), ("invocation-dlq", s.invocation_dlq)]
    for name, depth in queues:
        if depth is not None:
            yield ("QUEUE", name, depth.visible, depth.in_flight, depth.delayed)
    yield ("LEDGER", s.failure_ledger, s.archived_keys)
    for a in s.alarms:
        yield ("ALARM", a.alarm, a.state, a.name)
