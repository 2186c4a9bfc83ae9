"""Finalizer Lambda: schedule (every few minutes) or manual invoke -> the active run closed once drained."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from finalizer.service import FinalizerDeps, finalize
from hydration.aws import clients
from hydration.aws.state import FailureLedger, RunStore
from hydration.models import parse_finalizer_event
from hydration.observability import logger, metrics, tracer
from hydration.settings import finalizer_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = finalizer_settings()  # validated once, at cold start
    request = parse_finalizer_event(event)
    db = clients.dynamodb()
    deps = FinalizerDeps(
        consumer_s3=clients.s3(),
        sqs=clients.sqs(),
        runs=RunStore(db, settings.runs_table),
        ledger=FailureLedger(db, settings.failures_table),
        kms_key_id=settings.consumer_kms_key_id,
    )
    return finalize(request, settings, deps, claimant=context.aws_request_id).model_dump(mode="json")
