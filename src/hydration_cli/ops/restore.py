"""`restore FILE`: put back what `backup` wrote (runs, books, failure ledger, manifest), never over newer
state.

Each item is compared with the one in the table by its own time: a run by `ended_at` (else `started_at`), a
ledger entry by `failed_at`, a manifest entry by `copied_at`. An item that is missing from the table, or
older there, is written; one that is newer (or as new, with other content) in the table is kept, unless
`force`. A books item (raw: its layout is the books adapter's) has no time of its own: it is written only
where the table has none, the table's kept otherwise (unless `force`). Each write is conditional on the
table's item being still as it was read, so a function writing meanwhile always wins. The active-run lock
item is never restored: a restored lock would block every run. A file without books (an older backup) restores
the other tables.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from hydration.aws.runs import LOCK_ID
from hydration.models import UtcDatetime, describe_validation_error
from hydration_cli.deployment import Deployment
from hydration_cli.errors import RestoreFileError
from hydration_cli.ops.backup import Backup
from hydration_cli.outcome import ExitCode, Result

WRITERS = 8
_moment = TypeAdapter(UtcDatetime)

Action = Literal["write", "keep", "unchanged", "lock", "changed"]


@dataclass(frozen=True)
class TableSpec:
    output: str  # the stack output that names the table
    keys: tuple[str, ...]  # its key attributes (partition first)
    times: tuple[str, ...]  # the item's own times, latest wins (none: the table's item wins)

    def id_of(self, item: dict[str, Any]) -> str:
        return "/".join(str(item[k]) for k in self.keys)


SPECS = {
    "runs": TableSpec("RunsTableName", ("run_id",), ("started_at", "ended_at")),
    "books": TableSpec("BooksTableName", ("run_id", "key"), ()),
    "failures": TableSpec("FailuresTableName", ("key",), ("failed_at",)),
    "manifest": TableSpec("ManifestTableName", ("key",), ("copied_at",)),
}


class Decision(BaseModel):
    """What happened to one item. write: written (in a dry run: would be); keep: the table's is newer;
    changed: the table's changed while we restored (kept); lock: the active-run lock (never restored)."""

    table: str  # runs | books | failures | manifest
    id: str  # run_id, key, or run_id/key (books)
    action: Action
    backup_at: datetime | None
    table_at: datetime | None


class TableCounts(BaseModel):
    table: str
    write: int = 0
    keep: int = 0
    unchanged: int = 0
    lock: int = 0
    changed: int = 0


class RestoreReport(Result):
    file: str
    backup_stack: str
    exported_at: datetime
    dry_run: bool
    force: bool
    tables: dict[str, TableCounts]
    decisions: list[Decision]  # every item but the unchanged ones

    @property
    def exit_code(self) -> ExitCode:
        pending = self.dry_run and any(d.action == "write" for d in self.decisions)
        return ExitCode.FOUND if pending else ExitCode.OK


def read_backup(path: Path) -> Backup:
    try:
        backup = Backup.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise RestoreFileError(
            f"{path} is not a backup written by `s3-hydration backup`: {describe_validation_error(exc)}"
        ) from exc
    unknown = sorted(set(backup.tables) - set(SPECS))
    if unknown:
        raise RestoreFileError(f"{path}: unknown table(s) {', '.join(unknown)}")
    return backup


def _latest(item: dict[str, Any] | None, times: tuple[str, ...]) -> datetime | None:
    if item is None:
        return None
    found = [_moment.validate_python(item[name]) for name in times if item.get(name)]
    return max(found) if found else None


def decide(table: str, spec: TableSpec, item: dict[str, Any], current: dict[str, Any] | None, force: bool) -> Action:
    if table == "runs" and item.get(spec.keys[0]) == LOCK_ID:
        return "lock"
    if current is None:
        return "write"
    if item == current:
        return "unchanged"
    if not spec.times:  # no time of its own (books): the table's item is the truth
        return "write" if force else "keep"
    backup_at, table_at = _latest(item, spec.times), _latest(current, spec.times)
    older_in_table = table_at is None or (backup_at is not None and backup_at > table_at)
    return "write" if older_in_table or force else "keep"


def _current(
    deployment: Deployment, spec: TableSpec, table: str, items: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The table's items with the backup's keys, by id (consistent batch reads)."""
    keys = [{k: item[k] for k in spec.keys} for item in items]
    return {spec.id_of(found): found for found in deployment.tables.get_items(table, keys)}


def _write(
    deployment: Deployment,
    table: str,
    key: str,
    planned: list[tuple[Decision, dict[str, Any], dict[str, Any] | None]],
    counts: TableCounts,
) -> None:
    """Conditional writes, several at once; an item that changed since it was read is kept (`changed`)."""

    def put(job: tuple[Decision, dict[str, Any], dict[str, Any] | None]) -> bool:
        return deployment.tables.put_if(table, job[1], key, job[2])

    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="restore") as pool:
        for (decision, _, _), written in zip(planned, pool.map(put, planned), strict=True):
            if not written:
                decision.action = "changed"
                counts.write -= 1
                counts.changed += 1


def restore(deployment: Deployment, path: Path, *, dry_run: bool, force: bool) -> RestoreReport:
    backup = read_backup(path)
    report = RestoreReport(
        file=str(path),
        backup_stack=backup.stack,
        exported_at=backup.exported_at,
        dry_run=dry_run,
        force=force,
        tables={},
        decisions=[],
    )
    for name, dump in backup.tables.items():
        spec = SPECS[name]
        table = deployment.output(spec.output)
        counts = report.tables[name] = TableCounts(table=table)
        current = _current(deployment, spec, table, dump.items)
        planned: list[tuple[Decision, dict[str, Any], dict[str, Any] | None]] = []
        for item in dump.items:
            item_id = spec.id_of(item)
            existing = current.get(item_id)
            action = decide(name, spec, item, existing, force)
            decision = Decision(
                table=name,
                id=item_id,
                action=action,
                backup_at=_latest(item, spec.times),
                table_at=_latest(existing, spec.times),
            )
            if action == "write":
                expected = None if existing is None else {t: existing.get(t) for t in spec.times}
                planned.append((decision, item, expected))
            setattr(counts, action, getattr(counts, action) + 1)
            if action != "unchanged":
                report.decisions.append(decision)
        if not dry_run:
            _write(deployment, table, spec.keys[0], planned, counts)
    return report
