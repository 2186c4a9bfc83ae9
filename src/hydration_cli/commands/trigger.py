from __future__ import annotations

from datetime import datetime, timedelta

import click

from hydration.models import RunStatus
from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.errors import RunNotStartedError
from hydration_cli.ops.runs import progress
from hydration_cli.ops.trigger import build_request, follow, start
from hydration_cli.options import DURATION, TIME, app_config, deployment_options, json_option, now


@click.command()
@click.option("--full", is_flag=True, help="Every key in scope, whatever the marker says.")
@click.option("--prefix", metavar="P", help="Only keys under P (inside the configured prefixes); the marker stays.")
@click.option("--since", type=TIME, metavar="T", help="Keys modified since T (1h, 2d or ISO-8601); the marker stays.")
@click.option("--reconcile", is_flag=True, help="Compare both buckets; copy what is missing or different.")
@click.option("--dry-run", is_flag=True, help="Count what would be enqueued; start nothing (exit 1 if any).")
@click.option("--wait", is_flag=True, help="Follow the run to its end; exit 1 if it ends with failures.")
@click.option("--timeout", type=DURATION, default="1h", show_default=True, help="Longest --wait.")
@click.option("--interval", type=DURATION, default="10s", show_default=True, help="Poll interval of --wait.")
@deployment_options
@json_option
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
    as_json: bool,
) -> None:
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
        if as_json:
            render.emit_json(result)
        else:
            click.echo(
                f"dry run ({plan.kind}): {plan.keys_enqueued:,} key(s), {render.human_bytes(plan.bytes_enqueued)} "
                f"would be enqueued{' since ' + render.when(plan.since) if plan.since else ''}"
            )
            for key in plan.sample_keys:
                click.echo(f"  {key}")
        if plan.keys_enqueued:
            raise click.exceptions.Exit(1)  # pip-tools style: a dry run with changes pending exits 1
        return
    if not plan.started:
        raise RunNotStartedError(plan.message or f"run {plan.run_id} is {plan.status}; nothing started")

    if not as_json:
        click.echo(
            f"run {plan.run_id} started ({plan.kind}{', since ' + render.when(plan.since) if plan.since else ''}): "
            f"{plan.keys_enqueued:,} key(s) enqueued ({plan.ledger_keys_enqueued:,} from the failure ledger), "
            f"{render.human_bytes(plan.bytes_enqueued)}{'; listing continues' if plan.continued else ''}"
        )
    if not wait:
        if as_json:
            render.emit_json(result)
        else:
            click.echo(f"follow it: s3-hydration runs show {plan.run_id}")
        return

    config = app_config()
    line = None if as_json else render.ProgressLine()
    try:
        run = follow(
            deployment,
            str(plan.run_id),
            timeout=timeout,
            interval=interval.total_seconds(),
            clock=config.clock,
            sleep=config.sleep,
            on_progress=(lambda p: line.show(render.progress_text(p))) if line else (lambda _: None),
        )
    finally:
        if line:
            line.close()
    result.run = run
    result.progress = progress(run, now())
    if as_json:
        render.emit_json(result)
    else:
        took = render.human_duration(result.progress.elapsed_seconds)
        click.echo(f"run {run.run_id} {run.status.value} in {took}: {render.run_line(run)}")
        if run.error:
            click.echo(f"error: {run.error}")
        if run.failed_count:
            click.echo(f"{run.failed_count} key(s) in the failure ledger: s3-hydration dlq peek")
    if run.status is not RunStatus.COMPLETED:
        raise click.exceptions.Exit(1)
