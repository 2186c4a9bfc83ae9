"""What a `Copier` is built from, shared by the modules that copy: the two S3 clients, the uploads table, the
copy mode, the verification, the sizes and the byte budget of stream mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hydration.parts import MAX_SINGLE_COPY
from hydration.settings import CopyMode, Verification

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from hydration.aws.transfer.memory import ByteBudget
    from hydration.aws.uploads import UploadRecord, UploadStore


@dataclass(frozen=True)
class Setup:
    producer: S3Client  # the producer role: reads the source, writes server-side copies
    consumer: S3Client  # the copier's own role: writes stream copies
    uploads: UploadStore
    mode: CopyMode  # of new copies (a recorded upload keeps its own)
    multipart_threshold: int
    fanout_threshold: int
    part_size: int
    parts_in_flight: int
    budget: ByteBudget
    verification: Verification = Verification.CHECKSUM
    single_copy_max: int = MAX_SINGLE_COPY  # server-side, objects up to this size may take one CopyObject

    def writer(self, mode: str) -> S3Client:
        """Who signs the writes of an upload: the producer role (server-side) or the copier's own role."""
        return self.producer if mode == CopyMode.SERVER_SIDE else self.consumer

    def in_flight(self, record: UploadRecord) -> int:
        """Parts of one upload copied at once: PARTS_IN_FLIGHT; in stream mode no more than the byte budget
        holds (each part is held in memory while it is copied), at least one."""
        if record.mode == CopyMode.SERVER_SIDE:
            return self.parts_in_flight
        return max(1, min(self.parts_in_flight, self.budget.limit // record.part_size))
