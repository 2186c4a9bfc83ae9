from __future__ import annotations

from collections.abc import Iterable, Sequence

import click
from rich.console import RenderableType

from hydration.models import RunRecord
from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.runs import RunDetail, RunList, list_runs, show_run
from hydration_cli.options import command, now


@click.group()
def runs() -> None:
    """Run records (the runs table)."""


@runs.command("list")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True, help="Newest first.")
@command
def list_(deployment: Deployment, limit: int) -> RunList:
    """The most recent runs."""
    return list_runs(deployment, limit)


@runs.command("show")
@click.argument("run_id")
@command
def show(deployment: Deployment, run_id: str) -> RunDetail:
    """One run: counts, progress, watermark, error, reconcile drift."""
    return show_run(deployment, run_id, now())


def _took(run: RunRecord) -> str:
    return render.human_duration((run.ended_at - run.started_at).total_seconds()) if run.ended_at else "-"


@render.table_view.register
def _list_table(result: RunList) -> RenderableType:
    if not result.runs:
        return "no runs yet"
    headers = (
        "RUN",
        "STATUS",
        "KIND",
        "STARTED",
        "TOOK",
        "ENQUEUED",
        "COPIED",
        "SKIPPED",
        "VANISHED",
        "FAILED",
        "BYTES",
    )
    rows = [
        (
            r.run_id,
            render.styled(r.status),
            r.kind,
            render.when(r.started_at),
            _took(r),
            render.number(r.keys_enqueued),
            render.number(r.objects_transferred),
            render.number(r.objects_skipped),
            render.number(r.objects_vanished),
            render.number(r.objects_failed),
            render.human_bytes(r.bytes_transferred),
        )
        for r in result.runs
    ]
    return render.grid(headers, rows)


def run_record(r: RunRecord) -> tuple[object, ...]:
    """The RUN text record (runs list, runs show)."""
    return (
        "RUN",
        r.run_id,
        r.status,
        r.kind,
        r.started_at,
        r.ended_at,
        r.keys_enqueued,
        r.objects_transferred,
        r.objects_skipped,
        r.objects_vanished,
        r.objects_failed,
        r.bytes_transferred,
    )


@render.text_rows.register
def _list_text(result: RunList) -> Iterable[Sequence[object]]:
    return [run_record(r) for r in result.runs]


@render.table_view.register
def _show_table(detail: RunDetail) -> RenderableType:
    run, moment = detail.run, now()
    rows: list[tuple[str, object]] = [
        ("run", run.run_id),
        ("status", render.styled(run.status)),
        ("kind", run.kind),
        ("started", render.when(run.started_at, moment)),
        ("ended", render.when(run.ended_at, moment) if run.ended_at else "-"),
        ("watermark", render.when(run.watermark)),
        ("since", render.when(run.since) if run.since else "- (everything)"),
        ("prefixes", ", ".join(run.prefixes) or "(whole bucket)"),
        (
            "enqueued",
            f"{run.keys_enqueued:,} keys ({run.ledger_keys_enqueued:,} from the failure ledger), "
            f"{render.human_bytes(run.bytes_enqueued)}",
        ),
        ("settled", render.run_line(run)),
        ("progress", render.progress_text(detail.progress)),
    ]
    if run.failed_count is not None:
        rows.append(("ledger", f"{run.failed_count} key(s) in the failure ledger at completion"))
    if run.error:
        rows.append(("error", run.error))
    if run.drift is not None:
        d = run.drift
        rows.append(("drift", f"missing {d.missing}, different {d.different}, extra {d.extra}"))
        for kind in ("missing", "different", "extra"):
            sample = getattr(d, f"first_{kind}")
            if sample:
                rows.append((f"  {kind}", ", ".join(sample)))
    return render.pairs(rows)


@render.text_rows.register
def _show_text(detail: RunDetail) -> Iterable[Sequence[object]]:
    yield run_record(detail.run)
    p = detail.progress
    yield ("PROGRESS", p.keys_settled, p.keys_enqueued, p.bytes_transferred, p.bytes_enqueued, p.eta_seconds)
    if detail.run.error:
        yield ("ERROR", detail.run.error)
