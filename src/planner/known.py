"""What a worker knows besides the listing: the failure ledger's keys within its shard's range (read once per
invocation, in key order), and what the manifest says the consumer holds (read per page, 100 keys a call,
a few calls side by side; an inventory file's worker reads its selected keys' ledger entries with it)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hydration.keyspace import KeyRange
from hydration.models import FailureRecord, ManifestEntry
from hydration.ports import Held, Ledger, Lookup

MANIFEST_CHUNK = 100  # keys per BatchGetItem
MANIFEST_READS_IN_FLIGHT = 4


@dataclass(frozen=True)
class LedgerRange:
    """The ledger's entries whose keys lie in a range, in key order: each is enqueued by the page whose
    interval `(lo, hi]` holds its key (listed or not), so each is enqueued exactly once per run."""

    keys: list[str]
    entries: dict[str, FailureRecord]

    @classmethod
    def read(cls, ledger: Ledger, within: Callable[[str], bool]) -> LedgerRange:
        entries = {failure.key: failure for failure in ledger if within(failure.key)}
        return cls(sorted(entries), entries)

    @classmethod
    def of_range(cls, ledger: Ledger, key_range: KeyRange, in_scope: Callable[[str], bool]) -> LedgerRange:
        """The entries in a shard's range: the ledger's filtered read (only they come back to the worker)."""
        entries = {failure.key: failure for failure in ledger.within(key_range) if in_scope(failure.key)}
        return cls(sorted(entries), entries)

    @classmethod
    def empty(cls) -> LedgerRange:
        return cls([], {})

    def between(self, lo: str | None, hi: str | None) -> dict[str, FailureRecord]:
        """The entries with `lo < key <= hi` (None: unbounded on that side)."""
        start = 0 if lo is None else bisect.bisect_right(self.keys, lo)
        end = len(self.keys) if hi is None else bisect.bisect_right(self.keys, hi)
        return {key: self.entries[key] for key in self.keys[start:end]}

    def __contains__(self, key: str) -> bool:
        return key in self.entries


class ManifestReads:
    """The manifest entries of a page's keys: one BatchGetItem per 100 keys, a few side by side; and, for a
    worker that has not read the ledger of its keys (an inventory file's: a file is not a key range), the
    ledger's entries with them, in the same call (50 keys: 100 items over both tables, a call's limit)."""

    def __init__(self, held: Held, lookup: Lookup | None = None) -> None:
        self._held = held
        self._lookup = lookup
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ManifestReads:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __call__(self, keys: list[str]) -> dict[str, ManifestEntry]:
        found: dict[str, ManifestEntry] = {}
        for part in self._each(self._held, keys, MANIFEST_CHUNK):
            found |= part
        return found

    def with_failures(self, keys: list[str]) -> tuple[dict[str, ManifestEntry], dict[str, FailureRecord]]:
        assert self._lookup is not None, "built without the ledger's lookup"
        held: dict[str, ManifestEntry] = {}
        failed: dict[str, FailureRecord] = {}
        for entries, failures in self._each(self._lookup, keys, MANIFEST_CHUNK // 2):
            held |= entries
            failed |= failures
        return held, failed

    def _each[T](self, read: Callable[[list[str]], T], keys: list[str], size: int) -> Iterator[T]:
        chunks = [keys[start : start + size] for start in range(0, len(keys), size)]
        if len(chunks) <= 1:
            return iter([read(keys)] if keys else [])
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=MANIFEST_READS_IN_FLIGHT, thread_name_prefix="manifest")
        return self._pool.map(read, chunks)
