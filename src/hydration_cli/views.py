"""Views that several commands show: a run, its progress, its cost, the queue and the sync marker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.text import Text

from hydration_cli.humanize import bar, decimal, human_bytes, human_duration, number, when
from hydration_cli.render import grid, pairs, styled

if TYPE_CHECKING:
    from hydration.models import QueueDepth, RunRecord
    from hydration_cli.ops.costs import Cost
    from hydration_cli.ops.runs import Progress as RunProgress
    from hydration_cli.ops.sync import LastSync


def planning_text(p: RunProgress) -> str:
    """`shards 3/8 done, 2 in flight, 5,100 keys/s listed`."""
    rate = f", {number(p.keys_listed_per_second)} keys/s listed" if p.keys_listed_per_second else ""
    in_flight = f", {p.shards_in_flight} in flight" if not p.planning_complete else ""
    return f"shards {p.shards_done}/{p.shards_total} done{in_flight}{rate}"


def progress_text(p: RunProgress, *, with_bar: bool = True) -> str:
    """`[####----] 120/400 keys, 1,200 listed (planning: shards 3/8 done, 2 in flight, 5,100 keys/s listed)
    1.2 GiB/3.0 GiB  35.0 MiB/s  2.1 keys/s  ETA 2m10s  DRAINING`."""
    sharded = f": {planning_text(p)}" if p.shards_total else ""
    planning = f", {p.keys_listed:,} listed" + ("" if p.planning_complete else f" (planning{sharded})")
    rate = f"{human_bytes(p.bytes_per_second)}/s" if p.bytes_per_second else "-/s"
    keys_rate = f"{p.keys_per_second:.1f} keys/s" if p.keys_per_second else "- keys/s"
    eta = f"ETA {human_duration(p.eta_seconds)}" if p.eta_seconds is not None else "ETA -"
    failed = f"  {p.objects_failed} failed" if p.objects_failed else ""
    return (
        f"{bar(p.fraction) + ' ' if with_bar else ''}{p.keys_settled:,}/{p.keys_enqueued:,} keys{planning}  "
        f"{human_bytes(p.bytes_transferred)}/{human_bytes(p.bytes_enqueued)}  {rate}  {keys_rate}  {eta}  "
        f"{p.status}{failed}"
    )


def watch_view(p: RunProgress) -> RenderableType:
    """The live view of a run (`runs watch` on a terminal)."""
    rate = f"{human_bytes(p.bytes_per_second)}/s" if p.bytes_per_second else "-/s"
    keys_rate = f"{p.keys_per_second:.1f} keys/s" if p.keys_per_second else "- keys/s"
    eta = human_duration(p.eta_seconds) if p.eta_seconds is not None else "-"
    planning = "done" if p.planning_complete else "listing"
    rows: list[tuple[str, object]] = [
        ("run", Text.assemble(f"{p.run_id}  {p.kind}  ", styled(p.status), f"  {human_duration(p.elapsed_seconds)}")),
        ("keys", f"{p.keys_settled:,} settled of {p.keys_enqueued:,} enqueued, {p.keys_listed:,} listed ({planning})"),
        *([("planning", planning_text(p))] if p.shards_total else []),
        (
            "outcomes",
            f"{p.objects_transferred:,} transferred, {p.objects_skipped:,} skipped, {p.objects_vanished:,} vanished, "
            f"{p.objects_archived:,} archived, {p.objects_failed:,} failed",
        ),
        ("bytes", f"{human_bytes(p.bytes_transferred)} of {human_bytes(p.bytes_enqueued)}"),
        ("rate", f"{rate}  {keys_rate}"),
        ("ETA", eta),
    ]
    total = p.keys_enqueued or None
    bar = ProgressBar(total=total, completed=p.keys_settled if total else 0, width=48)
    return pairs([rows[0], ("settled", bar), *rows[1:]])


def run_end(run: RunRecord, elapsed: float | None) -> list[str]:
    """How a run ended, in a few lines (`trigger --wait`, `runs watch`)."""
    lines = [f"run {run.run_id} {run.status} in {human_duration(elapsed)}: {run_line(run)}"]
    if run.error:
        lines.append(f"error: {run.error}")
    if run.failed_count:
        lines.append(f"{run.failed_count} key(s) in the failure ledger: s3-hydration failures list")
    if run.objects_archived:
        lines.append(
            f"{run.objects_archived} key(s) archived (a restore is needed): s3-hydration failures list --archived"
        )
    return lines


def run_line(run: RunRecord) -> str:
    archived = f"{run.objects_archived:,} archived, " if run.objects_archived else ""
    return (
        f"{run.objects_transferred:,} transferred, {run.objects_skipped:,} skipped, "
        f"{run.objects_vanished:,} vanished, {archived}{run.objects_failed:,} failed "
        f"of {run.keys_enqueued:,} keys enqueued; {human_bytes(run.bytes_transferred)} copied"
    )


def queue_text(depth: QueueDepth) -> str:
    return f"{depth.visible:,} visible, {depth.in_flight:,} in flight, {depth.delayed:,} delayed"


def last_sync_text(marker: LastSync, now: datetime) -> str:
    if not marker.exists:
        return f"no sync marker in s3://{marker.bucket}/{marker.marker_key}: the next run copies everything"
    if marker.synced_to is None:
        return f"s3://{marker.bucket}/{marker.marker_key} exists but does not parse"
    text = f"synced to {when(marker.synced_to, now)}"
    detail = marker.detail
    if detail.get("run_id"):
        text += f"  by run {detail['run_id']} ({detail.get('kind', '?')}, {detail.get('failed_keys', 0)} failed key(s))"
    return text


def cost_table(cost: Cost) -> RenderableType:
    """The cost lines, the total, per million objects against AWS's own ways of copying them, and the prices
    they assume (`runs report`, `estimate`)."""
    prices = {p.name: p for p in cost.prices}
    rows = [
        (
            line.service,
            line.item,
            f"{number(line.quantity)} {line.unit}",
            f"{decimal(prices[line.price].usd)}/{prices[line.price].per:,}",
            f"{line.usd:.4f}",
            line.basis,
        )
        for line in cost.lines
    ]
    rows.append(("total", "", "", "", f"{cost.total_usd:.4f}", "an estimate: not a bill"))
    assumed = [f"  {p.name} = {decimal(p.usd)} USD per {p.per:,} {p.unit}: {p.what}" for p in cost.prices]
    return Group(
        grid(("SERVICE", "ITEM", "QUANTITY", "USD PER", "USD", "COUNTED AS"), rows),
        *per_million_lines(cost),
        "prices (us-east-1 list prices; --price NAME=USD to change):",
        *assumed,
    )


def per_million_lines(cost: Cost) -> list[str]:
    """`per million objects: 6.71 USD (1.07x S3 Batch Replication's 6.31, 0.29x DataSync's 23.50)`."""
    if cost.per_million_objects_usd is None:
        return []
    mine = cost.per_million_objects_usd
    against = [
        f"{mine / peer.per_million_objects_usd:.2f}x {peer.name}'s {peer.per_million_objects_usd:.2f}"
        for peer in cost.peers
        if peer.per_million_objects_usd
    ]
    return [
        f"per million objects: {mine:.2f} USD ({', '.join(against)}); DynamoDB "
        f"{cost.dynamodb_write_units / cost.objects:.2f} write units per object"
    ]


def cost_rows(cost: Cost) -> Iterable[Sequence[object]]:
    for line in cost.lines:
        yield ("COST", line.service, line.item, line.quantity, line.unit, line.price, line.usd)
    yield ("TOTAL", cost.total_usd)
    yield ("PER_MILLION", "pipeline", cost.per_million_objects_usd, cost.dynamodb_write_units)
    for peer in cost.peers:
        yield ("PER_MILLION", peer.name, peer.per_million_objects_usd, peer.total_usd)
    for p in cost.prices:
        yield ("PRICE", p.name, p.usd, p.per, p.unit)
    for a in cost.assumptions:
        yield ("ASSUME", a.name, a.value)
