"""What an incremental, full, prefix, since or keys run selects, and the failure ledger's re-enqueue.

A page of the listing is compared with the manifest and the failure ledger in one read: a version the
consumer already holds is not enqueued (unless the run forces it); a key in the ledger is enqueued with the
`force` it failed with. Every run then re-enqueues the ledger (keys the listing did not reach: deleted, or
outside the selection); the books make sure a key is enqueued once per run.
"""

from __future__ import annotations

from hydration.aws import s3 as s3_adapter
from hydration.models import ListingCursor, ObjectRef, Origin, RunKind, RunRecord, SourceObject
from hydration.observability import logger
from hydration.selection import excluded_key, is_selected
from planner.context import Budget, PlannerDeps
from planner.enqueue import Enqueue


def walk(run: RunRecord, deps: PlannerDeps, budget: Budget, enqueue: Enqueue) -> bool:
    """Enqueue the selected keys from the run's cursor on. False: checkpointed, `run.cursor` says where."""
    settings = deps.settings
    excluded = excluded_key(settings.destination_prefix)
    cursor = run.cursor or ListingCursor()
    for index in range(cursor.prefix_index, len(run.prefixes)):
        token = cursor.continuation_token if index == cursor.prefix_index else None
        for page in s3_adapter.list_pages(
            deps.producer_s3, settings.producer_bucket, run.prefixes[index], token, settings.list_page_size
        ):
            run.keys_listed += len(page.objects)
            selected = [obj for obj in page.objects if is_selected(obj.key, obj.last_modified, run.since, excluded)]
            enqueue_changed(run, deps, selected, enqueue, Origin.LISTING)
            budget.page_done(run)
            if budget.exhausted and page.next_token:
                run.cursor = ListingCursor(prefix_index=index, continuation_token=page.next_token)
                return False
        if budget.exhausted and index + 1 < len(run.prefixes):
            run.cursor = ListingCursor(prefix_index=index + 1)
            return False
    run.cursor = None
    return True


def enqueue_changed(
    run: RunRecord, deps: PlannerDeps, objects: list[SourceObject], enqueue: Enqueue, origin: Origin
) -> None:
    """Enqueue the objects whose version the consumer does not hold (all of them if the run forces), and
    those in the failure ledger with their ledger `force`. One read of both tables per 100 keys."""
    if not objects:
        return
    held, failed = deps.lookup(obj.key for obj in objects)
    for obj in objects:
        failure = failed.get(obj.key)
        entry = held.get(obj.key)
        if failure is not None:
            enqueue.put(ObjectRef(force=run.force or failure.force, **obj.model_dump()), Origin.LEDGER)
        elif run.force or entry is None or not entry.holds(obj):
            enqueue.put(ObjectRef(force=run.force, **obj.model_dump()), origin)
        else:
            run.keys_unchanged += 1


def walk_keys(run: RunRecord, deps: PlannerDeps, enqueue: Enqueue) -> bool:
    """A run for keys an operator named: each is read (HEAD) and enqueued, forced if asked; a key that does
    not exist is logged and left out."""
    settings = deps.settings
    found: list[SourceObject] = []
    for key in run.keys:
        head = s3_adapter.head_if_exists(deps.producer_s3, settings.producer_bucket, key)
        if head is None:
            logger.warning("requested key not found in the producer bucket", key=key)
            continue
        found.append(SourceObject(key=key, size=head.size, etag=head.etag, last_modified=head.last_modified))
    run.keys_listed += len(found)
    enqueue_changed(run, deps, found, enqueue, Origin.REQUEST)
    return True


def enqueue_ledger(run: RunRecord, deps: PlannerDeps, enqueue: Enqueue) -> None:
    """Every key in the failure ledger goes back on the queue (within a prefix or keys run's scope)."""
    wanted = set(run.keys)
    for failure in deps.ledger:
        if run.kind is RunKind.PREFIX and not any(failure.key.startswith(p) for p in run.prefixes):
            continue
        if run.kind is RunKind.KEYS and failure.key not in wanted:
            continue
        enqueue.put(failure.to_ref(), Origin.LEDGER)
