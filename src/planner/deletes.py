"""Guarded delete propagation (opt-in, DELETE_MODE soft or hard; off by default).

A consumer object under the destination prefix is deleted only when all of these hold:
- its key was absent from the producer in two consecutive complete listings: the run's listing shards see
  it absent (`sighter`), and the previous run whose listing completed (every shard done) saw it absent too;
- no shard of the run failed (the deletions shard is added only once every listing shard is done);
- the run's candidates stay within MAX_DELETE_COUNT and MAX_DELETE_PERCENT of the keys listed: a run over
  either deletes nothing (each candidate `refused`, the DeletesRefused metric and its alarm);
- a HEAD on the producer answers 404 at delete time (a 200 keeps it: `kept`).
Soft deletes move the object under TRASH_PREFIX (the bucket's lifecycle rule expires it), hard ones delete
it. Each deletion is recorded in the run's books (`<run_id>#deletes`) and listed by `runs report`; a dry run
records what it would delete (`would-delete`) and deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from hydration.aws import s3 as s3_adapter
from hydration.observability import MetricUnit, logger, metrics
from hydration.settings import DeleteMode
from planner.work import ShardWork, Walked


def sighter(work: ShardWork) -> Callable[[list[str]], None]:
    """What a listing shard does with the consumer keys the producer does not have (deletes on)."""
    deletions, run = work.deps.deletions, work.run
    if deletions is None or not run.kind.advances_marker:
        return lambda keys: None

    def sight(keys: list[str]) -> None:
        work.shard.deletes_seen += len(deletions.sight(run, keys))

    return sight


def walk(work: ShardWork) -> Walked:
    deps, run, shard, settings = work.deps, work.run, work.shard, work.deps.settings
    assert deps.deletions is not None
    marked = deps.deletions.of_run(run.run_id)
    pending = sorted(key for key, outcome in marked.items() if outcome == "candidate")
    listed = sum(other.keys_listed for other in deps.shards.of_run(run.run_id))
    refused = _over_a_cap(len(marked), listed, settings.max_delete_count, settings.max_delete_percent)
    if refused is not None:
        logger.error("DeletesRefused: this run deletes nothing", reason=refused, candidates=len(marked))
        metrics.add_metric(name="DeletesRefused", unit=MetricUnit.Count, value=1)
        shard.error = refused
        for key in pending:
            deps.deletions.settle(run.run_id, key, "refused")
        return Walked.DONE
    for key in pending:
        if shard.position is not None and key <= shard.position:
            continue
        if s3_adapter.head_if_exists(deps.producer_s3, settings.producer_bucket, key) is not None:
            outcome = "kept"  # it is back (or was never gone): never deleted
            shard.deletes_kept += 1
        elif run.dry_run:
            outcome = "would-delete"
        else:
            _delete(work, key)
            outcome = "deleted"
            shard.objects_deleted += 1
        deps.deletions.settle(run.run_id, key, outcome)
        logger.info("delete propagation", key=key, outcome=outcome, mode=settings.delete_mode)
        shard.position = key
        work.page_done()
    if shard.objects_deleted:
        metrics.add_metric(name="ObjectsDeleted", unit=MetricUnit.Count, value=shard.objects_deleted)
    return Walked.DONE


def _over_a_cap(candidates: int, listed: int, max_count: int, max_percent: float) -> str | None:
    if candidates > max_count:
        return f"{candidates} deletions exceed MAX_DELETE_COUNT ({max_count})"
    if candidates and candidates * 100 > max_percent * max(listed, 1):
        return f"{candidates} deletions exceed MAX_DELETE_PERCENT ({max_percent} % of {listed} keys listed)"
    return None


def _delete(work: ShardWork, key: str) -> None:
    settings = work.deps.settings
    assert work.deps.deletions is not None
    consumer_key = settings.destination_prefix + key
    if settings.delete_mode is DeleteMode.SOFT:
        s3_adapter.move_to_trash(
            work.deps.consumer_s3,
            settings.consumer_bucket,
            consumer_key,
            settings.trash_prefix + consumer_key,
            settings.consumer_kms_key_id,
        )
    else:
        s3_adapter.delete(work.deps.consumer_s3, settings.consumer_bucket, consumer_key)
    work.deps.deletions.forget(key)
