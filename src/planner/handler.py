"""Planner Lambda: EventBridge schedule or manual invoke -> one run planned (see service.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hydration.aws import clients
from hydration.aws.functions import SelfInvoker
from hydration.aws.state import FailureLedger, Manifest, RunStore
from hydration.errors import InvalidRequestError
from hydration.models import parse_planner_event
from hydration.observability import logger, metrics, tracer
from hydration.settings import PlannerSettings, planner_settings
from planner.service import Budget, PlannerDeps, new_run_id, plan


def build_deps(settings: PlannerSettings, function_arn: str, session_name: str) -> PlannerDeps:
    db = clients.dynamodb()
    return PlannerDeps(
        producer_s3=clients.producer_s3(settings.producer_role_arn, settings.external_id, session_name),
        consumer_s3=clients.s3(),
        sqs=clients.sqs(pool=settings.enqueue_concurrency * 2),
        runs=RunStore(db, settings.runs_table),
        ledger=FailureLedger(db, settings.failures_table),
        manifest=Manifest(db, settings.manifest_table),
        continuation=SelfInvoker(clients.lambda_(), function_arn),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = planner_settings()  # validated once, at cold start
    try:
        request = parse_planner_event(event)
    except InvalidRequestError as exc:
        logger.error("rejected planner payload; no run started", error=str(exc))
        raise
    run_id = request.continue_run or new_run_id(datetime.now(UTC))
    # The producer role session name carries the run id, so CloudTrail in the producer account shows it.
    deps = build_deps(settings, context.invoked_function_arn, f"s3-hydration-{run_id}")
    budget = Budget(
        context.get_remaining_time_in_millis,
        settings.checkpoint_margin_seconds,
        settings.max_pages_per_invocation,
    )
    return plan(request, settings, deps, budget, run_id=run_id).model_dump(mode="json")
