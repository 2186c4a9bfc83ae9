"""`Copier`, the transfer port (`hydration.copying.Transfer`) over S3: a copy takes one request up to the
multipart threshold, and server-side up to 5 GiB when the deadline leaves time for it (`single`), a multipart
upload otherwise (`multipart_copy`); a source that changed since
listing is copied in its current version (re-pinned at most CHANGED_RETRIES times)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final

from hydration.aws.transfer import multipart_copy
from hydration.aws.transfer.memory import ByteBudget
from hydration.aws.transfer.setup import Setup
from hydration.aws.transfer.single import copy_single, fits
from hydration.aws.transfer.source import Calls
from hydration.copying import CopyRequest, CopyResult, Deadline, Handoff, PartsOutcome
from hydration.errors import ObjectTransferError, SourceArchivedError, SourceChangedError
from hydration.observability import logger
from hydration.parts import MAX_SINGLE_COPY
from hydration.settings import CopyMode, Verification

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from hydration.aws.uploads import UploadStore

CHANGED_RETRIES: Final = 3


class Copier:
    """Implements `hydration.copying.Transfer`. Clients and the upload store are injected; thread-safe."""

    def __init__(
        self,
        *,
        producer_s3: S3Client,
        consumer_s3: S3Client,
        uploads: UploadStore,
        server_side: bool,
        multipart_threshold: int,
        fanout_threshold: int,
        part_size: int,
        parts_in_flight: int,
        byte_budget: ByteBudget | None = None,
        verification: Verification = Verification.CHECKSUM,
        single_copy_max: int = MAX_SINGLE_COPY,
    ) -> None:
        self._setup = Setup(
            producer=producer_s3,
            consumer=consumer_s3,
            uploads=uploads,
            mode=CopyMode.SERVER_SIDE if server_side else CopyMode.STREAM,
            multipart_threshold=multipart_threshold,
            fanout_threshold=fanout_threshold,
            part_size=part_size,
            parts_in_flight=parts_in_flight,
            budget=byte_budget or ByteBudget(max(multipart_threshold, part_size * parts_in_flight) * 4),
            verification=verification,
            single_copy_max=min(single_copy_max, MAX_SINGLE_COPY),
        )

    def copy(self, request: CopyRequest, deadline: Deadline) -> CopyResult | Handoff:
        calls = Calls(self._setup.producer)
        try:
            return self._copy(request, deadline, calls)
        except SourceArchivedError as exc:  # one HEAD says where it is and whether a restore is running
            raise calls.archived(request, exc) from exc

    def _copy(self, request: CopyRequest, deadline: Deadline, calls: Calls) -> CopyResult | Handoff:
        for _ in range(CHANGED_RETRIES + 1):
            try:
                if fits(self._setup, request, deadline):
                    return copy_single(self._setup, request, calls)
                outcome = multipart_copy.copy(self._setup, request, deadline, calls)
                if isinstance(outcome, Handoff):  # the requests of a copy that goes on are counted as well
                    return dataclasses.replace(outcome, requests=calls.count)
                return outcome
            except SourceChangedError:
                listed, request = request, calls.current(request)
                logger.info(
                    "source changed since listing; copying its current version",
                    key=request.source_key,
                    listed_etag=listed.etag,
                    current_etag=request.etag,
                )
        raise ObjectTransferError(
            request.source_key, "SourceKeepsChanging", f"changed {CHANGED_RETRIES + 1} times while being copied"
        )

    def copy_parts(
        self, request: CopyRequest, upload_id: str, part_numbers: tuple[int, ...], deadline: Deadline
    ) -> PartsOutcome:
        calls = Calls(self._setup.producer)
        try:
            outcome = multipart_copy.copy_parts(
                self._setup, request, upload_id, part_numbers, deadline, calls, self.copy
            )
        except SourceArchivedError as exc:
            raise calls.archived(request, exc) from exc
        if outcome.result is not None:
            return outcome
        restarted = outcome.handoff.requests if outcome.handoff else 0  # counted by the `copy` that restarted
        return dataclasses.replace(outcome, requests=calls.count + restarted)

    def abort(self, request: CopyRequest, upload_id: str | None = None) -> None:
        multipart_copy.abort(self._setup, request, upload_id)
