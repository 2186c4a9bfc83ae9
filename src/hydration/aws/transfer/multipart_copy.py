"""Multipart copies, above the multipart threshold, from start to end over as many calls as they take:
`copy` (open or resume the key's upload, hand its parts out at the fan-out threshold, else copy parts while
the deadline allows and complete), `copy_parts` (some parts of a fanned-out upload; the call that finds all
of them in completes it) and `abort`. An upload whose source changed, vanished or is archived is discarded;
one that S3 lost is forgotten and started again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hydration.aws import multipart
from hydration.aws.transfer.completion import complete
from hydration.aws.transfer.inflight import RecordGoneError, copy_in_flight
from hydration.aws.transfer.source import Calls
from hydration.aws.transfer.upload import discard, handoff, open_upload
from hydration.copying import CopyRequest, CopyResult, Deadline, Handoff, HandoffReason, PartsOutcome
from hydration.errors import (
    InvalidRequestError,
    ObjectTransferError,
    SourceArchivedError,
    SourceChangedError,
    SourceVanishedError,
)
from hydration.observability import logger
from hydration.parts import PartPlan, complete_seconds

if TYPE_CHECKING:
    from hydration.aws.transfer.setup import Setup

# The port's `copy`: how a fanned-out copy whose upload is gone starts again.
Restart = Callable[[CopyRequest, Deadline], CopyResult | Handoff]


def copy(setup: Setup, request: CopyRequest, deadline: Deadline, calls: Calls) -> CopyResult | Handoff:
    request, record, in_upload = open_upload(setup, request, deadline, calls)
    plan = PartPlan(record.size, record.part_size)
    if in_upload is None and request.size >= setup.fanout_threshold:
        return handoff(HandoffReason.FANOUT, request, record, tuple(plan.numbers()))
    # A recorded upload goes on here, fanned out or not: a copy is never only waiting for parts messages.
    remaining = tuple(n for n in plan.numbers() if n not in (in_upload or ()))
    try:
        flight = copy_in_flight(setup, request, record, list(remaining), deadline, calls)
        progressed = in_upload is None or flight.landed > 0  # a new upload, or parts put in it
        if flight.not_started:
            return handoff(HandoffReason.DEADLINE, request, record, flight.not_started, progressed=progressed)
        result = complete(setup, request, record, deadline, calls)
        if result is None and deadline.remaining_seconds() >= complete_seconds(record.part_count):
            progressed = True  # another call holds the completion's claim: a lease, bounded in time
    except (SourceChangedError, SourceVanishedError, SourceArchivedError):
        discard(setup, record)
        raise
    except multipart.UploadGoneError as exc:
        setup.uploads.delete(record.key, record.upload_id)
        raise ObjectTransferError(
            request.source_key, multipart.NO_SUCH_UPLOAD, "the multipart upload was aborted while it was copied"
        ) from exc
    except RecordGoneError as exc:
        raise ObjectTransferError(
            request.source_key, "UploadSuperseded", "another invocation completed or replaced this upload"
        ) from exc
    return result or handoff(HandoffReason.DEADLINE, request, record, (), progressed=progressed)


def copy_parts(
    setup: Setup,
    request: CopyRequest,
    upload_id: str,
    part_numbers: tuple[int, ...],
    deadline: Deadline,
    calls: Calls,
    restart: Restart,
) -> PartsOutcome:
    record = setup.uploads.get(request.dest_key)
    if record is None or record.upload_id != upload_id:
        return PartsOutcome(upload_gone=True)
    request = request.pinned_to(record.source_etag, record.source_last_modified, record.size)
    wanted = tuple(sorted(set(part_numbers)))
    if not set(wanted) <= set(range(1, record.part_count + 1)):
        raise InvalidRequestError(f"{request.dest_key}: the upload has parts 1..{record.part_count}, not {wanted}")
    try:
        flight = copy_in_flight(setup, request, record, [n for n in wanted if n not in record.parts], deadline, calls)
        remaining = flight.not_started
        done = tuple(n for n in wanted if n not in remaining)
        if remaining or len(flight.recorded or record.parts) < record.part_count:
            return PartsOutcome(done=done, remaining=remaining)
        result = complete(setup, request, record, deadline, calls)
        if result is None and deadline.remaining_seconds() < complete_seconds(record.part_count):
            # every part is in, but not the time to complete: `copy` finishes it in a later invocation
            finish = handoff(HandoffReason.DEADLINE, request, record, (), progressed=flight.landed > 0)
            return PartsOutcome(done=done, handoff=finish)
        return PartsOutcome(done=done, result=result)
    except RecordGoneError:
        return PartsOutcome(upload_gone=True)
    except SourceChangedError:
        if not discard(setup, record):
            return PartsOutcome(upload_gone=True)  # another call saw it first and restarted the copy
        return _restarted(restart, calls.current(request), deadline)
    except multipart.UploadGoneError:
        if not setup.uploads.delete(record.key, record.upload_id):
            return PartsOutcome(upload_gone=True)
        logger.warning("multipart upload aborted outside the copier; starting again", key=request.dest_key)
        return _restarted(restart, request, deadline)
    except (SourceVanishedError, SourceArchivedError):
        discard(setup, record)
        raise


def abort(setup: Setup, request: CopyRequest, upload_id: str | None) -> None:
    record = setup.uploads.get(request.dest_key)
    if record is not None and upload_id in (None, record.upload_id):
        discard(setup, record)
    elif upload_id is not None:
        multipart.abort(setup.writer(setup.mode), request.dest_bucket, request.dest_key, upload_id)


def _restarted(restart: Restart, request: CopyRequest, deadline: Deadline) -> PartsOutcome:
    """A fanned-out copy whose upload is gone, started again (or done at once if now small)."""
    outcome = restart(request, deadline)
    if isinstance(outcome, Handoff):
        return PartsOutcome(handoff=outcome)
    return PartsOutcome(result=outcome)
