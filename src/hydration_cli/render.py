"""Output for people (tables, sizes, ages, sparklines, the progress line) and JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

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
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
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
        self._tty = click.get_text_stream("stderr").isatty()
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
