"""The failure ledger as the operator sees it: every key whose last attempt in some run failed for good
(every later run retries it), with its error, attempts, first and last failure, run, origin and force, and
the archived keys (their source needs a restore: where S3 keeps it, whether a restore was requested)."""

from __future__ import annotations

from hydration.models import FailureRecord
from hydration_cli.deployment import Deployment
from hydration_cli.outcome import ExitCode, Result
from hydration_cli.params import encode_token


class FailureList(Result):
    prefix: str | None
    failures: list[FailureRecord]  # one page, in the table's order
    next_token: str | None = None  # --starting-token for the next page (None: no more entries)
    continued: bool = False  # this page follows an earlier one (a --starting-token was given)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FOUND if self.failures else ExitCode.OK


def list_failures(
    deployment: Deployment,
    *,
    prefix: str | None,
    limit: int,
    start: dict[str, str] | None = None,
    archived: bool = False,
) -> FailureList:
    """One page of the ledger: a scan that stops at `limit` entries (server-side filters on the key prefix
    and, with `archived`, on archived entries), from `start` (a previous page's next position)."""
    page = deployment.tables.scan_page(
        deployment.ledger.table,
        "key",
        limit=limit,
        start=start,
        key_prefix=("key", prefix or ""),
        flag="archived" if archived else None,
    )
    return FailureList(
        prefix=prefix,
        failures=[FailureRecord.model_validate(item) for item in page.items],
        next_token=encode_token(page.next_start),
        continued=start is not None,
    )


def entries_for(deployment: Deployment, keys: list[str]) -> dict[str, FailureRecord]:
    """The ledger entries of these keys (those that have one)."""
    if not keys:
        return {}
    items = deployment.tables.get_by_key(deployment.ledger.table, keys)
    return {key: FailureRecord.model_validate(item) for key, item in items.items()}
