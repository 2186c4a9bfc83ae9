"""Copier Lambda: SQS batch (ReportBatchItemFailures) -> the objects copied, failures reported per record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from copier.service import CopierDeps, handle_batch
from hydration.aws import clients, queue
from hydration.aws.state import FailureLedger, Manifest, RunStore, write_batch
from hydration.aws.transfer import ByteBudget, Copier
from hydration.observability import logger, metrics, tracer
from hydration.settings import CopyMode, copier_settings


@cache
def deps() -> CopierDeps:
    """Built on the first invocation and kept while the container is warm (producer credentials included)."""
    settings = copier_settings()
    pool = settings.copy_concurrency * settings.parts_in_flight + 8
    db = clients.dynamodb()
    return CopierDeps(
        copier=Copier(
            producer_s3=clients.producer_s3(
                settings.producer_role_arn, settings.external_id, "s3-hydration-copier", pool=pool
            ),
            consumer_s3=clients.s3(pool=pool),
            server_side=settings.copy_mode is CopyMode.SERVER_SIDE,
            multipart_threshold=settings.multipart_threshold_bytes,
            part_size=settings.part_size_bytes,
            parts_in_flight=settings.parts_in_flight,
            byte_budget=ByteBudget(settings.part_size_bytes * settings.parts_in_flight * 4),
        ),
        manifest=Manifest(db, settings.manifest_table),
        ledger=FailureLedger(db, settings.failures_table),
        runs=RunStore(db, settings.runs_table),
        write_batch=partial(write_batch, db),
        pool=ThreadPoolExecutor(max_workers=settings.copy_concurrency, thread_name_prefix="copy"),
        retry_later=(
            partial(queue.retry_later, clients.sqs(), settings.transfer_queue_url)
            if settings.transfer_queue_url
            else None
        ),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = copier_settings()  # validated once, at cold start
    return handle_batch(event, context, settings, deps())
