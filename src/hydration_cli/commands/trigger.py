from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.errors import RunNotStartedError
from hydration_cli.ops.runs import progress
from hydration_cli.ops.trigger import TriggerResult, build_request, follow, start
from hydration_cli.options import DURATION, TIME, app_config, command, now


@click.command()
@click.option("--full", is_flag=True, help="Every key in scope, whatever the marker says.")
@click.option("--prefix", metavar="P", help="Only keys under P (inside the configured prefixes); the marker stays.")
@click.option("--since", type=TIME, metavar="T", help="Keys modified since T (1h, 2d or ISO-8601); the marker stays.")
@click.option("--reconcile", is_flag=True, help="Compare both buckets; copy what is missing or different.")
@click.option("--dry-run", is_flag=True, help="Count what would be enqueued; start nothing (exit 3 if any).")
@click.option("--wait", is_flag=True, help="Follow the run to its end; exit 1 if it ends with failures.")
@click.option("--timeout", type=DURATION, default="1h", show_default=True, help="Longest --wait.")
@click.option("--interval", type=DURATION, default="10s", show_default=True, help="Poll interval of --wait.")
@command
def trigger(
    deployment: Deployment,
    full: bool,
    prefix: str | None,
    since: datetime | None,
    reconcile: bool,
    dry_run: bool,
    wait: bool,
    timeout: timedelta,
    interval: timedelta,
) -> TriggerResult:
    """Start a run now through the planner (incremental unless told otherwise)."""
    modes = [
        name
        for name, on in (("--full", full), ("--prefix", prefix), ("--since", since), ("--reconcile", reconcile))
        if on
    ]
    if len(modes) > 1:
        raise click.UsageError(f"choose at most one of --full, --prefix, --since, --reconcile (got {' '.join(modes)})")
    request = build_request(full=full, prefix=prefix, since=since, reconcile=reconcile, dry_run=dry_run)
    result = start(deployment, request)
    plan = result.plan
    if plan.dry_run:
        return result
    if not plan.started:
        raise RunNotStartedError(plan.message or f"run {plan.run_id} is {plan.status}; nothing started")
    if not wait:
        return result

    config = app_config()
    shown = config.output == "table"
    if shown:
        click.echo(_started(result), err=True)
    with render.Progress(enabled=shown) as bar:
        run = follow(
            deployment,
            str(plan.run_id),
            timeout=timeout,
            interval=interval.total_seconds(),
            clock=config.clock,
            sleep=config.sleep,
            on_progress=lambda p: bar.update(
                render.progress_text(p, with_bar=False),
                done=p.keys_settled,
                total=p.keys_enqueued or None,
                plain=render.progress_text(p),
            ),
        )
    result.run = run
    result.progress = progress(run, now())
    return result


def _started(result: TriggerResult) -> str:
    plan = result.plan
    since = f", since {render.when(plan.since)}" if plan.since else ""
    return (
        f"run {plan.run_id} started ({plan.kind}{since}): {plan.keys_enqueued:,} key(s) enqueued "
        f"({plan.ledger_keys_enqueued:,} from the failure ledger), {render.human_bytes(plan.bytes_enqueued)}"
        f"{'; listing continues' if plan.continued else ''}"
    )


@render.table_view.register
def _table(result: TriggerResult) -> str:
    plan, run = result.plan, result.run
    if plan.dry_run:
        since = f" since {render.when(plan.since)}" if plan.since else ""
        lines = [
            f"dry run ({plan.kind}): {plan.keys_enqueued:,} key(s), {render.human_bytes(plan.bytes_enqueued)} "
            f"would be enqueued{since}",
            *(f"  {key}" for key in plan.sample_keys),
        ]
    elif run is None:
        lines = [_started(result), f"follow it: s3-hydration runs show {plan.run_id}"]
    else:
        took = render.human_duration(result.progress.elapsed_seconds if result.progress else None)
        lines = [f"run {run.run_id} {run.status} in {took}: {render.run_line(run)}"]
        if run.error:
            lines.append(f"error: {run.error}")
        if run.failed_count:
            lines.append(f"{run.failed_count} key(s) in the failure ledger: s3-hydration failures list")
    return "\n".join(lines)


@render.text_rows.register
def _text(result: TriggerResult) -> Iterable[Sequence[object]]:
    plan, run = result.plan, result.run
    yield ("PLAN", plan.run_id, plan.kind, plan.dry_run, plan.started, plan.keys_enqueued, plan.bytes_enqueued)
    for key in plan.sample_keys if plan.dry_run else []:
        yield ("KEY", key)
    if run is not None:
        yield (
            "RUN",
            run.run_id,
            run.status,
            run.objects_transferred,
            run.objects_skipped,
            run.objects_vanished,
            run.objects_failed,
            run.bytes_transferred,
        )
