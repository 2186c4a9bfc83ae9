"""Planner worker Lambda: the planner queue's event source (one shard per invocation,
ReportBatchItemFailures) -> the shard listed, selected and enqueued, handed on or done (see worker.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from hydration.models import ShardRecord
from hydration.observability import logger, metrics, tracer
from planner import dependencies
from planner.context import Budget
from planner.worker import work

RETRY_BASE_SECONDS = 10  # a failed shard message comes back after 10, 20, 40... seconds (at most 15 minutes)


def retry_delay(attempt: int) -> int:
    return int(min(RETRY_BASE_SECONDS * 2 ** (attempt - 1), 900))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = dependencies.deps(context.invoked_function_arn)

    def record_handler(record: ShardRecord) -> str:
        attempt = int(record.attributes.ApproximateReceiveCount)
        budget = Budget.of(deps.settings, context.get_remaining_time_in_millis)
        last = attempt >= deps.settings.planner_max_receive_count
        try:
            return work(record.body, deps, budget, owner=context.aws_request_id, last_attempt=last)
        except Exception:
            # the shard resumes from its last checkpoint after a backoff (S3 answering SlowDown, ...)
            deps.dispatch.retry_later(record.receiptHandle, retry_delay(attempt))
            raise

    processor = BatchProcessor(event_type=EventType.SQS, model=ShardRecord, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
