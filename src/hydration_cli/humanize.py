"""Numbers, sizes, times and durations as people read them in the CLI's table output (the text and json
outputs keep raw values)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

SPARKS = "▁▂▃▄▅▆▇█"


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
