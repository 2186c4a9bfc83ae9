"""The parts of a multipart copy in flight under the deadline: each part copied (UploadPartCopy, or a ranged
GET + UploadPart in stream mode), several at a time (`Setup.in_flight`), and recorded in the uploads table in
batches: every RECORD_EVERY_PARTS parts or RECORD_EVERY_SECONDS, and when the call stops (ListParts is the
truth on resume anyway; the record says how far a copy is, and which call recorded a fan-out's last part).
A part starts only while the deadline leaves time to finish and record it."""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hydration.aws.transfer.memory import read_body
from hydration.aws.transfer.source import Calls, copy_pin, copy_source
from hydration.checksums import CrcAlgorithm
from hydration.copying import CopyRequest, Deadline
from hydration.parts import RECORD_SECONDS, PartPlan, copy_seconds
from hydration.settings import CopyMode

if TYPE_CHECKING:
    from hydration.aws.transfer.setup import Setup
    from hydration.aws.uploads import UploadRecord

RECORD_EVERY_PARTS: Final = 32
RECORD_EVERY_SECONDS: Final = 5.0


class RecordGoneError(Exception):
    """The uploads table no longer names this upload: another call completed, replaced or aborted it."""


@dataclass(frozen=True)
class InFlight:
    """What a call did: the parts it did not start, the parts the record holds after its last write (None if
    it wrote nothing), and how many parts it put in the upload."""

    not_started: tuple[int, ...]
    recorded: frozenset[int] | None
    landed: int


class _Recorder:
    """Parts that landed, written to the uploads table in batches (one conditional write each)."""

    def __init__(self, setup: Setup, record: UploadRecord) -> None:
        self._setup = setup
        self._record = record
        self._pending: set[int] = set()
        self._written_at = time.monotonic()
        self.recorded: frozenset[int] | None = None
        self.landed = 0

    def add(self, numbers: set[int]) -> None:
        self._pending |= numbers
        self.landed += len(numbers)
        if len(self._pending) >= RECORD_EVERY_PARTS or time.monotonic() - self._written_at >= RECORD_EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        recorded = self._setup.uploads.add_parts(self._record.key, self._record.upload_id, self._pending)
        self._pending = set()
        self._written_at = time.monotonic()
        if recorded is None:
            raise RecordGoneError(self._record.upload_id)
        self.recorded = recorded


def copy_in_flight(
    setup: Setup, request: CopyRequest, record: UploadRecord, numbers: list[int], deadline: Deadline, calls: Calls
) -> InFlight:
    """Copy parts in order, `Setup.in_flight` at a time, while the deadline leaves time for one more; record
    them in batches and before returning. After a failure no part starts, the ones in flight finish (and are
    recorded), and it is raised."""
    copy_part = _copy_part if record.mode == CopyMode.SERVER_SIDE else _stream_part
    in_flight = setup.in_flight(record)
    queue = deque(numbers)
    pending: dict[Future[float], int] = {}
    longest: float | None = None
    recorder = _Recorder(setup, record)
    failure: BaseException | None = None

    def timed(number: int) -> float:
        started = time.monotonic()
        copy_part(setup, request, record, number, calls)
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="part") as pool:
        while True:
            while queue and failure is None and len(pending) < in_flight:
                expected = longest + RECORD_SECONDS if longest is not None else copy_seconds(record.part_size)
                if deadline.remaining_seconds() < expected:
                    break
                number = queue.popleft()
                pending[pool.submit(timed, number)] = number
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            landed = set()
            for future in finished:
                number = pending.pop(future)
                try:
                    seconds = future.result()
                except Exception as exc:
                    failure = failure or exc
                    continue
                longest = max(longest or 0.0, seconds)
                landed.add(number)
            try:
                recorder.add(landed)
            except RecordGoneError as exc:
                failure = failure or exc
    if not isinstance(failure, RecordGoneError):
        try:
            recorder.flush()
        except RecordGoneError as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
    return InFlight(tuple(queue), recorder.recorded, recorder.landed)


def _copy_part(setup: Setup, request: CopyRequest, record: UploadRecord, number: int, calls: Calls) -> None:
    """UploadPartCopy: S3 copies the byte range and keeps its CRC (the upload's algorithm)."""
    first, last = PartPlan(record.size, record.part_size).byte_range(number)
    calls.send(
        request,
        setup.producer.upload_part_copy,
        CopySource=copy_source(request),
        CopySourceRange=f"bytes={first}-{last}",
        Bucket=request.dest_bucket,
        Key=request.dest_key,
        UploadId=record.upload_id,
        PartNumber=number,
        **copy_pin(request),
    )


def _stream_part(setup: Setup, request: CopyRequest, record: UploadRecord, number: int, calls: Calls) -> None:
    """Ranged GET + UploadPart with the part's CRC computed here (S3 verifies it)."""
    algorithm = CrcAlgorithm(record.checksum_algorithm)
    first, last = PartPlan(record.size, record.part_size).byte_range(number)
    with setup.budget.held(last - first + 1) as buffer:
        response = calls.get(request, Range=f"bytes={first}-{last}")
        data, crc = read_body(request, response, buffer, algorithm)
        calls.send(
            request,
            setup.consumer.upload_part,
            Bucket=request.dest_bucket,
            Key=request.dest_key,
            UploadId=record.upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm=algorithm.value,
            **{algorithm.field: crc.base64},
        )
