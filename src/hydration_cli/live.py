"""What a command shows on stderr while it waits: a progress bar, or a view redrawn in place (`runs watch`);
plain lines when stderr is not a terminal, nothing with --output json/text."""

from __future__ import annotations

import sys
from types import TracebackType

import click
from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


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
