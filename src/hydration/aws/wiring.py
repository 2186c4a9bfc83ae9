"""The state stores and the run closer, built once per container from the functions' settings (the
handlers' dependency factories call these; the CLI builds the same stores from the stack's outputs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hydration.aws import clients
from hydration.aws.books import BooksStore
from hydration.aws.deletions import DeletionStore
from hydration.aws.events import RunEvents
from hydration.aws.ledger import FailureLedger
from hydration.aws.manifest import Manifest
from hydration.aws.runs import RunStore
from hydration.aws.s3 import MarkerObject
from hydration.aws.shards import ShardStore
from hydration.closing import Closing
from hydration.models import FailureRecord, ManifestEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from hydration.settings import _Base


@dataclass(frozen=True)
class StateStores:
    runs: RunStore
    books: BooksStore
    ledger: FailureLedger
    manifest: Manifest
    shards: ShardStore
    deletions: DeletionStore

    @classmethod
    def of(
        cls, db: DynamoDBClient, *, runs: str, books: str, failures: str, manifest: str, ttl_days: int = 30
    ) -> StateStores:
        book_store = BooksStore(db, books, ttl_days)
        return cls(
            runs=RunStore(db, runs, book_store),
            books=book_store,
            ledger=FailureLedger(db, failures),
            manifest=Manifest(db, manifest),
            shards=ShardStore(db, books, runs, ttl_days),
            deletions=DeletionStore(db, books, manifest, ttl_days),
        )

    # The lookups below read eventually consistent (half a read unit an item, where a consistent read is one):
    # a stale answer is an older one, never a newer one (the manifest only moves forward: a conditional
    # write keeps a later copy's entry), so at worst a key is copied again (a redelivery moments after the
    # first copy landed: idempotent, the books settle it once) or a ledger entry read a moment too early is
    # cleared by the next run's copy of it instead. Nothing is skipped that the consumer does not hold.

    def lookup(self, keys: Iterable[str]) -> tuple[dict[str, ManifestEntry], dict[str, FailureRecord]]:
        """The manifest and ledger entries of these keys (the copier per batch, the finalizer's DLQ pass, an
        inventory file's worker per batch of rows)."""
        return self.manifest.get_with_failures(self.ledger, keys)

    def held(self, keys: Iterable[str]) -> dict[str, ManifestEntry]:
        """The manifest entries alone: for a caller that has read the ledger already (a planner worker)."""
        return self.manifest.get_many(keys, consistent=False)


def state_stores(settings: _Base) -> StateStores:
    return StateStores.of(
        clients.dynamodb(),
        runs=settings.runs_table,
        books=settings.books_table,
        failures=settings.failures_table,
        manifest=settings.manifest_table,
        ttl_days=settings.run_ttl_days,
    )


def closing(settings: _Base, stores: StateStores) -> Closing:
    return Closing(
        runs=stores.runs,
        ledger=stores.ledger,
        marker=MarkerObject(clients.s3(), settings.consumer_bucket, settings.consumer_kms_key_id),
        events=RunEvents(clients.events()),
    )
