"""The global options (at every level), the one output path, the conventions every command shares (paging,
the exit-code opt-in, confirmation) and the parameter types for times and durations.

`s3-hydration [GLOBAL] GROUP [GLOBAL] COMMAND [...] [GLOBAL]`, GLOBAL being --profile, --region, --stack,
--output, --query, --debug: a value given nearer the command wins (after it, over the group's, over the
top's), which wins over the environment (AWS_PROFILE; AWS_REGION, AWS_DEFAULT_REGION; S3H_STACK;
S3H_OUTPUT, AWS_DEFAULT_OUTPUT), which wins over the defaults.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from hydration_cli import render
from hydration_cli.context import AppConfig
from hydration_cli.deployment import DEFAULT_STACK
from hydration_cli.ops.costs import ASSUMPTIONS, PRICES
from hydration_cli.outcome import ExitCode, Result
from hydration_cli.params import DURATION, SIZE, TIME, AssignmentType, QueryType, TokenType, encode_token

__all__ = ["DURATION", "SIZE", "TIME", "encode_token"]


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


def paging_options(default: int, *, token: bool = True, maximum: int = 100_000) -> Callable[..., Any]:
    """aws-cli's paging options: `--max-items N` (the page size; the server reads no more than it needs) and,
    where a list pages, `--starting-token T` (the `next_token` the previous page printed)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if token:
            function = click.option(
                "--starting-token",
                type=TokenType(),
                default=None,
                help="Continue where a previous page stopped (its next_token).",
            )(function)
        return click.option(
            "--max-items",
            type=click.IntRange(1, maximum),
            default=default,
            show_default=True,
            help="At most this many items" + (" (a next_token is printed when there are more)." if token else "."),
        )(function)

    return decorate


def exit_code_option(when: str) -> Callable[..., Any]:
    """`--exit-code`: exit 3 when something is found or pending (`when`); without it such a result exits 0,
    so plain reads and previews never break a `set -e` script (terraform's -detailed-exitcode, opt-in)."""
    return click.option("--exit-code", "exit_code_found", is_flag=True, help=f"Exit 3 {when} (default: 0).")


def change_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The one confirmation model of every command that changes state: it shows what it will do and asks;
    `--yes` does not ask (scripts), `--dry-run` only shows (changes nothing; with --exit-code, exit 3 if
    there is something to change). A 'no' changes nothing (exit 1)."""
    function = exit_code_option("if a dry run finds something to change")(function)
    function = click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")(function)
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(function)


def confirm(question: str, *, yes: bool, preview: Result | str | None = None) -> None:
    """Unless `yes`: the preview (a dry run's result, in the table view) and the question on stderr; a 'no',
    or no answer (no terminal, nothing on stdin), aborts (exit 1) before anything changes."""
    if yes:
        return
    if preview is not None:
        text = preview if isinstance(preview, str) else render.as_str(render.table_view(preview))
        if text:
            click.echo(text, err=True)
    click.confirm(question, abort=True, err=True)


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
    """The same six options for the top group (with the environment and the defaults) and for each group
    and command below it (no default: given or not)."""

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
        click.option(
            "--query",
            type=QueryType(),
            default=None,
            help="A JMESPath expression applied to the result (its --output json form); --output formats what "
            "it selects (as aws-cli's --query).",
        ),
        click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors."),
    ]


def group_options(group: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_global_options(before_command=True)):
        group = option(group)
    return group


def subgroup(name: str | None = None, **attrs: Any) -> Callable[[Callable[..., None]], click.Group]:
    """A command group that takes the global options too (`runs --output json list`): given there, they win
    over the top's and lose to the command's."""

    def decorate(function: Callable[..., None]) -> click.Group:
        @functools.wraps(function)
        def callback(
            *, profile: str | None, region: str | None, stack: str | None, output: str | None, query: Any, debug: bool
        ) -> None:
            app_config().override(profile=profile, region=region, stack=stack, output=output, query=query, debug=debug)

        for option in reversed(_global_options(before_command=False)):
            callback = option(callback)
        return click.group(name, **attrs)(callback)

    return decorate


def command(function: Callable[..., Result | None]) -> Callable[..., None]:
    """A command: the global options again (given here, they win), `deployment` passed in, and the one
    output path: the Result the function returns is selected by --query, rendered in the chosen format, and
    the command exits with its exit code (3, found/pending, only with --exit-code; a function that printed
    its own output returns None)."""

    @functools.wraps(function)
    def wrapper(
        *args: Any,
        profile: str | None,
        region: str | None,
        stack: str | None,
        output: str | None,
        query: Any,
        debug: bool,
        **kw: Any,
    ) -> None:
        config = app_config()
        config.override(profile=profile, region=region, stack=stack, output=output, query=query, debug=debug)
        report_found = kw.pop("exit_code_found", False)
        result = function(*args, deployment=config.deployment(), **kw)
        if result is not None:
            render.emit(result, config.output, config.query)
            code = result.exit_code
            if code == ExitCode.FOUND and not report_found:
                code = ExitCode.OK
            click.get_current_context().exit(code)

    for option in reversed(_global_options(before_command=False)):
        wrapper = option(wrapper)
    return wrapper
