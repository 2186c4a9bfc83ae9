"""The parts of a multipart copy in flight under the deadline: each part copied (UploadPartCopy, or a ranged
GET + UploadPart in stream mode), several at a time, and recorded in the uploads table as it lands; a part
starts only while the deadline leaves time to finish and record it."""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Final

from hydration.aws.transfer.memory import read_body
from hydration.aws.transfer.source import Calls, copy_pin, copy_source
from hydration.checksums import CrcAlgorithm
from hydration.copying import CopyRequest, Deadline
from hydration.parts import MIB, PartPlan
from hydration.settings import CopyMode

if TYPE_CHECKING:
    from hydration.aws.transfer.setup import Setup
    from hydration.aws.uploads import UploadRecord

# A part starts only if the longest part of this call so far (before the first: its size at this pace)
# plus the time to record it still fit in the deadline.
ASSUMED_BYTES_PER_SECOND: Final = 10 * MIB
RECORD_SECONDS: Final = 1.0  # a DynamoDB write, with room to spare


class RecordGoneError(Exception):
    """The uploads table no longer names this upload: another call completed, replaced or aborted it."""


def copy_in_flight(
    setup: Setup, request: CopyRequest, record: UploadRecord, numbers: list[int], deadline: Deadline, calls: Calls
) -> tuple[tuple[int, ...], frozenset[int] | None]:
    """Copy parts in order, `parts_in_flight` at a time, each recorded as it lands, while the deadline
    leaves time for one more. Returns the parts not started and the parts recorded after the last one.
    After a failure no part starts, the ones in flight finish (and are recorded), and it is raised."""
    part_size = record.part_size
    copy_part = _copy_part if record.mode == CopyMode.SERVER_SIDE else _stream_part
    queue = deque(numbers)
    pending: dict[Future[float], int] = {}
    longest: float | None = None
    recorded: frozenset[int] | None = None
    failure: BaseException | None = None

    def timed(number: int) -> float:
        started = time.monotonic()
        copy_part(setup, request, record, number, calls)
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=setup.parts_in_flight, thread_name_prefix="part") as pool:
        while True:
            while queue and failure is None and len(pending) < setup.parts_in_flight:
                expected = longest if longest is not None else part_size / ASSUMED_BYTES_PER_SECOND
                if deadline.remaining_seconds() < expected + RECORD_SECONDS:
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
            if landed:  # one write for the parts that landed together (the item is written often)
                recorded = setup.uploads.add_parts(record.key, record.upload_id, landed)
                if recorded is None:
                    failure = failure or RecordGoneError(record.upload_id)
    if failure is not None:
        raise failure
    return tuple(queue), recorded


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
    with setup.budget.held(last - first + 1):
        response = calls.get(request, Range=f"bytes={first}-{last}")
        data, crc = read_body(request, response, last - first + 1, algorithm)
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
