"""DynamoDB adapter: the uploads table, one item per multipart copy in progress (key: the destination key).

An item names the upload (its id, the part plan, which client writes it) and the source version it copies,
and collects the numbers of the parts that are in it. Every write is conditional on the upload id, so two
invocations can never fork one upload: the item is created only if none exists, parts are added and the
completion is claimed only while the item still names that upload, and it is deleted the same way.

Why part *numbers* and not each part's ETag and checksum: a 5 TiB object has up to 10,000 parts, and
10,000 (ETag, checksum) pairs do not fit DynamoDB's 400 KB item limit, while 10,000 numbers take about
50 KB. S3's ListParts is the source of truth for the ETags and checksums anyway (a part copied twice by
duplicate deliveries keeps the ETag of the last copy); the numbers say how far the upload is, and when the
last part of a fanned-out upload is in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hydration.aws.dynamo import batch_get, conditional, from_item, to_item, values
from hydration.models import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The consumer bucket's lifecycle rule aborts an upload a day after it started; its item outlives it a day.
DEFAULT_TTL = timedelta(days=2)


@dataclass(frozen=True)
class UploadRecord:
    bucket: str  # the destination bucket
    key: str  # the destination key
    upload_id: str
    mode: str  # "server-side" (the producer role writes the upload) or "stream" (the copier's own role)
    source_bucket: str
    source_key: str
    source_etag: str
    source_last_modified: datetime
    source_version_id: str | None
    size: int
    part_size: int
    part_count: int
    checksum_algorithm: str  # the upload's full-object CRC
    source_checksum: str | None  # the source's full-object checksum ("CRC32:<base64>"), if it has one
    created_at: datetime
    updated_at: datetime
    parts: frozenset[int] = frozenset()  # parts known to be in the upload
    completing_until: datetime | None = None  # a completion claim, held until then

    def to_item(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "bucket": self.bucket,
            "key": self.key,
            "upload_id": self.upload_id,
            "mode": self.mode,
            "source_bucket": self.source_bucket,
            "source_key": self.source_key,
            "source_etag": self.source_etag,
            "source_last_modified": iso(self.source_last_modified),
            "source_version_id": self.source_version_id,
            "size": self.size,
            "part_size": self.part_size,
            "part_count": self.part_count,
            "checksum_algorithm": self.checksum_algorithm,
            "source_checksum": self.source_checksum,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "parts": set(self.parts) or None,  # DynamoDB has no empty sets
        }
        return to_item(data)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> UploadRecord:
        return cls.from_data(from_item(item))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> UploadRecord:
        """From the item as plain values (what `batch_get` returns)."""
        completing = data.get("completing_until")
        return cls(
            bucket=data["bucket"],
            key=data["key"],
            upload_id=data["upload_id"],
            mode=data["mode"],
            source_bucket=data["source_bucket"],
            source_key=data["source_key"],
            source_etag=data["source_etag"],
            source_last_modified=datetime.fromisoformat(data["source_last_modified"]),
            source_version_id=data.get("source_version_id"),
            size=data["size"],
            part_size=data["part_size"],
            part_count=data["part_count"],
            checksum_algorithm=data["checksum_algorithm"],
            source_checksum=data.get("source_checksum"),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            parts=frozenset(data.get("parts", ())),
            completing_until=datetime.fromisoformat(completing) if completing else None,
        )

    @property
    def bytes_done(self) -> int:
        last = self.part_count
        return sum(self.part_size if n != last else self.size - (last - 1) * self.part_size for n in self.parts)


class UploadStore:
    """The uploads table. Safe to share between threads (the client is)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = client
        self.table = table
        self._ttl = ttl
        self.clock = clock

    def get(self, key: str) -> UploadRecord | None:
        item = self._db.get_item(TableName=self.table, Key=to_item({"key": key}), ConsistentRead=True).get("Item")
        return UploadRecord.from_item(item) if item else None

    def get_many(self, keys: list[str]) -> dict[str, UploadRecord]:
        """The records of these keys, by key (those that have one; BatchGetItem, consistent reads)."""
        items = batch_get(self._db, {self.table: [{"key": key} for key in keys]}, consistent=True)[self.table]
        return {item["key"]: UploadRecord.from_data(item) for item in items}

    def __iter__(self) -> Iterator[UploadRecord]:
        for page in self._db.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True):
            for item in page.get("Items", []):
                yield UploadRecord.from_item(item)

    def _held(self, write: Callable[..., Any], **request: Any) -> Any:
        """One conditional write on the table: its response, or None if its condition did not hold."""
        return conditional(lambda: write(TableName=self.table, **request))

    def _on_upload(
        self,
        write: Callable[..., Any],
        key: str,
        upload_id: str,
        *,
        condition: str = "",
        named: dict[str, Any] | None = None,
        **request: Any,
    ) -> Any:
        """A conditional write on the key's item while it names `upload_id` (and `condition` holds); None if
        not. `named`: more ExpressionAttributeValues."""
        return self._held(
            write,
            Key=to_item({"key": key}),
            ConditionExpression="upload_id = :u" + (f" AND ({condition})" if condition else ""),
            ExpressionAttributeValues={**values(u=upload_id), **(named or {})},
            **request,
        )

    def create(self, record: UploadRecord) -> bool:
        """Record a new upload; False if the key already has one (another invocation was first)."""
        item = record.to_item()
        item["ttl"] = {"N": str(int((record.created_at + self._ttl).timestamp()))}
        created = self._held(
            self._db.put_item,
            Item=item,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
        )
        return created is not None

    def add_parts(self, key: str, upload_id: str, numbers: set[int]) -> frozenset[int] | None:
        """Add parts (idempotent); the parts now recorded, or None if the key no longer records this upload."""
        response = self._on_upload(
            self._db.update_item,
            key,
            upload_id,
            UpdateExpression="ADD parts :n SET updated_at = :now",
            named=values(n=set(numbers), now=iso(self.clock())),
            ReturnValues="UPDATED_NEW",
        )
        return None if response is None else frozenset(from_item(response["Attributes"])["parts"])

    def claim_completion(self, key: str, upload_id: str, lease: timedelta) -> bool:
        """Take the right to complete this upload until `lease` from now; False if another holds it."""
        now = self.clock()
        claimed = self._on_upload(
            self._db.update_item,
            key,
            upload_id,
            UpdateExpression="SET completing_until = :until",
            condition="attribute_not_exists(completing_until) OR completing_until < :now",
            named=values(until=iso(now + lease), now=iso(now)),
        )
        return claimed is not None

    def release_completion(self, key: str, upload_id: str) -> None:
        self._on_upload(self._db.update_item, key, upload_id, UpdateExpression="REMOVE completing_until")

    def delete(self, key: str, upload_id: str) -> bool:
        """Forget the upload; False if the key no longer records it (someone else already did)."""
        return self._on_upload(self._db.delete_item, key, upload_id) is not None
