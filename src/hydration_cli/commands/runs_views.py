"""How the `runs` commands' results look: tables for people, text records (hydration_cli.render)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType

from hydration.models import RunRecord
from hydration_cli import humanize, render, views
from hydration_cli.ops.report import RunReport
from hydration_cli.ops.runs import CancelledRun, CancelPreview, Progress, RunDetail, RunList
from hydration_cli.ops.watch import RunWatch
from hydration_cli.options import now


def _took(run: RunRecord) -> str:
    return humanize.human_duration((run.ended_at - run.started_at).total_seconds()) if run.ended_at else "-"


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
        "ARCHIVED",
        "FAILED",
        "BYTES",
    )
    rows = [
        (
            r.run_id,
            render.styled(r.status),
            r.kind,
            humanize.when(r.started_at),
            _took(r),
            humanize.number(r.keys_enqueued),
            humanize.number(r.objects_transferred),
            humanize.number(r.objects_skipped),
            humanize.number(r.objects_vanished),
            humanize.number(r.objects_archived),
            humanize.number(r.objects_failed),
            humanize.human_bytes(r.bytes_transferred),
        )
        for r in result.runs
    ]
    return render.paged(render.grid(headers, rows), result.next_token)


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
        r.objects_archived,  # last: the fields before it keep their places
    )


@render.text_rows.register
def _list_text(result: RunList) -> Iterable[Sequence[object]]:
    yield from (run_record(r) for r in result.runs)
    if result.next_token:
        yield ("NEXTTOKEN", result.next_token)


@render.table_view.register
def _show_table(detail: RunDetail) -> RenderableType:
    run, moment = detail.run, now()
    rows: list[tuple[str, object]] = [
        ("run", run.run_id),
        ("status", render.styled(run.status)),
        ("kind", run.kind),
        ("started", humanize.when(run.started_at, moment)),
        ("ended", humanize.when(run.ended_at, moment) if run.ended_at else "-"),
        ("watermark", humanize.when(run.watermark)),
        ("since", humanize.when(run.since) if run.since else "- (everything)"),
        ("prefixes", ", ".join(run.prefixes) or "(whole bucket)"),
        (
            "enqueued",
            f"{run.keys_enqueued:,} keys ({run.ledger_keys_enqueued:,} from the failure ledger), "
            f"{humanize.human_bytes(run.bytes_enqueued)}",
        ),
        ("settled", views.run_line(run)),
        ("progress", views.progress_text(detail.progress)),
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


def run_and_progress(run: RunRecord, p: Progress) -> Iterable[Sequence[object]]:
    """The RUN, PROGRESS (and ERROR) text records (`runs show`, `runs watch`)."""
    yield run_record(run)
    yield ("PROGRESS", p.keys_settled, p.keys_enqueued, p.bytes_transferred, p.bytes_enqueued, p.eta_seconds)
    if run.error:
        yield ("ERROR", run.error)


@render.text_rows.register
def _show_text(detail: RunDetail) -> Iterable[Sequence[object]]:
    return run_and_progress(detail.run, detail.progress)


@render.table_view.register
def _watch_table(result: RunWatch) -> str:
    return "\n".join(views.run_end(result.run, result.progress.elapsed_seconds))


@render.text_rows.register
def _watch_text(result: RunWatch) -> Iterable[Sequence[object]]:
    return run_and_progress(result.run, result.progress)


@render.table_view.register
def _cancel_preview_table(preview: CancelPreview) -> RenderableType:
    verdict = (
        f"dry run: run {preview.run.run_id} would be cancelled (queued keys still drain, the marker stays)"
        if preview.cancellable
        else f"dry run: run {preview.run.run_id} is {preview.run.status}: nothing to cancel"
    )
    return Group(_show_table(preview), verdict)


@render.text_rows.register
def _cancel_preview_text(preview: CancelPreview) -> Iterable[Sequence[object]]:
    yield from run_and_progress(preview.run, preview.progress)
    yield ("CANCEL", preview.cancellable)


@render.table_view.register
def _cancel_table(result: CancelledRun) -> str:
    run = result.run
    lines = [
        f"run {run.run_id} {run.status}: {run.keys_settled:,}/{run.keys_enqueued:,} keys settled; "
        "keys already queued still drain, the sync marker stays"
    ]
    if result.event_error:
        lines.append(f"note: the Run Cancelled event was not published: {result.event_error}")
    return "\n".join(lines)


@render.text_rows.register
def _cancel_text(result: CancelledRun) -> Iterable[Sequence[object]]:
    yield run_record(result.run)
    yield ("EVENT", "Run Cancelled", result.event_error is None, result.event_error)


@render.table_view.register
def _report_table(report: RunReport) -> RenderableType:
    run = report.run
    per_second = humanize.number(report.objects_per_second) if report.objects_per_second is not None else "-"
    rows: list[tuple[str, object]] = [
        ("run", f"{run.run_id} ({run.kind}, {run.status})"),
        ("objects", views.run_line(run)),
        ("listed", f"{run.keys_listed:,} keys ({run.keys_unchanged:,} unchanged: the consumer holds them)"),
        (
            "duration",
            f"{humanize.human_duration(report.duration_seconds)} "
            f"(planning {humanize.human_duration(report.planning_seconds)}); "
            f"{humanize.when(run.started_at)} .. {humanize.when(run.ended_at) if run.ended_at else 'still going'}",
        ),
        ("throughput", f"{per_second} objects/s, {humanize.human_bytes(report.bytes_per_second)}/s"),
        ("copies", f"{run.s3_requests:,} S3 requests, {humanize.human_duration(run.copy_ms / 1000)} of copy time"),
        ("cost", f"about {report.cost.total_usd:.4f} USD (estimated, below)"),
    ]
    if run.shards_total:
        listing = f"{run.list_calls:,} ListObjectsV2 calls listing, {run.probes:,} cutting"
        rows.insert(3, ("planning", f"{run.shards_total:,} shard(s), {listing}"))
    if report.deletions or run.deletes_refused:
        counts = ", ".join(f"{n} {o}" for o, n in sorted(Counter(report.deletions.values()).items()))
        rows.append(("deletes", f"{counts or 'none'}" + (f" ({run.deletes_refused})" if run.deletes_refused else "")))
    deleted = [f"  {outcome:<12} {key}" for key, outcome in sorted(report.deletions.items())]
    return Group(render.pairs(rows), *deleted, "", views.cost_table(report.cost))


@render.text_rows.register
def _report_text(report: RunReport) -> Iterable[Sequence[object]]:
    yield run_record(report.run)
    yield (
        "USAGE",
        report.duration_seconds,
        report.planning_seconds,
        report.objects_per_second,
        report.bytes_per_second,
        report.run.s3_requests,
        report.run.copy_ms,
    )
    yield from views.cost_rows(report.cost)
    for key, outcome in sorted(report.deletions.items()):
        yield ("DELETE", outcome, key)
