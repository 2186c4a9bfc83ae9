"""In-memory stand-ins for the ports (`hydration.ports`) and for the few boto3 calls the planner makes
itself, honouring the same contracts as the adapters (the unit tier uses them; the moto tier tests the
adapters)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from hydration.errors import CheckpointMovedError, RunAlreadyActiveError, RunNotFoundError
from hydration.keyspace import KeyRange
from hydration.marker import Marker
from hydration.models import (
    Books,
    FailureRecord,
    KeptCut,
    ManifestEntry,
    Origin,
    Precedence,
    QueueDepth,
    RunRecord,
    RunStatus,
    Settlement,
    Shard,
    ShardMessage,
    ShardStatus,
    Sheet,
    Task,
)


class FakeListingS3:
    """ListObjectsV2 over a dict of key -> (size, etag, last_modified), paginated, key-ordered; no uploads in
    flight unless `uploads` names some (key -> initiated)."""

    def __init__(
        self, objects: dict[str, tuple[int, str, datetime]], uploads: dict[str, datetime] | None = None
    ) -> None:
        self.objects = objects
        self.uploads = uploads or {}
        self.list_calls = 0  # every ListObjectsV2 call
        self.probes = 0  # those of one key
        self.discoveries = 0  # those with a delimiter

    def get_paginator(self, name: str) -> Any:
        if name == "list_multipart_uploads":
            return _Uploads(self.uploads)
        assert name == "list_objects_v2"
        return self

    def list_objects_v2(
        self,
        Bucket: str,
        Prefix: str = "",
        MaxKeys: int = 1000,
        ContinuationToken: str | None = None,
        StartAfter: str | None = None,
        Delimiter: str | None = None,
    ) -> dict[str, Any]:
        """One page: keys after StartAfter, from the (opaque) position the continuation token names; with a
        Delimiter, the common prefixes one level down (one page, as the planner asks for)."""
        self.list_calls += 1
        if Delimiter:
            self.discoveries += 1
            tails = [k[len(Prefix) :] for k in self.objects if k.startswith(Prefix)]
            below = sorted({tail.split(Delimiter, 1)[0] for tail in tails if Delimiter in tail})
            return {"CommonPrefixes": [{"Prefix": Prefix + p + Delimiter} for p in below[:1000]]}
        if MaxKeys == 1:
            self.probes += 1
        keys = sorted(k for k in self.objects if k.startswith(Prefix) and (StartAfter is None or k > StartAfter))
        start = int(ContinuationToken or 0)
        chunk = keys[start : start + MaxKeys]
        page: dict[str, Any] = {
            "Contents": [
                {"Key": k, "Size": self.objects[k][0], "ETag": self.objects[k][1], "LastModified": self.objects[k][2]}
                for k in chunk
            ],
            "IsTruncated": start + MaxKeys < len(keys),
        }
        if page["IsTruncated"]:
            page["NextContinuationToken"] = str(start + MaxKeys)
        return page

    def paginate(self, Bucket: str, Prefix: str = "", PaginationConfig: dict | None = None, **kw: Any) -> Iterator:
        config = PaginationConfig or {}
        size = config.get("PageSize", 1000)
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        start = int(config.get("StartingToken") or 0)
        while True:
            self.list_calls += 1
            chunk = keys[start : start + size]
            truncated = start + size < len(keys)
            page: dict[str, Any] = {
                "Contents": [
                    {
                        "Key": k,
                        "Size": self.objects[k][0],
                        "ETag": self.objects[k][1],
                        "LastModified": self.objects[k][2],
                    }
                    for k in chunk
                ],
                "IsTruncated": truncated,
            }
            if truncated:
                page["NextContinuationToken"] = str(start + size)
            yield page
            if not truncated:
                return
            start += size


class _Uploads:
    def __init__(self, uploads: dict[str, datetime]) -> None:
        self._uploads = uploads

    def paginate(self, Bucket: str, Prefix: str = "") -> Iterator[dict[str, Any]]:
        yield {"Uploads": [{"Key": k, "Initiated": t} for k, t in self._uploads.items() if k.startswith(Prefix)]}


class FakeSqs:
    """SendMessageBatch into a list; entries naming a key in `fail_first` are reported Failed the first time,
    in `fail_always` every time."""

    def __init__(self, fail_first: set[str] | None = None, fail_always: set[str] | None = None) -> None:
        self.bodies: list[str] = []
        self.fail_first = set(fail_first or ())
        self.fail_always = set(fail_always or ())
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        assert len(Entries) <= 10
        ok, failed = [], []
        for entry in Entries:
            keys = {obj["key"] for obj in json.loads(entry["MessageBody"])["objects"]}
            if keys & (self.fail_always | self.fail_first):
                self.fail_first -= keys
                failed.append(
                    {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                )
            else:
                self.bodies.append(entry["MessageBody"])
                ok.append({"Id": entry["Id"], "MessageId": "m", "MD5OfMessageBody": "x"})
        return {"Successful": ok, "Failed": failed}

    def keys(self) -> list[str]:
        return [obj["key"] for body in self.bodies for obj in json.loads(body)["objects"]]


class FakeBooks:
    """The books port, as the books table keeps it: sheets of slots, claims, counters. A transaction is atomic
    (under one lock): a claim that exists leaves its key out of its sheet, an existing sheet raises, an `also`
    that does not hold raises CheckpointMovedError and nothing is written; a slot settles once, if it names
    the key. `open_faults`/`settle_faults`: callables run before a transaction commits (raise to fail it)."""

    def __init__(self) -> None:
        self.sheets: dict[tuple[str, str], Sheet] = {}
        self.claims: set[tuple[str, str]] = set()
        self.totals: dict[str, dict[str, int]] = {}
        self.open_faults: list[Callable[[], None]] = []
        self.settle_faults: list[Callable[[], None]] = []
        self._lock = threading.RLock()

    def _count(self, run_id: str, counts: dict[str, int]) -> None:
        totals = self.totals.setdefault(run_id, {})
        for name, n in counts.items():
            totals[name] = totals.get(name, 0) + n

    def open(self, run_id: str, sheets: Sequence[Sheet], *, also: Sequence[Any] = ()) -> list[Sheet]:
        with self._lock:
            if self.open_faults:
                self.open_faults.pop(0)()
            named = [t.key for sheet in sheets for t in sheet.tasks if t.claimed]
            ids = [sheet.id for sheet in sheets]
            if len(set(named)) < len(named) or len(set(ids)) < len(ids):
                raise ValueError("ValidationException: two actions of a transaction on one item")
            claimed = {t.key for sheet in sheets for t in sheet.tasks if t.claimed and (run_id, t.key) in self.claims}
            kept = [left for sheet in sheets if (left := sheet.without(claimed)) is not None]
            exists = any((run_id, sheet.id) in self.sheets for sheet in kept)
            if not all(action.holds() for action in also) or (exists and also):
                raise CheckpointMovedError(f"run {run_id}: the checkpoint moved")
            if exists:
                raise RuntimeError("a sheet id exists")
            for sheet in kept:
                self.sheets[(run_id, sheet.id)] = sheet
                self.claims |= {(run_id, t.key) for t in sheet.tasks if t.claimed}
            for action in also:
                action.apply()
            self._count(
                run_id,
                {
                    "keys_enqueued": sum(len(s.tasks) for s in kept),
                    "bytes_enqueued": sum(t.size for s in kept for t in s.tasks),
                    "ledger_keys_enqueued": sum(1 for s in kept for t in s.tasks if t.origin is Origin.LEDGER),
                    "sheets": len(kept),
                    "claims": sum(1 for s in kept for t in s.tasks if t.claimed),
                    "book_transactions": 1 if kept else 0,
                },
            )
            return kept

    def settle(self, run_id: str, settlements: Sequence[Settlement]) -> list[Settlement]:
        with self._lock:
            if self.settle_faults:
                self.settle_faults.pop(0)()
            settled: list[Settlement] = []
            for s in settlements:
                sheet = self.sheets.get((run_id, s.sheet or ""))
                if sheet is None or s.slot is None or s.slot >= len(sheet.tasks) or s.slot in sheet.outcomes:
                    continue
                if sheet.tasks[s.slot].key != s.key:
                    continue
                outcomes = sheet.outcomes | {s.slot: s.outcome}
                self.sheets[(run_id, sheet.id)] = sheet.model_copy(
                    update={"outcomes": outcomes, "settled_at": datetime.now(UTC)}
                )
                settled.append(s)
                self._count(
                    run_id,
                    {
                        s.outcome.counter: 1,
                        "bytes_transferred": s.bytes,
                        "s3_requests": s.requests,
                        "copy_ms": s.copy_ms,
                    },
                )
            if settled:
                self._count(run_id, {"sheet_settles": len({s.sheet for s in settled}), "book_transactions": 1})
            return settled

    def add_costs(self, run_id: str, *, requests: int, copy_ms: int) -> None:
        with self._lock:
            self._count(run_id, {"s3_requests": requests, "copy_ms": copy_ms})

    def run_sheets(self, run_id: str) -> list[Sheet]:
        return [sheet for (r, _), sheet in sorted(self.sheets.items()) if r == run_id]

    def tasks(self, run_id: str) -> dict[str, list[Task]]:
        """Every key of the run's books: its tasks (a key opened twice would show twice)."""
        found: dict[str, list[Task]] = {}
        for sheet in self.run_sheets(run_id):
            for task in sheet.settled_tasks():
                found.setdefault(task.key, []).append(task)
        return found

    def unsettled(self, run_id: str) -> Iterator[Task]:
        return iter([task for sheet in self.run_sheets(run_id) for task in sheet.unsettled()])

    def counters(self, run_id: str) -> Books:
        totals = self.totals.get(run_id, {})
        return Books(**{name: totals.get(name, 0) for name in Books.COUNTERS})


class FakeRuns:
    """The runs port in memory, its counters read from a FakeBooks."""

    def __init__(self, books: FakeBooks | None = None) -> None:
        self.books = books or FakeBooks()
        self.runs: dict[str, RunRecord] = {}
        self.lock: str | None = None
        self.claims: dict[str, tuple[str, datetime]] = {}
        self._guard = threading.RLock()

    def get(self, run_id: str) -> RunRecord:
        if run_id not in self.runs:
            raise RunNotFoundError(run_id)
        return self.runs[run_id].model_copy(update=self.books.counters(run_id).model_dump(), deep=True)

    def active(self) -> RunRecord | None:
        return self.get(self.lock) if self.lock else None

    def create(self, run: RunRecord) -> None:
        if run.dry_run:
            self.runs[run.run_id] = run.model_copy(deep=True)
            return
        if self.lock:
            active = self.runs[self.lock]
            raise RunAlreadyActiveError(active.run_id, active.status.value)
        self.lock = run.run_id
        self.runs[run.run_id] = run.model_copy(deep=True)

    def record_unstarted(self, run: RunRecord) -> bool:
        if run.run_id in self.runs:
            return False
        self.runs[run.run_id] = run.model_copy(deep=True)
        return True

    def planning_check(self, run: RunRecord) -> FakePlanningCheck:
        return FakePlanningCheck(self, run.run_id)

    def heartbeat(self, run: RunRecord) -> bool:
        with self._guard:
            stored = self.runs[run.run_id]
            if stored.status is not RunStatus.PLANNING:
                return False
            stored.heartbeat_at = datetime.now(UTC)
            return True

    def finish_planning(self, run: RunRecord) -> bool:
        """The run item's condition: still planning, cut, and no shard open (the totals come with it)."""
        from hydration.aws.planning import PLANNING_TOTALS

        with self._guard:
            stored = self.runs[run.run_id]
            if stored.status is not RunStatus.PLANNING or not stored.shards_cut or stored.shards_open:
                return False
            for name in (*PLANNING_TOTALS, "sample_keys", "drift", "deletes_refused"):
                setattr(stored, name, getattr(run, name))
            stored.status = RunStatus.COMPLETED if stored.dry_run else RunStatus.DRAINING
            stored.planning_complete = True
            if stored.dry_run:
                stored.ended_at = datetime.now(UTC)
            return True

    def shard_counters(self, run_id: str, opened: int, *, cut: bool = False, probes: int = 0) -> bool:
        """What ShardStore does to the run item in its transactions (call under the guard)."""
        stored = self.runs[run_id]
        if stored.status is not RunStatus.PLANNING or stored.shards_cut is cut:  # cut once; then only when cut
            return False
        stored.shards_cut = True
        stored.shards_open += opened
        stored.shards_total += max(opened, 0)
        if cut:
            stored.probes = probes
        return True

    def fail(self, run_id: str, error: str) -> bool:
        with self._guard:
            if self.runs[run_id].status is not RunStatus.PLANNING:
                return False
            self.runs[run_id] = self.runs[run_id].model_copy(update={"status": RunStatus.FAILED, "error": error})
            self.release_lock(run_id)
            return True

    def cancel(self, run_id: str, reason: str) -> bool:
        with self._guard:
            if not self.runs[run_id].status.active:
                return False
            self.runs[run_id] = self.runs[run_id].model_copy(update={"status": RunStatus.CANCELLED, "error": reason})
            self.release_lock(run_id)
            return True

    def release_lock(self, run_id: str) -> None:
        if self.lock == run_id:
            self.lock = None

    def set_drain_seen(self, run_id: str, seen: datetime | None) -> None:
        self.runs[run_id] = self.runs[run_id].model_copy(update={"drain_seen_empty_at": seen})

    def claim(self, run_id: str, claimant: str, stale_after: timedelta) -> bool:
        run = self.runs[run_id]
        held = self.claims.get(run_id)
        now = datetime.now(UTC)
        if run.status is not RunStatus.DRAINING or not run.planning_complete:
            return False
        if held is not None and held[1] >= now - stale_after:
            return False
        self.claims[run_id] = (claimant, now)
        return True

    def release_claim(self, run_id: str, claimant: str) -> None:
        if self.claims.get(run_id, ("",))[0] == claimant:
            del self.claims[run_id]

    def close(
        self,
        run_id: str,
        claimant: str,
        status: RunStatus,
        failed_count: int,
        marker: datetime | None,
        unsettled_swept: int = 0,
    ) -> None:
        assert self.claims.pop(run_id)[0] == claimant
        assert self.runs[run_id].status is RunStatus.DRAINING
        self.runs[run_id] = self.runs[run_id].model_copy(
            update={
                "status": status,
                "failed_count": failed_count,
                "marker_written": marker,
                "unsettled_swept": unsettled_swept,
                "ended_at": datetime.now(UTC),
            }
        )
        self.release_lock(run_id)


class FakeLedger:
    def __init__(self, failures: list[FailureRecord] | None = None) -> None:
        self.failures = {f.key: f for f in failures or []}
        self.table = "failures"
        self.scans = 0  # reads of the whole ledger

    def __iter__(self) -> Iterator[FailureRecord]:
        """As the adapter: the retryable entries only (archived keys without a restore requested are left)."""
        self.scans += 1
        return iter([f for f in self.failures.values() if f.retryable])

    def archived(self) -> Iterator[FailureRecord]:
        return iter([f for f in self.failures.values() if f.archived])

    def within(self, key_range: KeyRange) -> Iterator[FailureRecord]:
        """As the adapter's filtered scan: a read of the whole ledger that returns the range's entries."""
        return (failure for failure in self if key_range.holds(failure.key))

    def entries(self) -> Iterator[FailureRecord]:
        return iter(list(self.failures.values()))

    def request_restore(self, key: str, at: datetime) -> FailureRecord | None:
        found = self.failures.get(key)
        if found is None or not found.archived:
            return None
        self.failures[key] = found.model_copy(update={"restore_requested_at": at})
        return self.failures[key]

    def record(self, failure: FailureRecord) -> None:
        first = self.failures[failure.key].first_failed_at if failure.key in self.failures else failure.failed_at
        self.failures[failure.key] = failure.model_copy(update={"first_failed_at": first})

    def ensure(self, failure: FailureRecord) -> bool:
        if failure.key in self.failures:
            return False
        self.failures[failure.key] = failure
        return True

    def clear(self, key: str, seen_failed_at: datetime) -> bool:
        if key in self.failures and self.failures[key].failed_at == seen_failed_at:
            del self.failures[key]
            return True
        return False

    def get(self, key: str) -> FailureRecord | None:
        return self.failures.get(key)


class FakeManifest:
    def __init__(self, entries: dict[str, ManifestEntry] | None = None, ledger: FakeLedger | None = None) -> None:
        self.entries = entries or {}
        self.ledger = ledger or FakeLedger()
        self.reads: list[tuple[str, int]] = []  # ("both" | "manifest", keys) per read

    def lookup(self, keys: Iterable[str]) -> tuple[dict[str, ManifestEntry], dict[str, FailureRecord]]:
        """Both tables, in one read (what `StateStores.lookup` does)."""
        keys = list(keys)
        self.reads.append(("both", len(keys)))
        held = {k: self.entries[k] for k in keys if k in self.entries}
        failed = {k: f for k in keys if (f := self.ledger.get(k)) is not None}
        return held, failed

    def held(self, keys: Iterable[str]) -> dict[str, ManifestEntry]:
        """The manifest alone (what `StateStores.held` does)."""
        keys = list(keys)
        self.reads.append(("manifest", len(keys)))
        return {k: self.entries[k] for k in keys if k in self.entries}

    def put_many(self, entries: list[ManifestEntry]) -> list[ManifestEntry]:
        contested = []
        for entry in entries:
            verdict = entry.precedence(self.entries.get(entry.key))
            if verdict is Precedence.WRITE:
                self.entries[entry.key] = entry
            elif verdict is Precedence.CONTESTED:
                contested.append(entry)
        return contested


class FakeMarker:
    def __init__(self, marker: Marker | None = None, fail_writes: int = 0) -> None:
        self.marker = marker
        self.fail_writes = fail_writes
        self.writes: list[Marker] = []

    def read(self) -> Marker | None:
        return self.marker

    def write(self, marker: Marker) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "PutObject")
        self.marker = marker
        self.writes.append(marker)


class FakeEvents:
    def __init__(self) -> None:
        self.ended: list[RunRecord] = []

    def run_ended(self, run: RunRecord) -> None:
        self.ended.append(run)


class RecordingContinuation:
    """Stands in for the planner's self-invocation: records the run ids it was asked to continue."""

    def __init__(self) -> None:
        self.run_ids: list[str] = []

    def continue_run(self, run_id: str) -> None:
        self.run_ids.append(run_id)


class FakeShards:
    """The shards port in memory, with the adapter's conditions: a write needs the lease and the version read;
    creating, splitting and finishing move the run's counters on the FakeRuns in the same step."""

    def __init__(self, runs: FakeRuns, clock: Any = None) -> None:
        self.runs = runs
        self.shards: dict[tuple[str, str], Shard] = {}
        self.kept: dict[str, KeptCut] = {}
        self.clock = clock or (lambda: datetime.now(UTC))
        self._guard = runs._guard

    def _stored(self, shard: Shard) -> Shard | None:
        return self.shards.get((shard.run_id, shard.shard_id))

    def cut(self, run_id: str, shards: list[Shard], probes: int = 0) -> bool:
        with self._guard:
            if any((run_id, s.shard_id) in self.shards for s in shards):
                return False
            if not self.runs.shard_counters(run_id, len(shards), cut=True, probes=probes):
                return False
            for shard in shards:
                self.shards[(run_id, shard.shard_id)] = shard.model_copy(deep=True)
            return True

    def add(self, shard: Shard) -> bool:
        with self._guard:
            if self._stored(shard) is not None or not self.runs.shard_counters(shard.run_id, 1):
                return False
            self.shards[(shard.run_id, shard.shard_id)] = shard.model_copy(deep=True)
            return True

    def get(self, run_id: str, shard_id: str) -> Shard | None:
        with self._guard:
            found = self.shards.get((run_id, shard_id))
            return found.model_copy(deep=True) if found is not None else None

    def of_run(self, run_id: str) -> list[Shard]:
        with self._guard:
            return [s.model_copy(deep=True) for (r, _), s in sorted(self.shards.items()) if r == run_id]

    def open_count(self, run_id: str) -> int:
        return self.runs.runs[run_id].shards_open

    def claim(self, shard: Shard, owner: str, until: datetime) -> Shard | None:
        with self._guard:
            stored = self._stored(shard)
            now = self.clock()
            if stored is None or stored.status is not ShardStatus.OPEN:
                return None
            if stored.owner not in (None, owner) and stored.lease_until is not None and stored.lease_until >= now:
                return None
            stored.owner, stored.lease_until, stored.version = owner, until, stored.version + 1
            return stored.model_copy(deep=True)

    def _write(self, shard: Shard, **changes: Any) -> bool:
        """The conditional progress write (call under the guard)."""
        stored = self._stored(shard)
        if stored is None or stored.owner != shard.owner or stored.version != shard.version:
            return False
        shard.version += 1
        for name, value in changes.items():
            setattr(shard, name, value)
        self.shards[(shard.run_id, shard.shard_id)] = shard.model_copy(deep=True)
        return True

    def save(self, shard: Shard, until: datetime) -> bool:
        with self._guard:
            return self._write(shard, lease_until=until)

    def checkpoint_action(self, shard: Shard, expected: int, until: datetime) -> FakeShardCheckpoint:
        return FakeShardCheckpoint(self, shard.model_copy(update={"version": expected}, deep=True), until)

    def hand_on(self, shard: Shard) -> bool:
        with self._guard:
            shard.hand_ons += 1
            return self._write(shard, owner=None, lease_until=None, dispatched_at=self.clock())

    def release(self, shard: Shard) -> bool:
        with self._guard:
            stored = self._stored(shard)
            if stored is None or stored.owner != shard.owner or stored.version != shard.version:
                return False
            stored.owner = stored.lease_until = None
            return True

    def split(self, shard: Shard, upper: Shard) -> bool:
        with self._guard:
            shard.splits += 1
            stored = self._stored(shard)
            if stored is None or stored.owner != shard.owner or stored.version != shard.version:
                return False
            if self._stored(upper) is not None or not self.runs.shard_counters(shard.run_id, 1):
                return False
            self.shards[(upper.run_id, upper.shard_id)] = upper.model_copy(deep=True)
            return self._write(shard)

    def finish(self, shard: Shard) -> bool:
        with self._guard:
            stored = self._stored(shard)
            if stored is None or stored.owner != shard.owner or stored.version != shard.version:
                return False
            if not self.runs.shard_counters(shard.run_id, -1):
                return False
            return self._write(shard, status=ShardStatus.DONE, owner=None, lease_until=None)

    def fail(self, shard: Shard, error: str) -> bool:
        with self._guard:
            stored = self._stored(shard)
            if stored is None or stored.status is not ShardStatus.OPEN:
                return False
            stored.status, stored.error = ShardStatus.FAILED, error
            return True

    def mark_dispatched(self, shard: Shard, now: datetime, quiet: timedelta) -> bool:
        with self._guard:
            stored = self._stored(shard)
            if stored is None or stored.status is not ShardStatus.OPEN:
                return False
            if stored.dispatched_at is not None and stored.dispatched_at >= now - quiet:
                return False
            stored.dispatched_at = now
            return True

    def boundaries(self, scope: str) -> KeptCut:
        return self.kept.get(scope, KeptCut()).model_copy(deep=True)

    def remember(self, scope: str, kept: KeptCut, run_id: str) -> None:
        self.kept[scope] = kept.model_copy(deep=True)


class FakeShardQueue:
    """The planner workers' queue: shard messages in a list (the test decides the order they are worked in);
    shard ids in `lose` are dropped once (a message lost), as if sent."""

    def __init__(self) -> None:
        self.messages: list[ShardMessage] = []
        self.sent = 0
        self.lose: set[str] = set()
        self.delays: list[int] = []

    def __call__(self, run_id: str, shard_ids: list[str]) -> list[str]:
        for shard_id in shard_ids:
            self.sent += 1
            if shard_id in self.lose:
                self.lose.discard(shard_id)
                continue
            self.messages.append(ShardMessage(run_id=run_id, shard_id=shard_id))
        return []

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append(seconds)

    def depth(self) -> QueueDepth:
        return QueueDepth(visible=len(self.messages), in_flight=0, delayed=0)


@dataclass
class FakeShardCheckpoint:
    """A shard's checkpoint action, as FakeBooks.open writes it with its sheets."""

    shards: FakeShards
    shard: Shard  # at the version it expects
    until: datetime

    def holds(self) -> bool:
        with self.shards._guard:
            stored = self.shards._stored(self.shard)
            return stored is not None and stored.owner == self.shard.owner and stored.version == self.shard.version

    def apply(self) -> None:
        with self.shards._guard:
            self.shards._write(self.shard, lease_until=self.until)


@dataclass
class FakePlanningCheck:
    """The runs table's ConditionCheck (the run still PLANNING), as FakeBooks.open checks it."""

    runs: FakeRuns
    run_id: str

    def holds(self) -> bool:
        return self.runs.runs[self.run_id].status is RunStatus.PLANNING

    def apply(self) -> None:
        pass
