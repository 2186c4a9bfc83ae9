"""Copier Lambda: SQS batch (ReportBatchItemFailures) -> the objects copied, failures reported per record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from copier.service import CopierDeps, handle_batch
from hydration.aws import clients, wiring
from hydration.aws.queue import TransferQueue
from hydration.aws.transfer import ByteBudget, Copier
from hydration.aws.uploads import UploadStore
from hydration.observability import logger, metrics, tracer
from hydration.settings import CopyMode, copier_settings


@cache
def deps() -> CopierDeps:
    """Built on the first invocation (settings validated then) and kept while the container is warm."""
    settings = copier_settings()
    pool = settings.copy_concurrency * settings.parts_in_flight + 8
    stores = wiring.state_stores(settings)
    return CopierDeps(
        settings=settings,
        copier=Copier(
            producer_s3=clients.producer_s3(
                settings.producer_role_arn, settings.external_id, "s3-hydration-copier", pool=pool
            ),
            consumer_s3=clients.s3(pool=pool),
            uploads=UploadStore(clients.dynamodb(), settings.uploads_table),
            fanout_threshold=settings.fanout_threshold_bytes,
            server_side=settings.copy_mode is CopyMode.SERVER_SIDE,
            multipart_threshold=settings.multipart_threshold_bytes,
            part_size=settings.part_size_bytes,
            parts_in_flight=settings.parts_in_flight,
            byte_budget=ByteBudget(settings.part_size_bytes * settings.parts_in_flight * 4),
        ),
        lookup=stores.lookup,
        manifest=stores.manifest,
        ledger=stores.ledger,
        books=stores.books,
        runs=stores.runs,
        queue=TransferQueue(clients.sqs(), settings.transfer_queue_url),
        closing=wiring.closing(settings, stores),
        pool=ThreadPoolExecutor(max_workers=settings.copy_concurrency, thread_name_prefix="copy"),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_batch(event, context, deps())
