"""Copier Lambda: SQS batch (ReportBatchItemFailures) -> the objects copied, failures reported per record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from copier import dependencies
from copier.service import handle_batch
from hydration.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_batch(event, context, dependencies.deps())
