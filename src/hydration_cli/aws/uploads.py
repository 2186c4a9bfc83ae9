"""The consumer bucket's multipart uploads (S3) and the uploads table that records the copies' progress."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hydration.aws import multipart
from hydration.aws.uploads import UploadRecord, UploadStore


@dataclass
class ConsumerUploads:
    """The bucket's multipart uploads (S3) and the uploads table: what `uploads list|abort` read and change."""

    s3: Any
    bucket: str
    store: UploadStore

    def uploads(self) -> Iterator[multipart.InProgressUpload]:
        return multipart.in_progress(self.s3, self.bucket)

    def records(self) -> dict[str, UploadRecord]:
        return {record.key: record for record in self.store}

    def abort(self, key: str, upload_id: str) -> bool:
        """Abort it and forget its record (so that no copier goes on with it); False if S3 no longer had it."""
        aborted = multipart.abort(self.s3, self.bucket, key, upload_id)
        self.store.delete(key, upload_id)
        return aborted
