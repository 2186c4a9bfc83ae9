from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import click

from hydration_cli import humanize, render, views
from hydration_cli.commands.runs import watch_live
from hydration_cli.deployment import Deployment
from hydration_cli.ops.trigger import TriggerResult, build_request, confirm_started, start
from hydration_cli.ops.trigger import dry_run as plan_dry_run
from hydration_cli.ops.watch import Polling
from hydration_cli.options import TIME, app_config, change_options, command, confirm, now, watch_options


@click.command()
@click.option("--full", is_flag=True, help="Every key in scope, whatever the marker says.")
@click.option("--prefix", metavar="P", help="Only keys under P (inside the configured prefixes); the marker stays.")
@click.option("--since", type=TIME, metavar="T", help="Keys modified since T (1h, 2d or ISO-8601); the marker stays.")
@click.option(
    "--key", "keys", multiple=True, metavar="K", help="Only key K (repeatable, up to 1000); the marker stays."
)
@click.option("--reconcile", is_flag=True, help="Compare both buckets; copy what is missing or different.")
@click.option("--force", is_flag=True, help="Copy even what the consumer already holds (not with --reconcile).")
@change_options
@click.option("--wait", is_flag=True, help="Follow the run to its end (runs watch); exit 1 unless it COMPLETED.")
@watch_options
@command
def trigger(
    deployment: Deployment,
    full: bool,
    prefix: str | None,
    since: datetime | None,
    keys: tuple[str, ...],
    reconcile: bool,
    force: bool,
    yes: bool,
    dry_run: bool,
    wait: bool,
    timeout: timedelta,
    interval: timedelta,
    start_timeout: timedelta,
) -> TriggerResult:
    """Start a run now (incremental unless told otherwise), once confirmed (--yes: do not ask): the planner is
    invoked asynchronously, as the schedule does, and the new run's id is printed once the run exists (follow
    it: runs watch RUN); exit 1 if it did not start (another run was active). --dry-run asks the planner what
    the run would enqueue (it lists, enqueues nothing)."""
    modes = [
        name
        for name, on in (
            ("--full", full),
            ("--prefix", prefix),
            ("--since", since),
            ("--key", keys),
            ("--reconcile", reconcile),
        )
        if on
    ]
    if len(modes) > 1:
        raise click.UsageError(
            f"choose at most one of --full, --prefix, --since, --key, --reconcile (got {' '.join(modes)})"
        )
    request = build_request(
        full=full, prefix=prefix, since=since, keys=list(keys), reconcile=reconcile, force=force, dry_run=dry_run
    )
    if dry_run:
        config = app_config()
        polling = Polling(timeout, interval.total_seconds(), start_timeout, config.clock, config.sleep)
        return plan_dry_run(deployment, request, polling)
    confirm(f"Start {'a forced ' if force else 'a '}{request.kind} run now?", yes=yes)
    config = app_config()
    result = start(deployment, request, now())
    polling = Polling(timeout, interval.total_seconds(), start_timeout, config.clock, config.sleep)
    confirm_started(deployment, result, polling)  # exit 1 if the planner refused it (a run was active)
    if not wait or result.run_id is None:
        return result
    if config.output == "table":
        click.echo(_started(result), err=True)
    watched = watch_live(deployment, result.run_id, timeout=timeout, interval=interval, start_timeout=start_timeout)
    result.run, result.progress = watched.run, watched.progress
    return result


def _started(result: TriggerResult) -> str:
    forced = ", forced" if result.payload.get("force") else ""
    if result.resumed:
        return f"run {result.run_id} had stopped planning: the planner continues it ({result.kind}{forced} not started)"
    return f"run {result.run_id} started ({result.kind}{forced})"


@render.table_view.register
def _table(result: TriggerResult) -> str:
    plan, run = result.plan, result.run
    if plan is not None:
        since = f" since {humanize.when(plan.since)}" if plan.since else ""
        lines = [
            f"dry run ({plan.kind}): {plan.keys_enqueued:,} key(s), {humanize.human_bytes(plan.bytes_enqueued)} "
            f"would be enqueued{since}",
            *(f"  {key}" for key in plan.sample_keys),
        ]
    elif run is None:
        lines = [_started(result), f"follow it: s3-hydration runs watch {result.run_id}"]
    else:
        lines = views.run_end(run, result.progress.elapsed_seconds if result.progress else None)
    return "\n".join(lines)


@render.text_rows.register
def _text(result: TriggerResult) -> Iterable[Sequence[object]]:
    plan, run = result.plan, result.run
    if plan is not None:
        yield ("PLAN", plan.run_id, plan.kind, plan.dry_run, plan.started, plan.keys_enqueued, plan.bytes_enqueued)
        for key in plan.sample_keys:
            yield ("KEY", key)
        return
    yield ("STARTED", result.run_id, result.kind, bool(result.payload.get("force")), result.resumed)
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
            run.objects_archived,  # last: the fields before it keep their places
        )
