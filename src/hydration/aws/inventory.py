"""Reading S3 Inventory reports from the consumer's inventory bucket: the manifest and its checksum, and each
data file twice, streamed (first its MD5 against the manifest's, then its rows, pinned to the same version
with If-Match): nothing of a file is enqueued before the whole file is known to be the one the manifest
lists, and memory stays a chunk whatever the file's size."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from hydration.inventory import InventoryError, InventoryManifest, Row, rows
from hydration.models import InventoryFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK = 8 * 1024 * 1024


def split_url(url: str) -> tuple[str, str]:
    """`s3://bucket/.../manifest.json` (or `.../manifest.checksum`) -> (bucket, the report's folder/)."""
    parsed = urlparse(url)
    folder, _, name = parsed.path.lstrip("/").rpartition("/")
    if parsed.scheme != "s3" or not parsed.netloc or name not in ("manifest.json", "manifest.checksum"):
        raise InventoryError(f"{url!r} does not name an inventory report's manifest.json or manifest.checksum")
    return parsed.netloc, folder + "/"


def read_manifest(client: S3Client, url: str) -> InventoryManifest:
    bucket, folder = split_url(url)
    raw = client.get_object(Bucket=bucket, Key=folder + "manifest.json")["Body"].read()
    checksum = client.get_object(Bucket=bucket, Key=folder + "manifest.checksum")["Body"].read()
    return InventoryManifest.parse(raw, checksum, bucket=bucket)


def verified(client: S3Client, file: InventoryFile) -> str:
    """The data file's ETag, once its content's MD5 is the manifest's (InventoryError otherwise)."""
    response = client.get_object(Bucket=file.bucket, Key=file.key)
    digest = hashlib.md5(usedforsecurity=False)
    body = response["Body"]
    while chunk := body.read(CHUNK):
        digest.update(chunk)
    if digest.hexdigest() != file.md5:
        raise InventoryError(f"{file.key}: MD5 {digest.hexdigest()}, the manifest says {file.md5}: refused")
    return str(response["ETag"])


def read_rows(client: S3Client, file: InventoryFile, etag: str) -> Iterator[Row]:
    """The file's rows, from the version whose MD5 was checked."""
    response = client.get_object(Bucket=file.bucket, Key=file.key, IfMatch=etag)
    yield from rows(response["Body"], file.columns)  # type: ignore[arg-type]
