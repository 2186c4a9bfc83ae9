"""The manifest: what the consumer bucket holds, per source key (partition key `key`): the source version
(ETag and LastModified) it was copied from, its size and the copy's checksum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hydration.aws.dynamo import TableStore, batch_get, write_batch
from hydration.aws.ledger import FailureLedger
from hydration.models import FailureRecord, ManifestEntry, iso


class Manifest(TableStore):
    def get_many(self, keys: Iterable[str], *, consistent: bool = False) -> dict[str, ManifestEntry]:
        """The entries of these keys (BatchGetItem, 100 keys a call)."""
        items = batch_get(self._db, {self._table: [{"key": key} for key in keys]}, consistent=consistent)[self._table]
        return {item["key"]: ManifestEntry.model_validate(item) for item in items}

    def get_with_failures(
        self, ledger: FailureLedger, keys: Iterable[str]
    ) -> tuple[dict[str, ManifestEntry], dict[str, FailureRecord]]:
        """The manifest entries and the ledger entries of these keys, in one BatchGetItem over both tables
        (the planner reads both per page, the copier per batch)."""
        wanted = [{"key": key} for key in keys]
        items = batch_get(self._db, {self._table: wanted, ledger.table: wanted}, consistent=True)
        entries = {item["key"]: ManifestEntry.model_validate(item) for item in items[self._table]}
        failures = {item["key"]: FailureRecord.model_validate(item) for item in items[ledger.table]}
        return entries, failures

    def put_many(self, entries: list[ManifestEntry]) -> None:
        """One item per key (a batch may copy a key twice: a duplicate delivery); the last one wins."""
        unique = {entry.key: entry for entry in entries}
        write_batch(self._db, {self._table: [_item(entry) for entry in unique.values()]})


def _item(entry: ManifestEntry) -> dict[str, Any]:
    data = entry.model_dump(mode="json", exclude_none=True)
    data["copied_at"] = iso(entry.copied_at)
    if entry.last_modified is not None:
        data["last_modified"] = iso(entry.last_modified)
    return data
