"""`failures restore`: archived keys (their source in GLACIER, DEEP_ARCHIVE or an Intelligent-Tiering archive
tier, which no copy can read) restored in the producer bucket and marked restore-requested in the ledger, so
that the next runs copy them: each run re-enqueues them, a copy made while the restore is still running
settles archived again ("restore in progress"), the first after it copies the key and clears its entry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from hydration.aws.s3 import error_code
from hydration.models import FailureRecord
from hydration_cli.aws.producer import ARCHIVE_TIERS
from hydration_cli.outcome import ExitCode, Result

if TYPE_CHECKING:
    from hydration_cli.deployment import Deployment


class Tier(StrEnum):
    """RestoreObject's retrieval tiers that every archive accepts (Expedited: GLACIER only, at a cost)."""

    STANDARD = "Standard"
    BULK = "Bulk"


class RestoreReport(Result):
    dry_run: bool
    days: int
    tier: Tier
    selected: list[FailureRecord]  # archived entries (in a dry run: those that would be restored)
    requested: list[str] = []  # RestoreObject accepted now
    in_progress: list[str] = []  # a restore was running already: marked as well
    refused: dict[str, str] = {}  # key -> S3's error code (not marked: no run retries it)

    @property
    def exit_code(self) -> ExitCode:
        if self.refused:
            return ExitCode.FAILURE
        return ExitCode.FOUND if self.dry_run and self.selected else ExitCode.OK


def select(
    deployment: Deployment, *, keys: list[str], prefix: str | None, limit: int, again: bool
) -> list[FailureRecord]:
    """The archived entries to restore: those of `keys`, or every archived one under `prefix` whose restore was
    not requested yet (`again`: those too), at most `limit`."""
    if keys:
        found = (deployment.ledger.get(key) for key in keys)
        entries = [f for f in found if f is not None and f.archived]
    else:
        entries = [
            f
            for f in deployment.ledger.archived()
            if f.key.startswith(prefix or "") and (again or f.restore_requested_at is None)
        ]
    return sorted(entries, key=lambda f: f.key)[:limit]


def restore(
    deployment: Deployment, entries: list[FailureRecord], *, days: int, tier: Tier, now: datetime, dry_run: bool
) -> RestoreReport:
    """RestoreObject for each entry through the producer role, then its ledger entry marked (a restore S3
    refused is reported and left unmarked)."""
    report = RestoreReport(dry_run=dry_run, days=days, tier=tier, selected=entries)
    if dry_run:
        return report
    for entry in entries:
        try:
            started = deployment.producer.restore(
                entry.bucket,
                entry.key,
                version_id=entry.version_id,
                days=days,
                tier=tier.value,
                intelligent_tiering=entry.archive_status in ARCHIVE_TIERS,
            )
        except ClientError as exc:
            report.refused[entry.key] = error_code(exc)
            continue
        deployment.ledger.request_restore(entry.key, now)
        (report.requested if started else report.in_progress).append(entry.key)
    return report


def describe(entry: FailureRecord) -> str:
    """An entry's archive state for people: `DEEP_ARCHIVE`, `INTELLIGENT_TIERING/ARCHIVE_ACCESS, restore
    requested`; `-` for a failure."""
    if not entry.archived:
        return "-"
    where = "/".join(part for part in (entry.storage_class, entry.archive_status) if part) or "archived"
    return f"{where}, restore requested" if entry.restore_requested_at else where
