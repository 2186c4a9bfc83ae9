"""Finalizer Lambda: schedule (every few minutes) or manual invoke -> the books' safety net (see service.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from finalizer import dependencies
from finalizer.service import finalize
from hydration.models import parse_finalizer_event
from hydration.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = parse_finalizer_event(event)
    return finalize(request, dependencies.deps(), claimant=context.aws_request_id).model_dump(mode="json")
