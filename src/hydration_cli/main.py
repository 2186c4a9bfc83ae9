"""The `s3-hydration` command group. Errors become one line on stderr and an exit code, here and only here."""

from __future__ import annotations

from typing import Any

import click

from hydration_cli.commands import (
    backup,
    dlq,
    health,
    last_sync,
    logs,
    metrics,
    reset_sync,
    runs,
    status,
    trigger,
    uploads,
)
from hydration_cli.context import AppConfig
from hydration_cli.errors import FAILURE, describe


class CliFailure(click.ClickException):
    """Printed by click as `Error: <message>` on stderr; exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance


class HydrationGroup(click.Group):
    """Maps our domain errors, missing credentials and AWS errors to one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            config = ctx.find_object(AppConfig)
            if config is not None and config.debug:
                raise
            mapped = describe(exc)
            if mapped is None:
                mapped = (f"unexpected {type(exc).__name__}: {exc} (--debug shows the traceback)", FAILURE)
            raise CliFailure(*mapped) from exc


@click.group(cls=HydrationGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="s3-hydration", prog_name="s3-hydration")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Operate an s3-hydration deployment: every resource is found through the consumer stack's outputs.

    AWS settings are the standard ones (--profile/AWS_PROFILE, --region/AWS_REGION, AWS_ENDPOINT_URL for
    LocalStack). Exit codes: 0 ok, 1 failure or unhealthy, 2 usage error.
    """
    config = ctx.ensure_object(AppConfig)
    config.debug = config.debug or debug


for command in (
    status.status,
    trigger.trigger,
    last_sync.last_sync,
    reset_sync.reset_sync,
    runs.runs,
    dlq.dlq,
    logs.logs,
    metrics.metrics,
    health.health,
    backup.backup,
    uploads.uploads,
):
    cli.add_command(command)
