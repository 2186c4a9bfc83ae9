from __future__ import annotations

from datetime import timedelta

import click

from hydration_cli import render
from hydration_cli.deployment import Deployment
from hydration_cli.ops.dlq import peek as peek_dlq
from hydration_cli.ops.dlq import redrive as redrive_selected
from hydration_cli.ops.dlq import redrive_all, wait_move_task
from hydration_cli.options import DURATION, app_config, deployment_options, json_option, now


@click.group()
def dlq() -> None:
    """The transfer DLQ: one message per object whose copy failed every attempt."""


@dlq.command()
@click.option("--max", "max_messages", type=click.IntRange(1, 1000), default=10, show_default=True)
@deployment_options
@json_option
def peek(deployment: Deployment, max_messages: int, as_json: bool) -> None:
    """Show DLQ messages (key, last error, receive count, age) without consuming them."""
    moment = now()
    result = peek_dlq(deployment, max_messages, moment)
    if as_json:
        render.emit_json(result)
        return
    click.echo(
        f"transfer DLQ: {result.visible:,} visible, {result.in_flight:,} in flight; showing {len(result.messages)}"
    )
    rows = [
        (
            m.key if m.valid else f"(not a transfer message: {m.problem})",
            m.run_id or "-",
            m.error_code or "-",
            (m.error_message or "-")[:60],
            m.receive_count,
            render.human_duration(m.age_seconds),
        )
        for m in result.messages
    ]
    click.echo(render.table(("KEY", "RUN", "ERROR", "MESSAGE", "RECEIVES", "AGE"), rows))


@dlq.command()
@click.option("--all", "all_", is_flag=True, help="Everything, with an SQS message move task (server-side).")
@click.option("--key", "keys", multiple=True, metavar="K", help="The message(s) of source key K (repeatable).")
@click.option("--prefix", metavar="P", help="The messages of keys under P (--prefix '' selects every valid one).")
@click.option("--dry-run", is_flag=True, help="Show what would go back; move nothing (exit 1 if any).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="--all: follow the move task.")
@click.option("--timeout", type=DURATION, default="10m", show_default=True, help="--all: longest wait.")
@click.option("--interval", type=DURATION, default="5s", show_default=True, help="--all: poll interval.")
@deployment_options
@json_option
def redrive(
    deployment: Deployment,
    all_: bool,
    keys: tuple[str, ...],
    prefix: str | None,
    dry_run: bool,
    wait: bool,
    timeout: timedelta,
    interval: timedelta,
    as_json: bool,
) -> None:
    """Send DLQ messages back to the transfer queue: per key/prefix (sent first, then deleted, so nothing
    is lost if interrupted), or --all. Messages that are not transfer messages are reported and left."""
    chosen = [name for name, on in (("--all", all_), ("--key", keys), ("--prefix", prefix is not None)) if on]
    if len(chosen) != 1:
        raise click.UsageError("choose exactly one of --all, --key K, --prefix P")

    if all_:
        report = redrive_all(deployment, dry_run=dry_run)
        task = report.move_task
        assert task is not None
        if not dry_run and wait:
            config = app_config()
            line = None if as_json else render.ProgressLine()
            try:
                task = wait_move_task(
                    deployment,
                    task,
                    timeout=timeout,
                    interval=interval.total_seconds(),
                    clock=config.clock,
                    sleep=config.sleep,
                    on_progress=(
                        (lambda t: line.show(f"move task {t.status}: {t.moved:,}/{t.to_move or '?'} moved"))
                        if line
                        else (lambda _: None)
                    ),
                )
            finally:
                if line:
                    line.close()
            report.move_task = task
        if as_json:
            render.emit_json(report)
        elif dry_run:
            click.echo(f"dry run: {task.to_move:,} message(s) would move to the transfer queue")
        else:
            click.echo(f"move task {task.task_handle}: {task.status}, {task.moved:,}/{task.to_move or '?'} moved")
            if task.failure_reason:
                click.echo(f"failure: {task.failure_reason}")
        if dry_run or task.status == "FAILED":
            raise click.exceptions.Exit(1)
        return

    report = redrive_selected(deployment, keys=list(keys) or None, prefix=prefix, dry_run=dry_run, now=now())
    if as_json:
        render.emit_json(report)
    else:
        verb = "would send back" if dry_run else "sent back"
        click.echo(f"{verb} {len(report.selected)} message(s) to the transfer queue:")
        for item in report.selected:
            click.echo(f"  {item.key}  (run {item.run_id})")
        if report.left:
            click.echo(f"{report.left} other message(s) left in the DLQ")
        for item in report.invalid:
            click.echo(f"left alone, not a transfer message: {item.message_id}: {item.problem}")
    if report.missing_keys:
        click.echo(f"Error: not in the transfer DLQ: {', '.join(report.missing_keys)}", err=True)
    if dry_run or report.missing_keys:
        raise click.exceptions.Exit(1)
