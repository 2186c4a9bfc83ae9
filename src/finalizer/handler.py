"""Finalizer Lambda: schedule (every few minutes) or manual invoke -> the books' safety net (see service.py)."""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from finalizer.service import FinalizerDeps, finalize
from hydration.aws import clients, queue, wiring
from hydration.aws.functions import PlannerContinuation
from hydration.models import parse_finalizer_event
from hydration.observability import logger, metrics, tracer
from hydration.settings import finalizer_settings


@cache
def deps() -> FinalizerDeps:
    """Built on the first invocation (settings validated then) and kept while the container is warm."""
    settings = finalizer_settings()
    stores = wiring.state_stores(settings)
    sqs = clients.sqs()
    return FinalizerDeps(
        settings=settings,
        runs=stores.runs,
        books=stores.books,
        closing=wiring.closing(settings, stores),
        queue_depth=partial(queue.depth, sqs, settings.transfer_queue_url),
        dlq_bodies=partial(queue.peek, sqs, settings.transfer_dlq_url) if settings.transfer_dlq_url else None,
        planner=PlannerContinuation(clients.lambda_(), settings.planner_function_name)
        if settings.planner_function_name
        else None,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = parse_finalizer_event(event)
    return finalize(request, deps(), claimant=context.aws_request_id).model_dump(mode="json")
