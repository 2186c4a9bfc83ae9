from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

import click
from rich.console import Group, RenderableType

from hydration_cli import humanize, render, views
from hydration_cli.deployment import Deployment
from hydration_cli.ops.costs import Rates
from hydration_cli.ops.estimate import Estimate
from hydration_cli.ops.estimate import estimate as compute
from hydration_cli.ops.watch import Polling
from hydration_cli.options import SIZE, app_config, command, cost_options, watch_options


@click.command()
@click.option("--objects", type=click.IntRange(min=1), metavar="N", help="Objects to copy (with --bytes).")
@click.option(
    "--bytes", "nbytes", type=SIZE, metavar="B", help="Their total size: 5000000000, 750GiB, 2TB (with --objects)."
)
@cost_options
@watch_options
@command
def estimate(
    deployment: Deployment,
    objects: int | None,
    nbytes: int | None,
    prices: tuple[tuple[str, float], ...],
    assumptions: tuple[tuple[str, float], ...],
    timeout: timedelta,
    interval: timedelta,
    start_timeout: timedelta,
) -> Estimate:
    """How long a full hydration takes on AWS and what it costs, before you start it.

    From the planner's dry run of a full run (it lists the producer bucket: keys and bytes), or from
    --objects and --bytes. The time follows the deployed concurrency (MaximumConcurrency, BatchSize,
    CopyConcurrency, KeysPerMessage) and S3's, Lambda's and SQS's limits, all shown with what is assumed;
    the cost is an estimate at public prices (--price NAME=USD to change them).
    """
    if (objects is None) != (nbytes is None):
        raise click.UsageError("give both --objects and --bytes, or neither (then a dry run lists the bucket)")
    config = app_config()
    polling = Polling(timeout, interval.total_seconds(), start_timeout, config.clock, config.sleep)
    rates = Rates.of(dict(prices), dict(assumptions))
    return compute(deployment, rates, objects=objects, nbytes=nbytes, polling=polling)


@render.table_view.register
def _table(e: Estimate) -> RenderableType:
    s, t, shape = e.settings, e.time, e.shape
    source = (
        f"the planner's dry run of a full run ({e.keys_listed:,} keys listed)" if e.source == "dry-run" else "given"
    )
    copies = (
        f"multipart: {shape.parts:,} parts of {humanize.human_bytes(s.part_size_bytes)}"
        if shape.multipart
        else "one request each"
    )
    rows: list[tuple[str, object]] = [
        (
            "objects",
            f"{e.objects:,}, {humanize.human_bytes(e.bytes)} (average {humanize.human_bytes(shape.size)}; {source})",
        ),
        (
            "deployment",
            f"{s.maximum_concurrency} copiers x {s.copy_concurrency} copies = {t.copies_in_flight:,} in flight; "
            f"batches of {s.batch_size} messages x {s.keys_per_message} keys; {s.copy_mode} copies, {copies}",
        ),
        ("planning", humanize.human_duration(t.planning_seconds)),
        (
            "copying",
            f"{humanize.human_duration(t.copying_seconds)} ({humanize.number(t.objects_per_second)} objects/s, "
            f"{humanize.human_bytes(t.bytes_per_second)}/s), bound by {t.bound}",
        ),
        ("time", f"about {humanize.human_duration(t.total_seconds)}"),
        ("cost", f"about {e.cost.total_usd:.2f} USD (estimated, below)"),
    ]
    assumed = [f"  {a.name} = {humanize.decimal(a.value)}: {a.what}" for a in e.cost.assumptions]
    return Group(
        render.pairs(rows),
        "limits:",
        *(f"  {limit}" for limit in e.limits),
        *(["notes:", *(f"  {note}" for note in e.notes)] if e.notes else []),
        "assumed (--assume NAME=VALUE to change):",
        *assumed,
        "",
        views.cost_table(e.cost),
    )


@render.text_rows.register
def _text(e: Estimate) -> Iterable[Sequence[object]]:
    t = e.time
    yield ("ESTIMATE", e.source, e.objects, e.bytes, e.keys_listed)
    yield ("TIME", t.planning_seconds, t.copying_seconds, t.total_seconds, t.copies_in_flight, t.bound)
    for limit in e.limits:
        yield ("LIMIT", limit)
    for note in e.notes:
        yield ("NOTE", note)
    yield from views.cost_rows(e.cost)
