"""The copier's dependencies, built on the first invocation (settings validated then) and kept while the
container is warm: clients sized by the settings, the state stores, the transfer layer, the closer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

from copier.service import CopierDeps
from hydration.aws import clients, wiring
from hydration.aws.queue import TransferQueue
from hydration.aws.transfer import ByteBudget, Copier
from hydration.aws.uploads import UploadStore
from hydration.settings import CopyMode, copier_settings


@cache
def deps() -> CopierDeps:
    settings = copier_settings()
    stores = wiring.state_stores(settings)
    pool = settings.connection_pool
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
            byte_budget=ByteBudget(settings.stream_buffer_bytes),
            verification=settings.verification,
            single_copy_max=settings.single_copy_max_bytes,
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
