"""DynamoDB, item by item as plain dicts: scans and reads by key (backup, the failure ledger as the CLI shows
it). Run records go through the shared package's RunStore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hydration.aws.state import batch_get, from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Tables:
    def __init__(self, client: DynamoDBClient) -> None:
        self._client = client

    def scan(self, table: str, *, key_prefix: tuple[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item (consistent read), or those whose attribute `key_prefix[0]` begins with `key_prefix[1]`."""
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        if key_prefix and key_prefix[1]:
            kwargs.update(
                FilterExpression="begins_with(#a, :p)",
                ExpressionAttributeNames={"#a": key_prefix[0]},
                ExpressionAttributeValues={":p": {"S": key_prefix[1]}},
            )
        for page in self._client.get_paginator("scan").paginate(**kwargs):
            for item in page.get("Items", []):
                yield from_item(item)

    def get_by_key(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Items of a table whose partition key is `key`, by key (BatchGetItem)."""
        return batch_get(self._client, {table: keys})[table]
