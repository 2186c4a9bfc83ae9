"""The planner's dependencies, built on the first invocation (settings validated then) and kept while the
container is warm. The planner continues its own checkpointed runs through the function it runs as."""

from __future__ import annotations

from functools import cache

from hydration.aws import clients, wiring
from hydration.aws.functions import PlannerContinuation
from hydration.settings import planner_settings
from planner.context import PlannerDeps
from planner.enqueue import Queue


@cache
def deps(function_arn: str) -> PlannerDeps:
    settings = planner_settings()
    stores = wiring.state_stores(settings)
    return PlannerDeps(
        settings=settings,
        producer_s3=clients.producer_s3(settings.producer_role_arn, settings.external_id, "s3-hydration-planner"),
        consumer_s3=clients.s3(),
        runs=stores.runs,
        books=stores.books,
        ledger=stores.ledger,
        lookup=stores.lookup,
        held=stores.held,
        queue=Queue(
            clients.sqs(pool=settings.connection_pool),
            settings.transfer_queue_url,
            settings.keys_per_message,
            settings.enqueue_attempts,
        ),
        closing=wiring.closing(settings, stores),
        continuation=PlannerContinuation(clients.lambda_(), function_arn),
    )
