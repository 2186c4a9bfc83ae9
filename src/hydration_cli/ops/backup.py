"""`backup`: the runs, books, failures and manifest tables as one JSON document (a scan of each table).

Items are written as the table holds them (plain JSON values), whatever their format: a run's books (a task
per key and the run's counters) are backed up as raw items, so the file follows any change of their layout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hydration_cli.deployment import Deployment
from hydration_cli.outcome import Result

TABLES = {
    "runs": "RunsTableName",
    "books": "BooksTableName",
    "failures": "FailuresTableName",
    "manifest": "ManifestTableName",
}


class TableDump(BaseModel):
    table: str
    items: list[dict[str, Any]]


class Backup(BaseModel):
    """The file `backup` writes and `restore` reads."""

    stack: str
    exported_at: datetime
    tables: dict[str, TableDump]


class BackupWritten(Result):
    path: str
    exported_at: datetime
    items: dict[str, int]  # per table
    bytes: int


def export(deployment: Deployment, now: datetime) -> Backup:
    tables = {}
    for name, output in TABLES.items():
        table = deployment.output(output)
        tables[name] = TableDump(table=table, items=list(deployment.tables.scan(table)))
    return Backup(stack=deployment.stack, exported_at=now, tables=tables)
