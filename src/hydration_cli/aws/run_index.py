"""The runs table's `ByStart` index (partition `kind`, sort `started_at`, keys only): the newest runs, a page
at a time, read server-side instead of scanning the table.

One query per run kind (newest first, at most a page each), merged by start time: the page is exact whatever
the mix of kinds. The lock item (`run_id = ACTIVE`) has neither attribute, so the index never holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hydration.models import RunKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

INDEX = "ByStart"


@dataclass(frozen=True)
class RunPage:
    run_ids: list[str]  # newest first
    next_before: dict[str, str] | None  # where the next page starts (None: no more)


class RunIndex:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def newest(self, limit: int, before: dict[str, str] | None = None) -> RunPage:
        """Up to `limit` run ids, newest first, started before `before` (a previous page's `next_before`)."""
        found: list[tuple[str, str]] = []
        more = False
        for kind in RunKind:
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": INDEX,
                "KeyConditionExpression": "#k = :k",
                "ExpressionAttributeNames": {"#k": "kind"},
                "ExpressionAttributeValues": {":k": {"S": kind.value}},
                "ScanIndexForward": False,
                "Limit": limit,
            }
            if before is not None:
                request["KeyConditionExpression"] += " AND #s < :s"
                request["ExpressionAttributeNames"]["#s"] = "started_at"
                request["ExpressionAttributeValues"][":s"] = {"S": before["started_at"]}
            response = self._client.query(**request)
            found += [(item["started_at"]["S"], item["run_id"]["S"]) for item in response.get("Items", [])]
            more |= "LastEvaluatedKey" in response
        found.sort(reverse=True)
        page = found[:limit]
        more |= len(found) > limit
        next_before = {"started_at": page[-1][0]} if more and page else None
        return RunPage(run_ids=[run_id for _, run_id in page], next_before=next_before)
