"""The small shards: the keys an operator named (read with HEAD, side by side), and the failure-ledger keys
that no other shard of the run holds (outside the prefixes it lists; every key, for a run from an inventory
report, whose files are not key ranges). Both go through the same selection rule as a listing; a ledger key
outside the run's scope (narrowed since it failed) is no longer followed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hydration.aws import s3 as s3_adapter
from hydration.models import Origin, SourceObject
from hydration.observability import logger
from planner import selecting
from planner.known import LedgerRange, ManifestReads
from planner.work import ShardWork, Walked

HEADS_IN_FLIGHT = 8


def walk_keys(work: ShardWork) -> Walked:
    """Each named key is read (HEAD) and enqueued, forced if asked; a key that does not exist is logged and
    left out (unless the ledger has it: then its ledger entry is enqueued)."""
    deps, shard = work.deps, work.shard
    wanted = set(shard.keys)

    def head(key: str) -> SourceObject | None:
        found = s3_adapter.head_if_exists(deps.producer_s3, deps.settings.producer_bucket, key)
        if found is None:
            logger.warning("requested key not found in the producer bucket", key=key)
            return None
        return SourceObject(key=key, size=found.size, etag=found.etag, last_modified=found.last_modified)

    after = shard.position  # a retried shard resumes after the last key it handed over, in key order
    todo = sorted(key for key in wanted if after is None or key > after)
    with ThreadPoolExecutor(max_workers=HEADS_IN_FLIGHT, thread_name_prefix="head") as pool:
        found = [obj for obj in pool.map(head, todo) if obj is not None]
    ledger = LedgerRange.read(deps.ledger, lambda key: key in wanted and work.run.in_scope(key))
    with ManifestReads(deps.held) as reads:
        selecting.interval(work, found, ledger.between(after, None), reads, origin=Origin.REQUEST)
    return Walked.DONE


def walk_ledger(work: ShardWork) -> Walked:
    """The ledger's keys outside every prefix the run lists (all of them for an inventory run), in key order
    from the shard's position: each enqueued from its ledger entry."""
    run, shard = work.run, work.shard

    def outside(key: str) -> bool:
        if not run.in_scope(key):  # the scope was narrowed since it failed: no longer followed
            return False
        return run.inventory is not None or not any(key.startswith(prefix) for prefix in run.prefixes)

    ledger = LedgerRange.read(work.deps.ledger, outside)
    with ManifestReads(work.deps.held) as reads:
        selecting.interval(work, [], ledger.between(shard.position, None), reads)
    if ledger.keys:
        shard.position = ledger.keys[-1]
    return Walked.DONE
