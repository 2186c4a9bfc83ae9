"""The manifest: what the consumer bucket holds, per source key (partition key `key`): the source version
(ETag and LastModified) it was copied from, the destination prefix, its size and the copy's checksum, and
when the copy wrote the consumer object (`written_after`, `written_before`).

Entries are written one conditional PutItem each (BatchWriteItem takes no conditions): an entry replaces
the one there only if that is what the consumer bucket now holds (`ManifestEntry.precedence`): the same
version, the entry this copy read before it began, or a copy whose write to the consumer object ended
before this one's began. A copy that lost
(another copy's write came later) leaves the entry as it is; two copies of different versions that wrote
at once are returned as contested (the copier puts the key in the failure ledger, the next run copies it
again). DynamoDB bills a write per item whichever call carries it; the cost is requests (one per entry,
sent side by side) instead of one per 25 entries: docs/benchmark.md has the measurement.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from hydration.aws.dynamo import TableStore, batch_get, conditional_failed, from_item, retry_conflicts, to_item, values
from hydration.aws.ledger import FailureLedger
from hydration.models import FailureRecord, ManifestEntry, Precedence, iso
from hydration.models.state import WRITE_CLOCK_MARGIN

WRITES_IN_FLIGHT = 8
ATTEMPTS = 4  # an entry that changes between our conditional write and our reading of it: decide again


class Manifest(TableStore):
    def get_many(self, keys: Iterable[str], *, consistent: bool = False) -> dict[str, ManifestEntry]:
        """The entries of these keys (BatchGetItem, 100 keys a call)."""
        items = batch_get(self._db, {self._table: [{"key": key} for key in keys]}, consistent=consistent)[self._table]
        return {item["key"]: ManifestEntry.model_validate(item) for item in items}

    def get_with_failures(
        self, ledger: FailureLedger, keys: Iterable[str]
    ) -> tuple[dict[str, ManifestEntry], dict[str, FailureRecord]]:
        """The manifest entries and the ledger entries of these keys, in one BatchGetItem over both tables,
        eventually consistent (`StateStores.lookup` says why that is enough)."""
        wanted = [{"key": key} for key in keys]
        items = batch_get(self._db, {self._table: wanted, ledger.table: wanted}, consistent=False)
        entries = {item["key"]: ManifestEntry.model_validate(item) for item in items[self._table]}
        failures = {item["key"]: FailureRecord.model_validate(item) for item in items[ledger.table]}
        return entries, failures

    def put_many(self, entries: list[ManifestEntry]) -> list[ManifestEntry]:
        """Write each entry where it says what the consumer holds; the contested ones (see the module)."""
        if len(entries) <= 1:
            verdicts = [self.put(entry) for entry in entries]
        else:
            workers = min(WRITES_IN_FLIGHT, len(entries))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="manifest") as pool:
                verdicts = list(pool.map(self.put, entries))
        return [entry for entry, verdict in zip(entries, verdicts, strict=True) if verdict is Precedence.CONTESTED]

    def put(self, entry: ManifestEntry) -> Precedence:
        """One conditional PutItem: WRITE (written), KEEP (a later copy's entry stays) or CONTESTED."""
        condition, named = _condition(entry)
        for _ in range(ATTEMPTS):
            try:
                retry_conflicts(
                    lambda: self._db.put_item(
                        TableName=self._table,
                        Item=to_item(_item(entry)),
                        ConditionExpression=condition,
                        ExpressionAttributeNames={"#k": "key"},
                        ExpressionAttributeValues=values(**named),
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
                )
                return Precedence.WRITE
            except ClientError as exc:
                if not conditional_failed(exc):
                    raise
                old = self._old(entry.key, exc)
            verdict = entry.precedence(old)
            if verdict is not Precedence.WRITE:  # else the entry changed since the condition was evaluated
                return verdict
        return Precedence.CONTESTED

    def _old(self, key: str, exc: ClientError) -> ManifestEntry | None:
        item: Any = exc.response.get("Item")
        if item is None:
            item = self._db.get_item(TableName=self._table, Key=to_item({"key": key}), ConsistentRead=True).get("Item")
        return ManifestEntry.model_validate(from_item(item)) if item else None


def _condition(entry: ManifestEntry) -> tuple[str, dict[str, Any]]:
    """The WRITE cases of `ManifestEntry.precedence`, as a ConditionExpression."""
    named: dict[str, Any] = {}
    clauses = ["attribute_not_exists(#k)"]
    if entry.last_modified is not None:
        named["etag"] = entry.etag
        named["second"] = iso(entry.last_modified)[:19]  # YYYY-MM-DDTHH:MM:SS: S3 keeps LastModified to the second
        named["lm"] = iso(entry.last_modified)
        clauses.append("(etag = :etag AND begins_with(last_modified, :second))")
    version_order = "attribute_not_exists(last_modified)" + (
        " OR last_modified <= :lm" if entry.last_modified is not None else ""
    )
    if entry.replaces is not None:  # the entry read before this copy began, still there
        named["seen"] = entry.replaces
        clauses.append("copied_at = :seen")
    if entry.written_after is not None and entry.written_before is not None:
        named["after"] = iso(entry.written_after - WRITE_CLOCK_MARGIN)
        clauses.append("written_before < :after")
        clauses.append(f"(attribute_not_exists(written_before) AND ({version_order}))")
    else:
        clauses.append(f"({version_order})")
    return " OR ".join(clauses), named


def _item(entry: ManifestEntry) -> dict[str, Any]:
    data = entry.model_dump(mode="json", exclude_none=True)
    data["copied_at"] = iso(entry.copied_at)
    for name in ("last_modified", "written_after", "written_before"):
        moment = getattr(entry, name)
        if moment is not None:
            data[name] = iso(moment)
    return data
