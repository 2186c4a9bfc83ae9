"""The failure ledger as the operator sees it: every key whose final copy attempt failed (every run retries
them). Read as plain items, so that fields the functions add (`first_failed_at`, `force`, `origin`) show up
when they are there and are not required when they are not."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hydration.models import UtcDatetime
from hydration_cli.deployment import Deployment
from hydration_cli.outcome import ExitCode, Result


class FailureEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str
    run_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempts: int | None = None
    first_failed_at: UtcDatetime | None = None
    failed_at: UtcDatetime | None = None  # the last failure
    origin: str | None = None  # why the key was enqueued
    force: bool = False
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None


class FailureList(Result):
    prefix: str | None
    total: int  # entries under the prefix
    failures: list[FailureEntry]  # the first `limit` of them, by key

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.total else ExitCode.OK


def list_failures(deployment: Deployment, *, prefix: str | None, limit: int) -> FailureList:
    table = deployment.output("FailuresTableName")
    entries = [
        FailureEntry.model_validate(item) for item in deployment.tables.scan(table, key_prefix=("key", prefix or ""))
    ]
    entries.sort(key=lambda entry: entry.key)
    return FailureList(prefix=prefix, total=len(entries), failures=entries[:limit])


def entries_for(deployment: Deployment, keys: list[str]) -> dict[str, FailureEntry]:
    """The ledger entries of these keys (those that have one)."""
    if not keys:
        return {}
    items = deployment.tables.get_by_key(deployment.output("FailuresTableName"), keys)
    return {key: FailureEntry.model_validate(item) for key, item in items.items()}
