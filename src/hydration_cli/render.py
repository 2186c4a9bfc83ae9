"""Output: every command's Result goes through `emit`, in one of three formats (--output).

- `table` (the default, for people): rich tables and key/value blocks; colour only on a terminal, plain
  ASCII tables in a pipe (no width limit there, so nothing wraps).
- `text` (for cut/awk): one record per line, tab-separated, the record type first (like aws-cli's text
  output); raw values: ISO-8601 UTC times, bytes and seconds as plain numbers, `None` for no value. Tabs,
  newlines and backslashes inside a value are written as \\t, \\n and \\\\, so a line is always one record.
- `json`: the Result as one JSON document (`emit_line`: one compact JSON object per line, for streams).

Each command module registers how its Result looks as a table (`table_view.register`) and as text records
(`text_rows.register`); a Result without them falls back to its fields.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from functools import singledispatch
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import click
from pydantic import BaseModel
from rich import box
from rich.console import Console, ConsoleRenderable, RenderableType
from rich.live import Live
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from hydration.models import QueueDepth, RunRecord
    from hydration_cli.ops.runs import Progress as RunProgress
    from hydration_cli.ops.sync import LastSync

FORMATS = ("table", "text", "json")
SPARKS = "▁▂▃▄▅▆▇█"
PIPE_WIDTH = 10_000  # no wrapping when the output is not a terminal
# A header underlined with dashes, columns apart by spaces, no frame: the same on a terminal and in a pipe.
PLAIN = box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)
# Run statuses (and check levels) worth a colour on a terminal; anything else is shown as it is.
STYLES = {
    "COMPLETED": "green",
    "COMPLETED_WITH_FAILURES": "yellow",
    "INCOMPLETE": "red",
    "CANCELLED": "yellow",
    "FAILED": "red",
    "PLANNING": "cyan",
    "DRAINING": "cyan",
    "ALARM": "red",
    "OK": "green",
    "ok": "green",
    "warn": "yellow",
    "fail": "red",
}


# --------------------------------------------------------------------------- emit


@singledispatch
def table_view(result: BaseModel) -> RenderableType:
    """How a Result looks for people; the default lists its fields."""
    return pairs(
        (name, "-" if value is None else _plain(value)) for name, value in result.model_dump(mode="json").items()
    )


@singledispatch
def text_rows(result: BaseModel) -> Iterable[Sequence[object]]:
    """A Result's text records; the default is one FIELD record per field."""
    for name, value in result.model_dump(mode="json").items():
        yield ("FIELD", name, _plain(value))


def emit(result: BaseModel, output: str) -> None:
    """Print a Result on stdout in the chosen format."""
    if output == "json":
        click.echo(result.model_dump_json(indent=2))
    elif output == "text":
        for row in text_rows(result):
            click.echo(text_line(row))
    elif text := as_str(table_view(result)):
        click.echo(text)


def emit_line(result: BaseModel, output: str) -> None:
    """Print one item of a stream (`logs --follow`): compact JSON, text records, or its table line."""
    if output == "json":
        click.echo(result.model_dump_json())
    else:
        emit(result, output)


def text_line(row: Sequence[object]) -> str:
    return "\t".join(text_cell(value) for value in row)


def text_cell(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        return iso(value)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _plain(value: Any) -> object:
    """A field value of model_dump(mode="json") as one cell: scalars as they are, the rest as JSON."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def console(*, terminal: bool) -> Console:
    """A console that renders into a string (click prints it): colour and the terminal's width on a
    terminal; no colour and no width limit otherwise. Markup, emoji codes and highlighting are off: keys
    and messages are printed exactly as they are."""
    return Console(
        file=io.StringIO(),
        force_terminal=terminal,
        no_color=None if terminal else True,  # on a terminal rich honours NO_COLOR
        color_system="auto" if terminal else None,
        width=shutil.get_terminal_size().columns if terminal else PIPE_WIDTH,
        markup=False,
        emoji=False,
        highlight=False,
    )


def as_str(renderable: RenderableType) -> str:
    if isinstance(renderable, str):
        return renderable
    out = console(terminal=stdout_is_terminal())
    out.print(renderable)
    text = cast("io.StringIO", out.file).getvalue()
    return "\n".join(line.rstrip() for line in text.rstrip("\n").split("\n"))


# --------------------------------------------------------------------------- building blocks


def styled(value: object) -> Text:
    text = text_cell(value) if isinstance(value, Enum) else str(value)
    return Text(text, style=STYLES.get(text, ""))


def grid(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A table with a header row; cells are strings (or rich Text for colour)."""
    table = Table(box=PLAIN, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else ("" if cell is None else str(cell)) for cell in row))
    return table


def pairs(rows: Iterable[tuple[str, object]]) -> Table:
    """A block of `name  value` lines (detail views)."""
    table = Table(box=None, show_header=False, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value if isinstance(value, ConsoleRenderable) else str(value))
    return table


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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


def decimal(n: float) -> str:
    """A price or a rate as written: `0.005`, `0.0000166667`, `1000` (no exponent)."""
    return f"{n:.10f}".rstrip("0").rstrip(".")


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


# --------------------------------------------------------------------------- progress on stderr


class Progress:
    """The progress of a wait, on stderr: a rich progress bar on a terminal; one plain line per change
    otherwise (logs and CI keep a readable history). Off for --output json/text: stdout stays one document,
    stderr stays quiet."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self._terminal = sys.stderr.isatty()
        self._last = ""
        self._rich: RichProgress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Progress:
        if self._enabled and self._terminal:
            self._rich = RichProgress(
                BarColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True, markup=False, highlight=False, emoji=False),
            )
            self._rich.start()
            self._task = self._rich.add_task("", total=None)
        return self

    def update(self, text: str, *, done: float | None = None, total: float | None = None, plain: str = "") -> None:
        """`text` next to the bar on a terminal; `plain` (default: text) as a line otherwise."""
        if not self._enabled:
            return
        if self._rich is not None and self._task is not None:
            self._rich.update(self._task, description=text, completed=done or 0, total=total)
            return
        line = plain or text
        if line != self._last:
            click.echo(line, err=True)
            self._last = line

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.stop()


class LiveView:
    """A view that changes while a command waits (`runs watch`), on stderr: redrawn in place on a terminal
    (rich Live); one plain line per change otherwise; nothing when disabled (--output json/text)."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self._terminal = sys.stderr.isatty()
        self._last = ""
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        if self._enabled and self._terminal:
            stderr = Console(stderr=True, markup=False, highlight=False, emoji=False)
            self._live = Live(console=stderr, refresh_per_second=4, transient=False)
            self._live.start()
        return self

    def update(self, view: RenderableType, plain: str) -> None:
        """`view` on a terminal, `plain` as a line (when it changed) otherwise."""
        if not self._enabled:
            return
        if self._live is not None:
            self._live.update(view, refresh=True)
        elif plain != self._last:
            click.echo(plain, err=True)
            self._last = plain

    def note(self, line: str) -> None:
        """A line of its own (above the view on a terminal)."""
        if not self._enabled:
            return
        if self._live is not None:
            self._live.console.print(line)
        else:
            click.echo(line, err=True)

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()


# --------------------------------------------------------------------------- views shared by several commands


def progress_text(p: RunProgress, *, with_bar: bool = True) -> str:
    """`[####----] 120/400 keys, 1,200 listed  1.2 GiB/3.0 GiB  35.0 MiB/s  2.1 keys/s  ETA 2m10s  DRAINING`."""
    planning = f", {p.keys_listed:,} listed" + ("" if p.planning_complete else " (planning)")
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
        (
            "outcomes",
            f"{p.objects_transferred:,} transferred, {p.objects_skipped:,} skipped, {p.objects_vanished:,} vanished, "
            f"{p.objects_failed:,} failed",
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
    return lines


def run_line(run: RunRecord) -> str:
    return (
        f"{run.objects_transferred:,} transferred, {run.objects_skipped:,} skipped, "
        f"{run.objects_vanished:,} vanished, {run.objects_failed:,} failed "
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
