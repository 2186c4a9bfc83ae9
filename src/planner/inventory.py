"""A run from an S3 Inventory report (opt-in): one shard per data file, read instead of listing the bucket.

A file's worker checks the file's MD5 against the manifest first (a file that does not match is refused:
the shard and the run fail, nothing of it is enqueued), then reads its rows from where the shard stands
(`rows_done`) and selects with the same rule as a listing: `LastModified >= since` (the marker minus the
lookback), and, for objects written by a multipart upload, `LastModified >= since` minus the time an upload
may stay in flight (a multipart object's LastModified is its upload's start: one that completed after the
previous report was made carries a time from before it); a version the manifest says the consumer holds
is not enqueued. The failure ledger's keys are left to the run's ledger shard, so each is enqueued once: a
file is not a key range, so its worker learns which of its selected rows are in the ledger with the read it
makes for the manifest (one BatchGetItem over both tables), instead of reading the whole ledger for every
file. Rows are cheap to skip: their time is compared as text first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from hydration.aws.inventory import read_rows, verified
from hydration.inventory import Row, inventory_time
from hydration.models import Origin, SourceObject
from planner import selecting
from planner.known import ManifestReads
from planner.work import ShardWork, Walked

BATCH = 1000  # rows handled between two chances to checkpoint or hand on (a listing's page)


def walk(work: ShardWork) -> Walked:
    deps, shard = work.deps, work.shard
    assert shard.file is not None
    etag = verified(deps.consumer_s3, shard.file)  # InventoryError: refused before anything is enqueued
    wanted = _selector(work)
    with ManifestReads(deps.held, deps.lookup) as reads:
        batch: list[Row] = []
        for index, row in enumerate(read_rows(deps.consumer_s3, shard.file, etag)):
            if index < shard.rows_done:
                continue
            batch.append(row)
            if len(batch) < BATCH:
                continue
            _handle(work, batch, wanted, reads)
            batch = []
            work.page_done()
            if work.budget.exhausted:
                return Walked.HAND_ON
        _handle(work, batch, wanted, reads)
    return Walked.DONE


def _selector(work: ShardWork) -> Callable[[Row], bool]:
    """The run's rule on a raw row, its time compared as text (the report's format is fixed). A run with
    per-prefix bounds (its scope widened) reads each row's bound from its key."""
    shard = work.shard
    window = timedelta(seconds=work.deps.settings.inventory_multipart_window_seconds)
    if shard.bounds:
        rules: dict[datetime | None, Callable[[Row], bool]] = {}

        def by_key(row: Row) -> bool:
            since = shard.since_for(row.key)
            if since not in rules:
                rules[since] = _rule(since, window)
            return rules[since](row)

        return by_key
    return _rule(shard.since, window)


def _rule(since: datetime | None, window: timedelta) -> Callable[[Row], bool]:
    if since is None:
        return lambda row: True
    bound, multipart_bound = inventory_time(since), inventory_time(since - window)
    return lambda row: row.last_modified >= bound or (row.multipart and row.last_modified >= multipart_bound)


def _handle(work: ShardWork, batch: list[Row], wanted: Callable[[Row], bool], reads: ManifestReads) -> None:
    """Decide the batch's rows, then hand them over in order, the shard's `rows_done` and counts moved past
    each row before its key is (a checkpoint cut at any row saves exactly what was handed over)."""
    shard, run = work.shard, work.run
    everything = run.prefixes == [""]
    rows: list[tuple[bool, SourceObject | None]] = []  # per row: in scope, the object if selected
    for row in batch:
        in_scope = everything or any(row.key.startswith(prefix) for prefix in run.prefixes)
        obj = row.source_object() if in_scope and wanted(row) else None  # only the selected rows' keys decoded
        rows.append((in_scope, None if obj is not None and obj.key == work.excluded else obj))
    keys = [obj.key for _, obj in rows if obj is not None]
    held, failed = reads.with_failures(keys) if keys else ({}, {})
    in_ledger = {key for key, failure in failed.items() if failure.retryable}  # the ledger shard's to enqueue
    rows = [(in_scope, None if obj is not None and obj.key in in_ledger else obj) for in_scope, obj in rows]
    position = iter(rows)

    def past(key: str | None) -> None:
        """Every row up to the one selected for `key` (None: the rest of the batch) handed over."""
        for in_scope, obj in position:
            shard.rows_done += 1
            shard.rows_read += 1
            shard.keys_listed += in_scope
            if obj is not None:
                shard.keys_selected += 1
                shard.bytes_selected += obj.size
                if key is not None and obj.key == key:
                    return

    selected = [obj for _, obj in rows if obj is not None]
    if run.dry_run:
        selecting.sample(work, selected)
    else:
        selecting.enqueue_changed(work, selected, {} if run.force else held, Origin.LISTING, past)
    past(None)
