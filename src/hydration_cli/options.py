"""The global options (before the command, and again after it), the one output path, and the parameter
types for times and durations.

`s3-hydration [--profile P] [--region R] [--stack S] [--output F] [--debug] COMMAND [...] [the same options]`:
a value given after the command wins over one given before it, which wins over the environment
(AWS_PROFILE; AWS_REGION, AWS_DEFAULT_REGION; S3H_STACK; S3H_OUTPUT, AWS_DEFAULT_OUTPUT), which wins over
the defaults.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from hydration_cli import render
from hydration_cli.context import AppConfig
from hydration_cli.deployment import DEFAULT_STACK
from hydration_cli.ops.costs import ASSUMPTIONS, PRICES
from hydration_cli.outcome import Result
from hydration_cli.times import parse_duration, parse_time


class TimeType(click.ParamType):
    """`1h` (ago) or an ISO-8601 time; a bad value is a usage error (exit 2)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value), app_config(ctx).clock())
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


TIME = TimeType()
DURATION = DurationType()
SIZE = SizeType()


def watch_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """How long and how often a command that follows a run polls (`runs watch`, `trigger --wait`)."""
    for option in reversed(
        [
            click.option(
                "--timeout", type=DURATION, default="1h", show_default=True, help="Longest wait for the run to end."
            ),
            click.option("--interval", type=DURATION, default="5s", show_default=True, help="Poll interval."),
            click.option(
                "--start-timeout",
                type=DURATION,
                default="5m",
                show_default=True,
                help="Longest wait for the run to appear (a run just triggered, or any run to start).",
            ),
        ]
    ):
        function = option(function)
    return function


def cost_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The prices and assumptions of a cost estimate, overridable (`runs report`, `estimate`)."""
    for flag, dest, names, what in (
        ("--assume", "assumptions", [a.name for a in ASSUMPTIONS], "an assumption: NAME=VALUE"),
        ("--price", "prices", [p.name for p in PRICES], "a price: NAME=USD, in USD per the unit shown"),
    ):
        option = click.option(
            flag, dest, type=AssignmentType(names), multiple=True, help=f"Override {what} (repeatable)."
        )
        function = option(function)
    return function


def app_config(ctx: click.Context | None = None) -> AppConfig:
    ctx = ctx or click.get_current_context(silent=True)
    found = ctx.find_object(AppConfig) if ctx else None
    return found or AppConfig()


def now() -> datetime:
    return app_config().clock().astimezone(UTC)


def default_output() -> str:
    """aws-cli's AWS_DEFAULT_OUTPUT when it names one of our formats (not yaml), else `table`."""
    aws = os.environ.get("AWS_DEFAULT_OUTPUT", "")
    return aws if aws in render.FORMATS else "table"


def _global_options(*, before_command: bool) -> list[Callable[[Any], Any]]:
    """The same five options for the group (with the environment and the defaults) and for each command
    (no default: given or not)."""

    def fallback(value: object) -> Any:
        return value if before_command else None

    return [
        click.option(
            "--profile",
            envvar="AWS_PROFILE" if before_command else None,
            default=None,
            help="AWS profile (env AWS_PROFILE).",
        ),
        click.option(
            "--region",
            envvar=["AWS_REGION", "AWS_DEFAULT_REGION"] if before_command else None,
            default=None,
            help="AWS region (env AWS_REGION, AWS_DEFAULT_REGION; else the profile's).",
        ),
        click.option(
            "--stack",
            envvar="S3H_STACK" if before_command else None,
            default=fallback(DEFAULT_STACK),
            show_default=before_command,
            help="The consumer stack whose outputs name every resource (env S3H_STACK).",
        ),
        click.option(
            "--output",
            type=click.Choice(render.FORMATS),
            envvar="S3H_OUTPUT" if before_command else None,
            default=fallback(default_output),
            help="table for people (default), text (tab-separated, for cut/awk) or json "
            "(env S3H_OUTPUT, AWS_DEFAULT_OUTPUT).",
        ),
        click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors."),
    ]


def group_options(group: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_global_options(before_command=True)):
        group = option(group)
    return group


def command(function: Callable[..., Result | None]) -> Callable[..., None]:
    """A command: the global options again (given here, they win), `deployment` passed in, and the one
    output path: the Result the function returns is rendered in the chosen format and the command exits
    with its exit code (a function that printed its own output returns None)."""

    @functools.wraps(function)
    def wrapper(
        *args: Any,
        profile: str | None,
        region: str | None,
        stack: str | None,
        output: str | None,
        debug: bool,
        **kw: Any,
    ) -> None:
        config = app_config()
        config.override(profile=profile, region=region, stack=stack, output=output, debug=debug)
        result = function(*args, deployment=config.deployment(), **kw)
        if result is not None:
            render.emit(result, config.output)
            click.get_current_context().exit(result.exit_code)

    for option in reversed(_global_options(before_command=False)):
        wrapper = option(wrapper)
    return wrapper
