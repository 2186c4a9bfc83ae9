"""Options shared by the commands, as decorators; the parameter types for times and durations."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from hydration_cli.context import AppConfig
from hydration_cli.deployment import DEFAULT_STACK, Deployment
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


TIME = TimeType()
DURATION = DurationType()


def app_config(ctx: click.Context | None = None) -> AppConfig:
    ctx = ctx or click.get_current_context(silent=True)
    found = ctx.find_object(AppConfig) if ctx else None
    return found or AppConfig()


def now() -> datetime:
    return app_config().clock().astimezone(UTC)


def deployment_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--stack/--region/--profile, passed to the command as `deployment` (resolved on first use)."""

    @click.option(
        "--stack",
        default=DEFAULT_STACK,
        show_default=True,
        envvar="S3H_STACK",
        help="The consumer stack whose outputs name every resource (env S3H_STACK).",
    )
    @click.option(
        "--region", envvar="AWS_REGION", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, profile)."
    )
    @click.option("--profile", help="AWS profile (default: AWS_PROFILE).")
    @functools.wraps(command)
    def wrapper(*args: Any, stack: str, region: str | None, profile: str | None, **kwargs: Any) -> Any:
        config = app_config()
        kwargs["deployment"] = Deployment(stack, region, profile, invoker_factory=config.invoker_factory)
        return command(*args, **kwargs)

    return wrapper


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(command)
