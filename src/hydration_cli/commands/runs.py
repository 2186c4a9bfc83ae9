from __future__ import annotations

from datetime import timedelta

import click

from hydration_cli import live, views
from hydration_cli.commands import runs_views  # noqa: F401 - registers how the results look
from hydration_cli.deployment import Deployment
from hydration_cli.ops.costs import Rates
from hydration_cli.ops.report import RunReport, report_run
from hydration_cli.ops.runs import (
    CancelledRun,
    CancelPreview,
    RunDetail,
    RunList,
    cancel_run,
    list_runs,
    show_run,
)
from hydration_cli.ops.watch import Polling, RunWatch, find, follow
from hydration_cli.options import (
    app_config,
    change_options,
    command,
    confirm,
    cost_options,
    now,
    paging_options,
    subgroup,
    watch_options,
)


@subgroup()
def runs() -> None:
    """Run records (the runs table)."""


@runs.command("list")
@paging_options(20, maximum=1000)
@command
def list_(deployment: Deployment, max_items: int, starting_token: dict[str, str] | None) -> RunList:
    """The most recent runs, newest first, a page at a time (--starting-token: the next page)."""
    return list_runs(deployment, max_items, starting_token)


@runs.command("show")
@click.argument("run_id")
@command
def show(deployment: Deployment, run_id: str) -> RunDetail:
    """One run: counts, progress, watermark, error, reconcile drift."""
    return show_run(deployment, run_id, now())


@runs.command("watch")
@click.argument("run_id", required=False)
@watch_options
@command
def watch(
    deployment: Deployment, run_id: str | None, timeout: timedelta, interval: timedelta, start_timeout: timedelta
) -> RunWatch:
    """Follow a run to its end (the active run by default; a run not there yet is waited for).

    Shows keys listed, enqueued and settled, bytes, rate, ETA and failures as they change, and nudges the
    finalizer at each poll so the run closes as soon as it can. Exit 0 if the run COMPLETED, 1 for any other
    end (or a timeout: the run goes on).
    """
    return watch_live(deployment, run_id, timeout=timeout, interval=interval, start_timeout=start_timeout)


def watch_live(
    deployment: Deployment, run_id: str | None, *, timeout: timedelta, interval: timedelta, start_timeout: timedelta
) -> RunWatch:
    """`runs watch`, also behind `trigger --wait`: the live view on stderr (--output table only)."""
    config = app_config()
    polling = Polling(timeout, interval.total_seconds(), start_timeout, config.clock, config.sleep)
    with live.LiveView(enabled=config.output == "table") as view:
        waiting = f"waiting for {'run ' + run_id if run_id else 'a run'} to start ..."
        found = find(deployment, run_id, polling, on_waiting=lambda: view.update(waiting, waiting))
        return follow(
            deployment, found, polling, on_progress=lambda p: view.update(views.watch_view(p), views.progress_text(p))
        )


@runs.command("cancel")
@click.argument("run_id")
@click.option("--reason", default="cancelled by an operator (s3-hydration runs cancel)", show_default=True)
@change_options
@command
def cancel(deployment: Deployment, run_id: str, reason: str, yes: bool, dry_run: bool) -> CancelledRun | CancelPreview:
    """Stop a PLANNING or DRAINING run: it ends CANCELLED and the next run can start.

    The planner stops at its next heartbeat (20 s). Keys already queued still drain (they are copied and
    settled in the run's books), but the run never closes and the sync marker stays where it is. A
    `Run Cancelled` event is published on the default event bus. --dry-run shows the run, cancels nothing.
    """
    if dry_run or not yes:
        current = show_run(deployment, run_id, now())  # RunNotFoundError for an unknown id
        if dry_run:
            return CancelPreview.model_validate(current, from_attributes=True)
        confirm(
            f"Cancel run {run_id}? Queued keys still drain; the marker stays",
            yes=yes,
            preview=f"run {run_id}: {views.progress_text(current.progress)}",
        )
    return cancel_run(deployment, run_id, reason)


@runs.command("report")
@click.argument("run_id")
@cost_options
@command
def report(
    deployment: Deployment,
    run_id: str,
    prices: tuple[tuple[str, float], ...],
    assumptions: tuple[tuple[str, float], ...],
) -> RunReport:
    """What a run did (objects, bytes, duration, throughput) and an estimate of what it cost on AWS.

    The cost is an estimate from the run's books (S3 requests, copy time) and the deployment's parameters,
    at the public prices shown (us-east-1, on-demand; override with --price NAME=USD).
    """
    return report_run(deployment, run_id, now(), Rates.of(dict(prices), dict(assumptions)))
