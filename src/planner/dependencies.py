"""The planner's dependencies (coordinator and workers), built on the first invocation (settings validated
then) and kept while the container is warm. The coordinator is invoked again through the function it runs
as (`continue_run`); shard messages go to the planner workers' queue."""

from __future__ import annotations

from functools import cache

from hydration.aws import clients, wiring
from hydration.aws.functions import PlannerContinuation
from hydration.aws.queue import ShardQueue
from hydration.settings import planner_settings
from planner.context import PlannerDeps
from planner.enqueue import Queue


@cache
def deps(function_arn: str) -> PlannerDeps:
    settings = planner_settings()
    stores = wiring.state_stores(settings)
    sqs = clients.sqs(pool=settings.connection_pool)
    return PlannerDeps(
        settings=settings,
        producer_s3=clients.producer_s3(
            settings.producer_role_arn, settings.external_id, "s3-hydration-planner", adaptive=True
        ),
        consumer_s3=clients.s3(),
        runs=stores.runs,
        books=stores.books,
        shards=stores.shards,
        ledger=stores.ledger,
        held=stores.held,
        lookup=stores.lookup,
        queue=Queue(sqs, settings.transfer_queue_url, settings.keys_per_message, settings.enqueue_attempts),
        dispatch=ShardQueue(sqs, settings.planner_queue_url),
        closing=wiring.closing(settings, stores),
        continuation=PlannerContinuation(clients.lambda_(), _coordinator(function_arn)),
        deletions=stores.deletions if settings.deletes else None,
    )


def _coordinator(function_arn: str) -> str:
    """The coordinator's function (the workers run as `<prefix>-planner-worker`, the coordinator as
    `<prefix>-planner`)."""
    return function_arn.removesuffix("-worker")
