"""Output: every command's Result goes through `emit`, in one of three formats (--output).

- `table` (the default, for people): rich tables and key/value blocks; colour only on a terminal, plain
  ASCII tables in a pipe (no width limit there, so nothing wraps).
- `text` (for cut/awk): one record per line, tab-separated, the record type first (like aws-cli's text
  output); raw values: ISO-8601 UTC times, bytes and seconds as plain numbers, `None` for no value. Tabs,
  newlines and backslashes inside a value are written as \\t, \\n and \\\\, so a line is always one record.
- `json`: the Result as one JSON document (`emit_line`: one compact JSON object per line, for streams).

Each command module registers how its Result looks as a table (`table_view.register`) and as text records
(`text_rows.register`); a Result without them falls back to its fields.

`--query` (JMESPath, as aws-cli's) selects from the Result's JSON form first; what it selects is then written
in the chosen format by the generic views below (`data_table`, `data_rows`), as aws-cli does: json as it is,
text as tab-separated values (a list of objects: one line each, values by key name), table as a grid.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from functools import singledispatch
from typing import Any, cast

import click
from pydantic import BaseModel
from rich import box
from rich.console import Console, ConsoleRenderable, Group, RenderableType
from rich.table import Table
from rich.text import Text

from hydration_cli.humanize import iso

FORMATS = ("table", "text", "json")
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


def emit(result: BaseModel, output: str, query: Any = None) -> None:
    """Print a Result on stdout in the chosen format; with a --query (compiled JMESPath), what it selects."""
    if query is not None:
        emit_data(query.search(result.model_dump(mode="json")), output)
    elif output == "json":
        click.echo(result.model_dump_json(indent=2))
    elif output == "text":
        for row in text_rows(result):
            click.echo(text_line(row))
    elif text := as_str(table_view(result)):
        click.echo(text)


def emit_line(result: BaseModel, output: str, query: Any = None) -> None:
    """Print one item of a stream (`logs --follow`): compact JSON, text records, or its table line."""
    if query is not None:
        selected = query.search(result.model_dump(mode="json"))
        if selected is not None:
            if output == "json":
                click.echo(json.dumps(selected, ensure_ascii=False))
            else:
                emit_data(selected, output)
    elif output == "json":
        click.echo(result.model_dump_json())
    else:
        emit(result, output)


# --------------------------------------------------------------------------- what a --query selected


def emit_data(data: Any, output: str) -> None:
    """Print plain JSON data (what a --query selected) in the chosen format."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif output == "text":
        for row in data_rows(data):
            click.echo(text_line(row))
    elif text := as_str(data_table(data)):
        click.echo(text)


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def data_rows(data: Any) -> Iterable[Sequence[object]]:
    """aws-cli's text form: a scalar on its line; a list of scalars on one line; an object's scalar values on
    one line (by key name), its lists and objects after it; a list of anything else, item by item."""
    if data is None:
        return
    if _scalar(data):
        yield (data,)
    elif isinstance(data, list):
        if all(_scalar(item) for item in data):
            if data:
                yield tuple(data)
        else:
            for item in data:
                yield from data_rows(item)
    else:
        scalars = [data[k] for k in sorted(data) if _scalar(data[k])]
        if scalars:
            yield tuple(scalars)
        for k in sorted(data):
            if not _scalar(data[k]):
                yield from data_rows(data[k])


def data_table(data: Any) -> RenderableType:
    """A table of plain JSON data: a list of objects as a grid (a column per key), an object as name/value
    lines, a list of scalars as one column, a scalar as it is."""
    if data is None:
        return ""
    if _scalar(data):
        return str(data)
    if isinstance(data, dict):
        return pairs((name, "-" if value is None else _plain(value)) for name, value in data.items())
    if data and all(isinstance(item, dict) for item in data):
        headers: list[str] = []
        for item in data:
            headers += [name for name in item if name not in headers]
        rows = [[_cell(item.get(name)) for name in headers] for item in data]
        return grid([h.upper() for h in headers], rows)
    return grid(("VALUE",), [[_cell(item)] for item in data])


def _cell(value: Any) -> str:
    return "-" if value is None else str(_plain(value))


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


def paged(view: RenderableType, next_token: str | None) -> RenderableType:
    """A page of a list, and how to get the next one when there is more."""
    if not next_token:
        return view
    return Group(view, f"more: --starting-token {next_token}")
