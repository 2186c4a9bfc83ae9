from __future__ import annotations

from datetime import timedelta

import click

from hydration_cli import live
from hydration_cli.commands import dlq_views  # noqa: F401 - registers how the results look
from hydration_cli.deployment import Deployment
from hydration_cli.ops import dlq as transfer_dlq
from hydration_cli.ops import invocations
from hydration_cli.ops.dlq import DlqPeek, RedriveReport
from hydration_cli.ops.invocations import InvocationPeek, InvocationRedrive
from hydration_cli.options import (
    DURATION,
    app_config,
    change_options,
    command,
    confirm,
    exit_code_option,
    now,
    paging_options,
    subgroup,
)

INVOCATION_HELP = "The invocation DLQ (failed planner/finalizer events) instead of the transfer DLQ."


@subgroup()
def dlq() -> None:
    """The transfer DLQ (one message per failed object) and, with --invocation, the invocation DLQ."""


@dlq.command()
@paging_options(10, token=False, maximum=1000)
@click.option("--invocation", is_flag=True, help=INVOCATION_HELP)
@exit_code_option("if the DLQ holds messages")
@command
def peek(deployment: Deployment, max_items: int, invocation: bool) -> DlqPeek | InvocationPeek:
    """Show DLQ messages without consuming them (SQS cannot page a queue: --max-items of them).

    Transfer DLQ: key, run, last error (from the failure ledger), receive count, age. Invocation DLQ: the
    function, the original event and the error Lambda recorded.
    """
    if invocation:
        return invocations.peek(deployment, max_items, now())
    return transfer_dlq.peek(deployment, max_items, now())


@dlq.command()
@click.option("--all", "all_", is_flag=True, help="Everything (transfer DLQ: with an SQS message move task).")
@click.option("--key", "keys", multiple=True, metavar="K", help="The message(s) of source key K (repeatable).")
@click.option("--prefix", metavar="P", help="The messages of keys under P (--prefix '' selects every valid one).")
@click.option("--invocation", is_flag=True, help=INVOCATION_HELP + " Each event is invoked again.")
@click.option("--message-id", "message_ids", multiple=True, metavar="ID", help="--invocation: this message.")
@click.option(
    "--function",
    type=click.Choice(invocations.FUNCTIONS),
    help="--invocation: the function for events whose function cannot be told ({} from a schedule).",
)
@change_options
@click.option("--wait/--no-wait", default=True, show_default=True, help="--all: follow the move task.")
@click.option("--timeout", type=DURATION, default="10m", show_default=True, help="--all: longest wait.")
@click.option("--interval", type=DURATION, default="5s", show_default=True, help="--all: poll interval.")
@command
def redrive(
    deployment: Deployment,
    all_: bool,
    keys: tuple[str, ...],
    prefix: str | None,
    invocation: bool,
    message_ids: tuple[str, ...],
    function: str | None,
    yes: bool,
    dry_run: bool,
    wait: bool,
    timeout: timedelta,
    interval: timedelta,
) -> RedriveReport | InvocationRedrive:
    """Send DLQ messages back, after showing which and asking (--yes: do not ask). Transfer DLQ: to the
    transfer queue, per key/prefix (sent first, then deleted, so nothing is lost if interrupted) or --all;
    messages that are not transfer messages are reported and left. Invocation DLQ (--invocation): each event
    is invoked again, asynchronously, on its function (per --message-id or --all), then deleted."""
    if invocation:
        if keys or prefix is not None:
            raise click.UsageError("--key and --prefix select transfer messages: use --message-id or --all")
        if all_ == bool(message_ids):
            raise click.UsageError("choose one of --all, --message-id ID")

        def replay(preview: bool) -> InvocationRedrive:
            ids = list(message_ids) or None
            return invocations.redrive(deployment, message_ids=ids, function=function, dry_run=preview, now=now())

        if dry_run:
            return replay(True)
        if not yes:
            planned = replay(True)
            if not planned.replayed:
                return planned
            confirm(f"Invoke {len(planned.replayed)} event(s) again?", yes=yes, preview=planned)
        return replay(False)
    if message_ids or function:
        raise click.UsageError("--message-id and --function go with --invocation")
    chosen = [name for name, on in (("--all", all_), ("--key", keys), ("--prefix", prefix is not None)) if on]
    if len(chosen) != 1:
        raise click.UsageError("choose exactly one of --all, --key K, --prefix P")
    if not all_:

        def send_back(preview: bool) -> RedriveReport:
            selected = list(keys) or None
            return transfer_dlq.redrive(deployment, keys=selected, prefix=prefix, dry_run=preview, now=now())

        if not dry_run and not yes:
            to_send = send_back(True)
            if to_send.selected:
                confirm(
                    f"Send {len(to_send.selected)} message(s) back to the transfer queue?", yes=yes, preview=to_send
                )
        report = send_back(dry_run)
        if report.missing_keys:
            click.echo(f"Error: not in the transfer DLQ: {', '.join(report.missing_keys)}", err=True)
        return report

    if not dry_run and not yes:
        planned_all = transfer_dlq.redrive_all(deployment, dry_run=True)
        if planned_all.move_task is not None:
            confirm("Move every message of the transfer DLQ back to the transfer queue?", yes=yes, preview=planned_all)
    report = transfer_dlq.redrive_all(deployment, dry_run=dry_run)
    task = report.move_task
    if task is None or dry_run or not wait:
        return report
    config = app_config()
    with live.Progress(enabled=config.output == "table") as bar:
        report.move_task = transfer_dlq.wait_move_task(
            deployment,
            task,
            timeout=timeout,
            interval=interval.total_seconds(),
            clock=config.clock,
            sleep=config.sleep,
            on_progress=lambda t: bar.update(
                f"move task {t.status}: {t.moved:,}/{t.to_move or '?'} moved", done=t.moved, total=t.to_move
            ),
        )
    return report
