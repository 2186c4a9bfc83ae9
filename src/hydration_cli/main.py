"""The `s3-hydration` command group. Errors become one line on stderr and an exit code, here and only here."""

from __future__ import annotations

from typing import Any

import click

from hydration_cli.commands import (
    backup,
    dlq,
    estimate,
    failures,
    health,
    last_sync,
    logs,
    metrics,
    reset_sync,
    restore,
    runs,
    status,
    trigger,
    uploads,
)
from hydration_cli.context import AppConfig
from hydration_cli.errors import describe
from hydration_cli.options import group_options
from hydration_cli.outcome import EXIT_CODES_HELP, ExitCode


class CliFailure(click.ClickException):
    """Printed by click as `Error: <message>` on stderr; exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance


class HydrationGroup(click.Group):
    """Maps our domain errors, missing credentials and AWS errors to one line and an exit code; Ctrl-C to 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("", err=True)
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
        except Exception as exc:
            config = ctx.find_object(AppConfig)
            if config is not None and config.debug:
                raise
            mapped = describe(exc)
            if mapped is None:
                mapped = (f"unexpected {type(exc).__name__}: {exc} (--debug shows the traceback)", ExitCode.FAILURE)
            raise CliFailure(*mapped) from exc


@click.group(cls=HydrationGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP)
@group_options
@click.version_option(package_name="s3-hydration", prog_name="s3-hydration")
@click.pass_context
def cli(
    ctx: click.Context, profile: str | None, region: str | None, stack: str, output: str, query: Any, debug: bool
) -> None:
    """Operate an s3-hydration deployment: every resource is found through the consumer stack's outputs.

    The options below also work after a group or the command (`s3-hydration runs --output json list`,
    `s3-hydration status --output json`); a value given nearer the command wins. AWS settings are the standard
    ones (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for LocalStack). Commands that change state show what they
    will do and ask (--yes: do not ask; --dry-run: only show). Shell completion: docs/runbook.md.
    """
    config = ctx.ensure_object(AppConfig)
    config.profile, config.region, config.stack, config.output = profile, region, stack, output
    config.query = query
    config.debug = config.debug or debug


for command in (
    status.status,
    trigger.trigger,
    last_sync.last_sync,
    reset_sync.reset_sync,
    runs.runs,
    failures.failures,
    dlq.dlq,
    logs.logs,
    metrics.metrics,
    health.health,
    backup.backup,
    restore.restore,
    uploads.uploads,
    estimate.estimate,
):
    cli.add_command(command)
