"""The failure ledger as the operator sees it: every key whose last attempt in some run failed for good
(every later run retries it), with its error, attempts, first and last failure, run, origin and force."""

from __future__ import annotations

from hydration.models import FailureRecord
from hydration_cli.deployment import Deployment
from hydration_cli.outcome import ExitCode, Result


class FailureList(Result):
    prefix: str | None
    total: int  # entries under the prefix
    failures: list[FailureRecord]  # the first `limit` of them, by key

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.total else ExitCode.OK


def list_failures(deployment: Deployment, *, prefix: str | None, limit: int) -> FailureList:
    """A scan of the ledger (server-side filter on the key prefix), sorted by key."""
    table = deployment.ledger.table
    items = deployment.tables.scan(table, key_prefix=("key", prefix or ""))
    entries = sorted((FailureRecord.model_validate(item) for item in items), key=lambda entry: entry.key)
    return FailureList(prefix=prefix, total=len(entries), failures=entries[:limit])


def entries_for(deployment: Deployment, keys: list[str]) -> dict[str, FailureRecord]:
    """The ledger entries of these keys (those that have one)."""
    if not keys:
        return {}
    items = deployment.tables.get_by_key(deployment.ledger.table, keys)
    return {key: FailureRecord.model_validate(item) for key, item in items.items()}
