"""The consumer bucket's multipart uploads (S3) and the uploads table that records the copies' progress."""

from __future__ import annotations

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

    def page(self, limit: int, after: tuple[str, str] | None = None) -> multipart.UploadsPage:
        return multipart.uploads_page(self.s3, self.bucket, limit=limit, after=after)

    def records(self, keys: list[str]) -> dict[str, UploadRecord]:
        return self.store.get_many(keys) if keys else {}

    def abort(self, key: str, upload_id: str) -> bool:
        """Abort it and forget its record (so that no copier goes on with it); False if S3 no longer had it."""
        aborted = multipart.abort(self.s3, self.bucket, key, upload_id)
        self.store.delete(key, upload_id)
        return aborted
