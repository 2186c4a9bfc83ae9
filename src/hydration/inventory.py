"""S3 Inventory reports as a run's source: the manifest (verified against manifest.checksum) and the rows of
its gzipped CSV data files.

A report is delivered under `<destination prefix>/<source bucket>/<configuration id>/<YYYY-MM-DDTHH-MMZ>/`:
`manifest.json` lists the data files (`files`: key, size, `MD5checksum` of the file as stored), the CSV
columns (`fileSchema`), the source bucket and `creationTimestamp` (milliseconds since the epoch: when S3
began scanning the bucket); `manifest.checksum` is the MD5 of manifest.json. The CSV files have no header;
every field is quoted; a key is URL-encoded (`+` is a space, as a form encodes it). Rows are eventually
consistent with the bucket: the copier's pinned read is the truth (a key the report lists but S3 no longer
has settles as vanished). Only CSV reports are read (ORC and Parquet are refused, with their name).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO
from urllib.parse import unquote_plus

from hydration.errors import HydrationError
from hydration.models import InventoryFile, SourceObject

REQUIRED = ("Key", "Size", "LastModifiedDate", "ETag")


class InventoryError(HydrationError):
    """A report that cannot be used as it is (its checksum, format or source): nothing of it is enqueued."""


@dataclass(frozen=True)
class InventoryManifest:
    source_bucket: str
    created: datetime  # when S3 began scanning the bucket for this report
    columns: list[str]
    files: list[InventoryFile]

    @classmethod
    def parse(cls, raw: bytes, checksum: bytes, *, bucket: str) -> InventoryManifest:
        """manifest.json, checked against manifest.checksum (the MD5 of its content, hex)."""
        digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        expected = checksum.decode("ascii", "replace").strip().lower()
        if digest != expected:
            raise InventoryError(f"manifest.json's MD5 is {digest}, manifest.checksum says {expected!r}: refused")
        try:
            data = json.loads(raw)
            fmt = str(data.get("fileFormat", ""))
            columns = [name.strip() for name in str(data["fileSchema"]).split(",")]
            created = datetime.fromtimestamp(int(data["creationTimestamp"]) / 1000, UTC)
            files = [
                InventoryFile(bucket=bucket, key=f["key"], size=int(f["size"]), md5=f["MD5checksum"], columns=columns)
                for f in data["files"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise InventoryError(f"manifest.json is not an inventory manifest: {exc}") from exc
        if fmt != "CSV":
            raise InventoryError(f"inventory reports in {fmt or 'an unknown format'} are not read: configure CSV")
        missing = [name for name in REQUIRED if name not in columns]
        if missing:
            raise InventoryError(f"the report lacks the fields {', '.join(missing)} (fileSchema: {columns})")
        return cls(str(data.get("sourceBucket", "")), created, columns, files)


@dataclass(frozen=True)
class Row:
    """One CSV row, still raw: the cheap tests (its time as text, its encoded key) come first."""

    key_encoded: str
    size: str
    last_modified: str
    etag: str
    multipart: bool

    @property
    def key(self) -> str:
        return unquote_plus(self.key_encoded)

    def source_object(self) -> SourceObject:
        etag = self.etag if self.etag.startswith('"') else f'"{self.etag}"'  # as ListObjectsV2 writes it
        return SourceObject.model_construct(
            key=self.key,
            size=int(self.size or 0),
            etag=etag,
            last_modified=datetime.fromisoformat(self.last_modified.replace("Z", "+00:00")),
            version_id=None,
        )


def inventory_time(moment: datetime) -> str:
    """A time as the report writes LastModifiedDate (`2024-05-01T06:00:00.000Z`): rows compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rows(body: IO[bytes], columns: list[str]) -> Iterator[Row]:
    """The rows of a gzipped CSV data file, streamed."""
    index = {name: columns.index(name) for name in (*REQUIRED, "IsMultipartUploaded") if name in columns}
    key, size, modified, etag = (index[name] for name in REQUIRED)
    multipart = index.get("IsMultipartUploaded")
    text = io.TextIOWrapper(gzip.GzipFile(fileobj=body), encoding="utf-8", newline="")
    for fields in csv.reader(text):
        if not fields:
            continue
        yield Row(
            fields[key],
            fields[size],
            fields[modified],
            fields[etag],
            multipart is not None and fields[multipart].lower() == "true",
        )
