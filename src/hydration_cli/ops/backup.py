"""`backup`: the runs, failures and manifest tables as one JSON document (a scan of each table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hydration.aws.dynamo import from_item
from hydration_cli.deployment import Deployment

TABLES = {"runs": "RunsTableName", "failures": "FailuresTableName", "manifest": "ManifestTableName"}


class TableDump(BaseModel):
    table: str
    items: list[dict[str, Any]]


class Backup(BaseModel):
    stack: str
    exported_at: datetime
    tables: dict[str, TableDump]


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += [from_item(item) for item in page.get("Items", [])]
    return items


def export(deployment: Deployment, now: datetime) -> Backup:
    client = deployment.client("dynamodb")
    tables = {}
    for name, output in TABLES.items():
        table = deployment.output(output)
        tables[name] = TableDump(table=table, items=scan(client, table))
    return Backup(stack=deployment.stack, exported_at=now, tables=tables)
