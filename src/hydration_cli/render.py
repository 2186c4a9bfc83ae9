"""Output for people (tables, sizes, ages, sparklines, the progress line) and JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click
from pydantic import BaseModel

SPARKS = "▁▂▃▄▅▆▇█"


def emit_json(model: BaseModel) -> None:
    click.echo(json.dumps(model.model_dump(mode="json"), indent=2))


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"  # pragma: no cover


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """`2024-05-01 06:00:12Z (3h04m ago)`."""
    if moment is None:
        return "-"
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if now is None:
        return stamp
    return f"{stamp} ({human_duration((now - moment).total_seconds())} ago)"


def number(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.2f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def sparkline(values: Sequence[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return " " * len(values)
    low, high = min(present), max(present)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span == 0:
            out.append(SPARKS[0] if high == 0 else SPARKS[len(SPARKS) // 2])
        else:
            out.append(SPARKS[round((v - low) / span * (len(SPARKS) - 1))])
    return "".join(out)


def bar(fraction: float | None, width: int = 24) -> str:
    if fraction is None:
        return "[" + "?" * width + "]"
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class ProgressLine:
    """One line on stderr, redrawn in place on a terminal, one line per change otherwise."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = ""

    def show(self, text: str) -> None:
        if text == self._last:
            return
        if self._tty:
            pad = max(0, len(self._last) - len(text))
            click.echo("\r" + text + " " * pad, err=True, nl=False)
        else:
            click.echo(text, err=True)
        self._last = text

    def close(self) -> None:
        if self._tty and self._last:
            click.echo("", err=True)


# --------------------------------------------------------------------------- per-command text
# Imported late to keep this module's generic helpers free of the ops models at import time.


def progress_text(p: Any) -> str:
    """`[########----] 120/400 keys  1.2 GiB  35.0 MiB/s  ETA 2m10s  DRAINING`."""
    planning = "" if p.planning_complete else " (planning)"
    rate = f"{human_bytes(p.bytes_per_second)}/s" if p.bytes_per_second else "-/s"
    keys_rate = f"{p.keys_per_second:.1f} keys/s" if p.keys_per_second else "- keys/s"
    eta = f"ETA {human_duration(p.eta_seconds)}" if p.eta_seconds is not None else "ETA -"
    failed = f"  {p.objects_failed} failed" if p.objects_failed else ""
    return (
        f"{bar(p.fraction)} {p.keys_settled:,}/{p.keys_enqueued:,} keys{planning}  "
        f"{human_bytes(p.bytes_transferred)}/{human_bytes(p.bytes_enqueued)}  {rate}  {keys_rate}  {eta}  "
        f"{p.status.value}{failed}"
    )


def run_line(run: Any) -> str:
    return (
        f"{run.objects_transferred:,} transferred, {run.objects_skipped:,} skipped, "
        f"{run.objects_vanished:,} vanished, {run.objects_failed:,} failed "
        f"of {run.keys_enqueued:,} keys enqueued; {human_bytes(run.bytes_transferred)} copied"
    )


def runs_table(runs: Sequence[Any]) -> str:
    rows = [
        (
            r.run_id,
            r.status.value,
            r.kind.value,
            when(r.started_at),
            human_duration(((r.ended_at or r.started_at) - r.started_at).total_seconds()) if r.ended_at else "-",
            number(r.keys_enqueued),
            number(r.objects_transferred),
            number(r.objects_skipped),
            number(r.objects_vanished),
            number(r.objects_failed),
            human_bytes(r.bytes_transferred),
        )
        for r in runs
    ]
    return table(
        ("RUN", "STATUS", "KIND", "STARTED", "TOOK", "ENQUEUED", "COPIED", "SKIPPED", "VANISHED", "FAILED", "BYTES"),
        rows,
    )


def run_detail(detail: Any, now: datetime) -> str:
    run, p = detail.run, detail.progress
    lines = [
        f"run        {run.run_id}",
        f"status     {run.status.value}",
        f"kind       {run.kind.value}",
        f"started    {when(run.started_at, now)}",
        f"ended      {when(run.ended_at, now) if run.ended_at else '-'}",
        f"watermark  {when(run.watermark)}",
        f"since      {when(run.since) if run.since else '- (everything)'}",
        f"prefixes   {', '.join(run.prefixes) or '(whole bucket)'}",
        f"enqueued   {run.keys_enqueued:,} keys ({run.ledger_keys_enqueued:,} from the failure ledger), "
        f"{human_bytes(run.bytes_enqueued)}",
        f"settled    {run_line(run)}",
        f"progress   {progress_text(p)}",
    ]
    if run.failed_count is not None:
        lines.append(f"ledger     {run.failed_count} key(s) in the failure ledger at completion")
    if run.error:
        lines.append(f"error      {run.error}")
    if run.drift is not None:
        d = run.drift
        lines.append(f"drift      missing {d.missing}, different {d.different}, extra {d.extra}")
        for kind in ("missing", "different", "extra"):
            sample = getattr(d, f"first_{kind}")
            if sample:
                lines.append(f"  {kind}: {', '.join(sample)}")
    return "\n".join(lines)


def queue_text(depth: Any) -> str:
    return f"{depth.visible:,} visible, {depth.in_flight:,} in flight, {depth.delayed:,} delayed"


def last_sync_text(marker: Any, now: datetime) -> str:
    if not marker.exists:
        return f"no sync marker in s3://{marker.bucket}/{marker.marker_key}: the next run copies everything"
    if marker.synced_to is None:
        return f"s3://{marker.bucket}/{marker.marker_key} exists but does not parse"
    text = f"synced to {when(marker.synced_to, now)}"
    detail = marker.detail
    if detail.get("run_id"):
        text += f"  by run {detail['run_id']} ({detail.get('kind', '?')}, {detail.get('failed_keys', 0)} failed key(s))"
    return text


def status_text(s: Any, now: datetime) -> str:
    lines = [f"stack           {s.stack} (bucket {s.bucket})", f"last sync       {last_sync_text(s.last_sync, now)}"]
    if s.active_run:
        lines.append(
            f"active run      {s.active_run.run_id} started {human_duration(s.active_run.elapsed_seconds)} ago"
        )
        lines.append(f"  progress      {progress_text(s.active_run)}")
    else:
        lines.append("active run      none")
        if s.last_run:
            r = s.last_run
            lines.append(f"last run        {r.run_id} {r.status.value} {when(r.ended_at or r.started_at, now)}")
    lines.append(f"transfer queue  {queue_text(s.transfer_queue)}")
    lines.append(f"transfer DLQ    {queue_text(s.transfer_dlq)}")
    if s.invocation_dlq is not None:
        lines.append(f"invocation DLQ  {queue_text(s.invocation_dlq)}")
    lines.append(f"failure ledger  {s.failure_ledger:,} key(s)")
    lines.append("alarms")
    for alarm in s.alarms:
        lines.append(f"  {alarm.alarm:<24} {alarm.state}")
    return "\n".join(lines)
