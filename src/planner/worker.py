"""A planner worker: one shard, from its message to done or handed on.

It takes the shard's lease (a duplicate message for a shard another worker holds, or one already done,
ends here), walks it by its source (a key range, an inventory file, named keys, the ledger's leftovers,
the guarded deletions), enqueuing what the run selects and checkpointing as it goes; then either hands
it on (its position recorded, the lease given up, a new message sent) or finishes it, and the worker
that finishes the last shard completes the run's planning (`completion`). A worker that fails on the
message's last receive fails its shard and the run: the marker stays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from hydration.errors import CheckpointMovedError
from hydration.inventory import InventoryError
from hydration.models import RunStatus, ShardMessage, ShardSource, ShardStatus
from hydration.observability import MetricUnit, logger, metrics, tracer
from planner import completion, deletes, inventory, ranges, sources
from planner.context import Budget, PlannerDeps, ShardLostError
from planner.enqueue import Enqueue
from planner.work import ShardWork, Walked

WALKS: dict[ShardSource, Callable[[ShardWork], Walked]] = {
    ShardSource.LISTING: lambda work: ranges.walk(work, deletes.sighter(work)),
    ShardSource.KEYS: sources.walk_keys,
    ShardSource.LEDGER: sources.walk_ledger,
    ShardSource.INVENTORY: inventory.walk,
    ShardSource.DELETES: deletes.walk,
}


@tracer.capture_method
def work(message: ShardMessage, deps: PlannerDeps, budget: Budget, *, owner: str, last_attempt: bool) -> str:
    """Work one shard; what became of it: done, handed-on, busy (another worker holds it), gone (done
    already, or its run stopped planning), lost (the lease passed on meanwhile)."""
    logger.append_keys(run_id=message.run_id, shard_id=message.shard_id)
    logger.set_correlation_id(message.run_id)
    shard = deps.shards.get(message.run_id, message.shard_id)
    if shard is None or shard.status is not ShardStatus.OPEN:
        return "gone"
    run = deps.runs.get(message.run_id)
    if run.status is not RunStatus.PLANNING:
        return "gone"
    claimed = deps.shards.claim(shard, owner, deps.clock() + timedelta(seconds=deps.settings.shard_lease_seconds))
    if claimed is None:
        logger.info("shard held by another worker; this message is a duplicate", holder=shard.owner)
        return "busy"
    settings = deps.settings
    job = ShardWork(run, claimed, deps, budget)
    with Enqueue(
        run.run_id,
        settings.producer_bucket,
        deps.books,
        deps.ledger,
        deps.queue,
        checkpoint=job,
        generation=claimed.version,
        concurrency=settings.enqueue_concurrency,
        clock=deps.clock,
    ) as enqueue:
        job.enqueue = enqueue
        try:
            walked = WALKS[claimed.source](job)
            job.flushed()
        except (ShardLostError, CheckpointMovedError) as lost:  # another worker holds it, or the run stopped
            logger.warning("shard lost", reason=str(lost))
            enqueue.drain()
            return "lost"
        except InventoryError as refused:  # the report is not what its manifest says: no retry helps
            enqueue.drain()
            _give_up(job, refused)
            return "refused"
        except Exception as exc:
            enqueue.drain()
            job.shard.version = enqueue.generation  # what the checkpoints that committed wrote
            if last_attempt:
                _give_up(job, exc)
            else:  # its message is retried: the next worker resumes from the last checkpoint
                deps.shards.release(job.shard)
            raise
        finally:
            _count(enqueue)
    return _hand_on(job) if walked is Walked.HAND_ON else _finish(job, owner)


def _hand_on(job: ShardWork) -> str:
    deps, shard = job.deps, job.shard
    if not deps.shards.hand_on(shard):
        return "lost"
    if deps.dispatch(shard.run_id, [shard.shard_id]):
        raise RuntimeError(f"shard {shard.shard_id}: could not send its hand-on; this message is retried")
    logger.info("shard handed on", position=shard.position, keys_listed=shard.keys_listed)
    return "handed-on"


def _finish(job: ShardWork, owner: str) -> str:
    deps, shard = job.deps, job.shard
    if not deps.shards.finish(shard):
        return "lost"
    logger.info("shard done", keys_listed=shard.keys_listed, list_calls=shard.list_calls, splits=shard.splits)
    completion.after_shard(shard.run_id, deps, claimant=owner)
    return "done"


def _give_up(job: ShardWork, exc: Exception) -> None:
    """The message's last receive failed (or the shard is refused): the shard fails, and with it the run (the
    marker stays)."""
    deps, shard = job.deps, job.shard
    error = f"{type(exc).__name__}: {exc}"
    logger.exception("shard failed for good; the run fails", error=error)
    deps.shards.fail(shard, error)
    deps.runs.fail(shard.run_id, f"shard {shard.shard_id} failed: {error}")


def _count(enqueue: Enqueue) -> None:
    totals = enqueue.totals
    metrics.add_metric(name="KeysEnqueued", unit=MetricUnit.Count, value=totals.opened)
    metrics.add_metric(name="BytesEnqueued", unit=MetricUnit.Bytes, value=totals.bytes)
    if totals.failed:
        metrics.add_metric(name="KeysEnqueueFailed", unit=MetricUnit.Count, value=totals.failed)
