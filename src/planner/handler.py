"""Planner Lambda: EventBridge schedule or manual invoke -> one run planned (see service.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hydration.aws import clients, wiring
from hydration.aws.functions import PlannerContinuation
from hydration.errors import InvalidRequestError
from hydration.models import parse_planner_event
from hydration.observability import logger, metrics, tracer
from hydration.settings import planner_settings
from planner.context import Budget, PlannerDeps
from planner.enqueue import Queue
from planner.service import new_run_id, plan


@cache
def deps(function_arn: str) -> PlannerDeps:
    """Built on the first invocation (settings validated then) and kept while the container is warm."""
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
            clients.sqs(pool=settings.enqueue_concurrency * 2),
            settings.transfer_queue_url,
            settings.keys_per_message,
            settings.enqueue_attempts,
        ),
        closing=wiring.closing(settings, stores),
        continuation=PlannerContinuation(clients.lambda_(), function_arn),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_planner_event(event)
    except InvalidRequestError as exc:
        logger.error("rejected planner payload; no run started", error=str(exc))
        raise
    wired = deps(context.invoked_function_arn)
    settings = wired.settings
    budget = Budget(
        context.get_remaining_time_in_millis,
        settings.checkpoint_margin_seconds,
        settings.max_pages_per_invocation,
        runs=wired.runs,
        heartbeat_seconds=settings.heartbeat_seconds,
    )
    run_id = request.continue_run or request.new_run_id or new_run_id(datetime.now(UTC))
    return plan(request, wired, budget, run_id=run_id, request_id=context.aws_request_id).model_dump(mode="json")
