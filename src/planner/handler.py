"""Planner Lambda (the coordinator): EventBridge schedule or manual invoke -> a run started and cut into
shards for the planner workers (see coordinator.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hydration.errors import InvalidRequestError
from hydration.models import new_run_id, parse_planner_event
from hydration.observability import logger, metrics, tracer
from planner import dependencies
from planner.coordinator import plan


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_planner_event(event)
    except InvalidRequestError as exc:
        logger.error("rejected planner payload; no run started", error=str(exc))
        raise
    deps = dependencies.deps(context.invoked_function_arn)
    run_id = request.continue_run or request.new_run_id or new_run_id(datetime.now(UTC))
    return plan(request, deps, run_id=run_id, request_id=context.aws_request_id).model_dump(mode="json")
