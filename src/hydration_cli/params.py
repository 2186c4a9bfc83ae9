"""The CLI's parameter types: times, durations, sizes, NAME=VALUE assignments, a --query's JMESPath and a
page's --starting-token. A value that does not convert is a usage error (exit 2), before any AWS call."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import click
import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from hydration_cli.context import AppConfig
from hydration_cli.times import parse_duration, parse_time


def _clock_now(ctx: click.Context | None) -> datetime:
    found = ctx.find_object(AppConfig) if ctx else None
    return (found or AppConfig()).clock()


class TimeType(click.ParamType):
    """`1h` (ago) or an ISO-8601 time; a bad value is a usage error (exit 2)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value), _clock_now(ctx))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class DurationType(click.ParamType):
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(|B|[KMGTP]B|[KMGT]iB)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1} | {
    f"{prefix}{suffix}": base ** (i + 1)
    for i, prefix in enumerate("kmgtp")
    for suffix, base in (("b", 1000), ("ib", 1024))
}


class SizeType(click.ParamType):
    """Bytes: `5000000000`, `750GiB`, `2TB`, `1.5 TiB`; a bad value is a usage error."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _SIZE.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a size (like 5000000000, 750GiB, 2TB)", param, ctx)
        return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


class AssignmentType(click.ParamType):
    """`NAME=NUMBER`, NAME one of `names` (`--price s3-write=0.0055`); anything else is a usage error."""

    name = "NAME=VALUE"

    def __init__(self, names: Iterable[str]) -> None:
        self._names = list(names)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, float]:
        if isinstance(value, tuple):
            return value
        name, sep, number = str(value).partition("=")
        if not sep or name not in self._names:
            self.fail(f"{value!r}: expected NAME=VALUE with NAME one of {', '.join(self._names)}", param, ctx)
        try:
            return name, float(number)
        except ValueError:
            self.fail(f"{value!r}: {number!r} is not a number", param, ctx)


class QueryType(click.ParamType):
    """A JMESPath expression (aws-cli's --query), compiled when the option is read: a bad one is a usage error
    before any AWS call."""

    name = "JMESPATH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> ParsedResult:
        if isinstance(value, ParsedResult):
            return value
        try:
            return jmespath.compile(str(value))
        except JMESPathError as exc:
            self.fail(f"{value!r} is not a JMESPath expression: {exc}", param, ctx)


class TokenType(click.ParamType):
    """The opaque `--starting-token` a previous page printed (its `next_token`); anything else is a usage
    error."""

    name = "TOKEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            decoded = json.loads(base64.urlsafe_b64decode(str(value).encode() + b"=" * (-len(str(value)) % 4)))
        except (binascii.Error, ValueError):
            decoded = None
        if not isinstance(decoded, dict):
            self.fail(f"{value!r} is not a token printed by this command (next_token)", param, ctx)
        return decoded


def encode_token(position: dict[str, Any] | None) -> str | None:
    """The `next_token` of a page: where the next one starts (None: this was the last page)."""
    if position is None:
        return None
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TIME = TimeType()
DURATION = DurationType()
SIZE = SizeType()
