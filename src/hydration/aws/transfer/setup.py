"""What a `Copier` is built from, shared by the modules that copy: the two S3 clients, the uploads table, the
copy mode, the sizes and the byte budget of stream mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hydration.settings import CopyMode

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from hydration.aws.transfer.memory import ByteBudget
    from hydration.aws.uploads import UploadStore


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

    def writer(self, mode: str) -> S3Client:
        """Who signs the writes of an upload: the producer role (server-side) or the copier's own role."""
        return self.producer if mode == CopyMode.SERVER_SIDE else self.consumer
