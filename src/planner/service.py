"""Planner: select the keys a run must copy and put one message per key on the transfer queue.

A run lists the producer bucket page by page (memory stays one page), selects keys modified at or after
the sync marker minus the lookback, enqueues them, re-enqueues the failure ledger, and hands over to the
finalizer (status DRAINING). A listing that would outlive the invocation checkpoints its position in the
run record and continues in a new invocation.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from hydration import MARKER_KEY
from hydration import marker as marker_format
from hydration.aws import s3 as s3_adapter
from hydration.aws.queue import Enqueuer
from hydration.aws.state import FailureLedger, Manifest, RunStore
from hydration.errors import InvalidRequestError, RunAlreadyActiveError
from hydration.models import (
    Drift,
    ListingCursor,
    PlannerRequest,
    RunKind,
    RunRecord,
    RunStatus,
    SourceObject,
    TransferMessage,
)
from hydration.observability import MetricUnit, logger, metrics
from hydration.selection import is_internal, is_selected, lower_bound, minimal_prefixes, within_scope
from hydration.settings import PlannerSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

SAMPLE_KEYS = 20


class Continuation(Protocol):
    def continue_run(self, run_id: str) -> None: ...


@dataclass
class PlannerDeps:
    producer_s3: S3Client
    consumer_s3: S3Client
    sqs: SQSClient
    runs: RunStore
    ledger: FailureLedger
    manifest: Manifest
    continuation: Continuation
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class Budget:
    """When to checkpoint: too little invocation time left, or (tests) a page budget spent."""

    def __init__(self, remaining_ms: Callable[[], int] | None, margin_seconds: int, max_pages: int = 0) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_seconds * 1000
        self._max_pages = max_pages
        self.pages = 0

    def page_done(self) -> None:
        self.pages += 1

    @property
    def exhausted(self) -> bool:
        if self._max_pages and self.pages >= self._max_pages:
            return True
        return self._remaining_ms is not None and self._remaining_ms() < self._margin_ms


class PlanResult(BaseModel):
    """What the planner answers (the handler returns it as JSON)."""

    started: bool
    run_id: str | None = None
    status: str | None = None
    kind: str | None = None
    watermark: datetime | None = None
    since: datetime | None = None
    keys_enqueued: int = 0
    bytes_enqueued: int = 0
    ledger_keys_enqueued: int = 0
    keys_unchanged: int = 0
    continued: bool = False
    dry_run: bool = False
    sample_keys: list[str] = []
    drift: Drift | None = None
    message: str = ""


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def read_marker(client: S3Client, bucket: str) -> marker_format.Marker | None:
    text = s3_adapter.get_text(client, bucket, MARKER_KEY)
    return None if text is None else marker_format.parse(text)


def plan(
    request: PlannerRequest,
    settings: PlannerSettings,
    deps: PlannerDeps,
    budget: Budget,
    run_id: str | None = None,
) -> PlanResult:
    """Start a run (or continue a checkpointed one) and enqueue what it selects."""
    if request.continue_run:
        run = deps.runs.get(request.continue_run)
        if run.status is not RunStatus.PLANNING:
            return PlanResult(started=False, run_id=run.run_id, status=run.status, message="run is not planning")
        return _resume(run, settings, deps, budget)

    if request.prefix and not within_scope(request.prefix, settings.transfer_prefixes):
        raise InvalidRequestError(
            f"prefix: {request.prefix!r} is outside the configured transfer prefixes {settings.transfer_prefixes}"
        )
    started_at = deps.clock()  # the watermark: when the listing starts, never when it ends
    since = _selection_bound(request, settings, deps)
    prefixes = [request.prefix] if request.prefix else minimal_prefixes(settings.transfer_prefixes)

    if request.dry_run:
        return _dry_run(request, settings, deps, prefixes, since, started_at)

    run = RunRecord(
        run_id=run_id or new_run_id(started_at),
        status=RunStatus.PLANNING,
        kind=request.kind,
        watermark=started_at,
        since=since,
        prefixes=prefixes,
        started_at=started_at,
        heartbeat_at=started_at,
        drift=Drift() if request.kind is RunKind.RECONCILE else None,
        ttl=int((started_at + timedelta(days=settings.run_ttl_days)).timestamp()),
    )
    try:
        deps.runs.create(run)
    except RunAlreadyActiveError as busy:
        active = deps.runs.active()
        stale = timedelta(seconds=settings.stale_planning_seconds)
        if active and active.status is RunStatus.PLANNING and _heartbeat(active) < deps.clock() - stale:
            logger.warning("resuming a stale planning run", run_id=active.run_id, heartbeat_at=_heartbeat(active))
            return _resume(active, settings, deps, budget)
        logger.info("a run is already active; nothing started", active_run_id=busy.run_id, status=busy.status)
        return PlanResult(started=False, run_id=busy.run_id, status=busy.status, message=str(busy))
    logger.append_keys(run_id=run.run_id)
    logger.set_correlation_id(run.run_id)
    logger.info("run started", kind=run.kind, since=since, watermark=run.watermark, prefixes=prefixes)
    return _resume(run, settings, deps, budget)


def _heartbeat(run: RunRecord) -> datetime:
    return run.heartbeat_at or run.started_at


def _selection_bound(request: PlannerRequest, settings: PlannerSettings, deps: PlannerDeps) -> datetime | None:
    match request.kind:
        case RunKind.INCREMENTAL:
            current = read_marker(deps.consumer_s3, settings.consumer_bucket)
            if current is None:
                logger.info("no sync marker: this run is a full transfer", marker_key=MARKER_KEY)
                return None
            return lower_bound(current.synced_to, timedelta(seconds=settings.lookback_seconds))
        case RunKind.SINCE:
            return request.since
        case _:
            return None


def _dry_run(
    request: PlannerRequest,
    settings: PlannerSettings,
    deps: PlannerDeps,
    prefixes: list[str],
    since: datetime | None,
    started_at: datetime,
) -> PlanResult:
    keys = nbytes = 0
    sample: list[str] = []
    for prefix in prefixes:
        for page in s3_adapter.list_pages(deps.producer_s3, settings.producer_bucket, prefix):
            for obj in page.objects:
                if is_selected(obj.key, obj.last_modified, since):
                    keys += 1
                    nbytes += obj.size
                    if len(sample) < SAMPLE_KEYS:
                        sample.append(obj.key)
    logger.info("dry run", keys=keys, bytes=nbytes, since=since)
    return PlanResult(
        started=False,
        dry_run=True,
        kind=request.kind,
        since=since,
        watermark=started_at,
        keys_enqueued=keys,
        bytes_enqueued=nbytes,
        sample_keys=sample,
        message="dry run: nothing was enqueued",
    )


def _resume(run: RunRecord, settings: PlannerSettings, deps: PlannerDeps, budget: Budget) -> PlanResult:
    logger.append_keys(run_id=run.run_id)
    logger.set_correlation_id(run.run_id)
    try:
        with Enqueuer(
            deps.sqs,
            settings.transfer_queue_url,
            concurrency=settings.enqueue_concurrency,
            attempts=settings.enqueue_attempts,
        ) as enqueuer:
            finished = _list_and_enqueue(run, settings, deps, budget, enqueuer)
            if finished:
                _enqueue_ledger(run, settings, deps, enqueuer)
            enqueuer.flush()
            _count(run, enqueuer)
    except Exception as exc:
        logger.exception("planning failed; the run is FAILED and the marker stays", run_id=run.run_id)
        deps.runs.fail(run.run_id, f"{type(exc).__name__}: {exc}")
        raise

    if not finished:
        deps.runs.checkpoint(run)
        deps.continuation.continue_run(run.run_id)
        logger.info("listing checkpointed; continuing in a new invocation", cursor=run.cursor, keys=run.keys_enqueued)
        return _result(run, continued=True)

    deps.runs.finish_planning(run)
    run.status = RunStatus.DRAINING
    if run.drift is not None:
        metrics.add_metric(name="DriftMissing", unit=MetricUnit.Count, value=run.drift.missing)
        metrics.add_metric(name="DriftDifferent", unit=MetricUnit.Count, value=run.drift.different)
        logger.info("reconcile drift", drift=run.drift.model_dump())
    logger.info(
        "planning complete",
        keys_enqueued=run.keys_enqueued,
        bytes_enqueued=run.bytes_enqueued,
        keys_unchanged=run.keys_unchanged,
    )
    return _result(run)


def _count(run: RunRecord, enqueuer: Enqueuer) -> None:
    """Fold this invocation's sends into the run's totals and metrics."""
    run.keys_enqueued += enqueuer.sent
    run.bytes_enqueued += enqueuer.bytes
    metrics.add_metric(name="KeysEnqueued", unit=MetricUnit.Count, value=enqueuer.sent)
    metrics.add_metric(name="BytesEnqueued", unit=MetricUnit.Bytes, value=enqueuer.bytes)
    enqueuer.sent = enqueuer.bytes = 0


def _result(run: RunRecord, continued: bool = False) -> PlanResult:
    return PlanResult(
        started=True,
        run_id=run.run_id,
        status=run.status,
        kind=run.kind,
        watermark=run.watermark,
        since=run.since,
        keys_enqueued=run.keys_enqueued,
        bytes_enqueued=run.bytes_enqueued,
        ledger_keys_enqueued=run.ledger_keys_enqueued,
        keys_unchanged=run.keys_unchanged,
        continued=continued,
        drift=run.drift,
    )


def _message(run: RunRecord, bucket: str, obj: SourceObject, force: bool = False) -> TransferMessage:
    return TransferMessage.of(obj, run_id=run.run_id, bucket=bucket, force=force)


def _list_and_enqueue(
    run: RunRecord, settings: PlannerSettings, deps: PlannerDeps, budget: Budget, enqueuer: Enqueuer
) -> bool:
    """Enqueue the selected keys from the run's cursor on. False: checkpointed, run.cursor says where."""
    if run.kind is RunKind.RECONCILE:
        return _reconcile(run, settings, deps, budget, enqueuer)
    cursor = run.cursor or ListingCursor()
    for index in range(cursor.prefix_index, len(run.prefixes)):
        token = cursor.continuation_token if index == cursor.prefix_index else None
        for page in s3_adapter.list_pages(
            deps.producer_s3, settings.producer_bucket, run.prefixes[index], token, settings.list_page_size
        ):
            selected = [obj for obj in page.objects if is_selected(obj.key, obj.last_modified, run.since)]
            for obj in _changed(run, deps, selected):
                enqueuer.put(_message(run, settings.producer_bucket, obj))
            budget.page_done()
            if budget.exhausted and page.next_token:
                enqueuer.flush()  # a checkpoint never runs ahead of what is in the queue
                _count(run, enqueuer)
                run.cursor = ListingCursor(prefix_index=index, continuation_token=page.next_token)
                return False
        if budget.exhausted and index + 1 < len(run.prefixes):
            enqueuer.flush()
            _count(run, enqueuer)
            run.cursor = ListingCursor(prefix_index=index + 1)
            return False
    run.cursor = None
    return True


def _changed(run: RunRecord, deps: PlannerDeps, objects: list[SourceObject]) -> list[SourceObject]:
    """The objects whose listed version the consumer does not hold yet. The manifest answers for a page in
    one BatchGetItem per 100 keys, so a re-run over unchanged keys (the lookback window, a reset sync)
    enqueues nothing instead of a message per key that the copier would skip."""
    if not objects:
        return []
    held = deps.manifest.get_many(obj.key for obj in objects)
    changed = [obj for obj in objects if (entry := held.get(obj.key)) is None or entry.etag != obj.etag]
    run.keys_unchanged += len(objects) - len(changed)
    return changed


def _enqueue_ledger(run: RunRecord, settings: PlannerSettings, deps: PlannerDeps, enqueuer: Enqueuer) -> None:
    """Every key in the failure ledger goes back on the queue, whatever the marker says."""
    count = 0
    for failure in deps.ledger:
        if run.kind is RunKind.PREFIX and not any(failure.key.startswith(p) for p in run.prefixes):
            continue
        enqueuer.put(failure.to_message(run.run_id))
        count += 1
    run.ledger_keys_enqueued += count
    if count:
        logger.info("failure ledger re-enqueued", keys=count)


# --------------------------------------------------------------------------- reconcile


def _merge(
    source: Iterator[SourceObject], consumer: Iterator[SourceObject]
) -> Iterator[tuple[SourceObject | None, SourceObject | None]]:
    """Walk two key-ordered listings side by side: (source, consumer) pairs, None where a side lacks the key."""
    src = next(source, None)
    dst = next(consumer, None)
    while src is not None or dst is not None:
        if dst is None or (src is not None and src.key < dst.key):
            yield src, None
            src = next(source, None)
        elif src is None or dst.key < src.key:
            yield None, dst
            dst = next(consumer, None)
        else:
            yield src, dst
            src, dst = next(source, None), next(consumer, None)


def _strip(objects: Iterator[SourceObject], prefix: str) -> Iterator[SourceObject]:
    for obj in objects:
        yield obj.model_copy(update={"key": obj.key[len(prefix) :]}) if prefix else obj


def _reconcile(
    run: RunRecord, settings: PlannerSettings, deps: PlannerDeps, budget: Budget, enqueuer: Enqueuer
) -> bool:
    """List both buckets side by side and enqueue every key missing or different in the consumer."""
    drift = run.drift or Drift()
    run.drift = drift
    cursor = run.cursor or ListingCursor()
    dest = settings.destination_prefix
    for index in range(cursor.prefix_index, len(run.prefixes)):
        prefix = run.prefixes[index]
        start = cursor.start_after if index == cursor.prefix_index else None
        source = s3_adapter.iter_objects(deps.producer_s3, settings.producer_bucket, prefix, start)
        consumer = _strip(
            s3_adapter.iter_objects(
                deps.consumer_s3, settings.consumer_bucket, dest + prefix, dest + start if start else None
            ),
            dest,
        )
        same_size: list[SourceObject] = []  # compared with the manifest 100 at a time
        seen = 0
        for src, dst in _merge(source, consumer):
            if src is None:
                if dst is not None and not is_internal(dst.key):
                    drift.note("extra", dst.key)
                continue
            if is_internal(src.key):
                continue
            if dst is None:
                drift.note("missing", src.key)
                enqueuer.put(_message(run, settings.producer_bucket, src, force=True))
            elif dst.size != src.size:
                drift.note("different", src.key)
                enqueuer.put(_message(run, settings.producer_bucket, src, force=True))
            else:
                same_size.append(src)
                if len(same_size) == 100:
                    _check_manifest(run, settings, deps, same_size, enqueuer)
                    same_size = []
            seen += 1
            if seen % settings.list_page_size == 0:
                budget.page_done()
                if budget.exhausted:
                    _check_manifest(run, settings, deps, same_size, enqueuer)
                    enqueuer.flush()
                    _count(run, enqueuer)
                    run.cursor = ListingCursor(prefix_index=index, start_after=src.key)
                    return False
        _check_manifest(run, settings, deps, same_size, enqueuer)
    run.cursor = None
    return True


def _check_manifest(
    run: RunRecord,
    settings: PlannerSettings,
    deps: PlannerDeps,
    objects: list[SourceObject],
    enqueuer: Enqueuer,
) -> None:
    """Same size on both sides: the manifest says whether the consumer holds this source version."""
    if not objects:
        return
    entries = deps.manifest.get_many(obj.key for obj in objects)
    for obj in objects:
        entry = entries.get(obj.key)
        if entry is None or entry.etag != obj.etag:
            run.drift.note("different", obj.key)  # type: ignore[union-attr]
            enqueuer.put(_message(run, settings.producer_bucket, obj, force=True))
