"""DynamoDB, item by item as plain dicts: scans, reads by key, and conditional writes (backup, restore,
the failure ledger as the CLI shows it). Run records go through the shared package's RunStore."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hydration.aws.dynamo import batch_get, from_item, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _decimals(value: Any) -> Any:
    """DynamoDB numbers are Decimals: floats (as JSON gives them) are converted exactly as written."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_start: dict[str, Any] | None  # the key the next page starts after (None: the table is done)


SCAN_PAGE_MIN = 100  # items a filtered scan evaluates per request at least (a sparse prefix needs fewer calls)


class Tables:
    def __init__(self, client: DynamoDBClient) -> None:
        self._client = client

    def scan_page(
        self,
        table: str,
        key_attribute: str,
        *,
        limit: int,
        start: dict[str, Any] | None = None,
        key_prefix: tuple[str, str] | None = None,
        flag: str | None = None,
    ) -> Page:
        """Up to `limit` items in the table's order, after the key `start`, reading no further than needed
        (`key_prefix`: only items whose attribute begins so; `flag`: only items whose boolean attribute is
        true). The next page starts after the last item returned (a scan may start after any item's key)."""
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        filters: list[str] = []
        names: dict[str, str] = {}
        known: dict[str, Any] = {}
        if key_prefix and key_prefix[1]:
            filters.append("begins_with(#a, :p)")
            names["#a"], known[":p"] = key_prefix[0], {"S": key_prefix[1]}
        if flag:
            filters.append("#f = :t")
            names["#f"], known[":t"] = flag, {"BOOL": True}
        if filters:
            kwargs.update(
                FilterExpression=" AND ".join(filters), ExpressionAttributeNames=names, ExpressionAttributeValues=known
            )
        items: list[dict[str, Any]] = []
        exclusive = to_item(start) if start else None
        while True:
            wanted = limit - len(items)
            request = {**kwargs, "Limit": max(wanted, SCAN_PAGE_MIN)}
            if exclusive:
                request["ExclusiveStartKey"] = exclusive
            response = self._client.scan(**request)
            found = [from_item(item) for item in response.get("Items", [])]
            if len(found) >= wanted:
                items += found[:wanted]
                more = len(found) > wanted or "LastEvaluatedKey" in response
                return Page(items, {key_attribute: items[-1][key_attribute]} if more else None)
            items += found
            exclusive = response.get("LastEvaluatedKey")
            if not exclusive:
                return Page(items, None)

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

    def get_items(self, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items with these primary keys that exist (BatchGetItem, consistent reads)."""
        if not keys:
            return []
        return batch_get(self._client, {table: keys}, consistent=True)[table]

    def get_by_key(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Items of a table whose partition key is `key`, by key (BatchGetItem, consistent reads)."""
        items = batch_get(self._client, {table: [{"key": key} for key in keys]}, consistent=True)[table]
        return {item["key"]: item for item in items}

    def put_if(self, table: str, item: dict[str, Any], key_attribute: str, expected: dict[str, Any] | None) -> bool:
        """Write `item` only if the stored item is still as read: absent (`expected` None), or with these
        attribute values (None: attribute absent). False if it changed in between (nothing written)."""
        names = {"#k": key_attribute}
        values: dict[str, Any] = {}
        if expected is None:
            condition = "attribute_not_exists(#k)"
        else:
            terms = []
            for i, (attribute, value) in enumerate(sorted(expected.items())):
                names[f"#a{i}"] = attribute
                if value is None:
                    terms.append(f"attribute_not_exists(#a{i})")
                else:
                    terms.append(f"#a{i} = :v{i}")
                    values[f":v{i}"] = value
            condition = " AND ".join(["attribute_exists(#k)", *terms])
        kwargs: dict[str, Any] = {
            "TableName": table,
            "Item": to_item(_decimals(item)),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = to_item(_decimals(values))
        try:
            self._client.put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
