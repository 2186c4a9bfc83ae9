"""The finalizer's dependencies, built on the first invocation (settings validated then) and kept while the
container is warm."""

from __future__ import annotations

from functools import cache, partial

from finalizer.service import FinalizerDeps
from hydration.aws import clients, queue, wiring
from hydration.aws.functions import PlannerContinuation
from hydration.settings import finalizer_settings


@cache
def deps() -> FinalizerDeps:
    settings = finalizer_settings()
    stores = wiring.state_stores(settings)
    sqs = clients.sqs()
    return FinalizerDeps(
        settings=settings,
        runs=stores.runs,
        books=stores.books,
        lookup=stores.lookup,
        closing=wiring.closing(settings, stores),
        queue_depth=partial(queue.depth, sqs, settings.transfer_queue_url),
        dlq_bodies=partial(queue.peek, sqs, settings.transfer_dlq_url) if settings.transfer_dlq_url else None,
        planner=PlannerContinuation(clients.lambda_(), settings.planner_function_name)
        if settings.planner_function_name
        else None,
        planner_queue_depth=partial(queue.depth, sqs, settings.planner_queue_url)
        if settings.planner_queue_url
        else None,
    )
