"""What a worker knows besides the listing: the failure ledger's keys within its shard's range (read once per
invocation, in key order), and what the manifest says the consumer holds (read per page, 100 keys a call,
a few calls side by side)."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hydration.keyspace import KeyRange
from hydration.models import FailureRecord, ManifestEntry
from hydration.ports import Ledger

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
    """The manifest entries of a page's keys: one BatchGetItem per 100 keys, a few side by side."""

    def __init__(self, held: Callable[[list[str]], dict[str, ManifestEntry]]) -> None:
        self._held = held
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ManifestReads:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __call__(self, keys: list[str]) -> dict[str, ManifestEntry]:
        chunks = [keys[start : start + MANIFEST_CHUNK] for start in range(0, len(keys), MANIFEST_CHUNK)]
        if len(chunks) <= 1:
            return self._held(keys) if keys else {}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=MANIFEST_READS_IN_FLIGHT, thread_name_prefix="manifest")
        found: dict[str, ManifestEntry] = {}
        for part in self._pool.map(self._held, chunks):
            found |= part
        return found
