"""The memory of stream mode: the `ByteBudget` that bounds the bytes stream copies hold at once, and a GET's
body read into one buffer (its CRC computed on the way) that is then the body of the PUT or UploadPart."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from botocore.exceptions import FlexibleChecksumError

from hydration.checksums import Checksum, CrcAlgorithm, RunningCrc
from hydration.copying import CopyRequest
from hydration.errors import ChecksumMismatchError, ObjectTransferError
from hydration.parts import MIB

READ_CHUNK: Final = MIB  # a GET body is read in chunks of this size (each chunk is held twice on the way)


class ByteBudget:
    """Bounds the bytes streamed copies hold in memory across all threads of the container. A request
    larger than the whole budget waits until it can take all of it."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, amount: int) -> int:
        amount = min(amount, self._limit)
        with self._cond:
            self._cond.wait_for(lambda: self._used + amount <= self._limit)
            self._used += amount
        return amount

    def release(self, amount: int) -> None:
        with self._cond:
            self._used -= amount
            self._cond.notify_all()

    @contextmanager
    def held(self, amount: int) -> Iterator[None]:
        """`amount` (at most the whole budget) held while the block runs."""
        taken = self.acquire(amount)
        try:
            yield
        finally:
            self.release(taken)


class Buffer(io.RawIOBase):
    """A read-only, seekable file over bytes in memory, without copying them: a request body (botocore
    rewinds it to retry)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        count = min(len(target), len(self._view) - self._position)
        target[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


def read_body(request: CopyRequest, response: Any, expected: int, algorithm: CrcAlgorithm) -> tuple[Buffer, Checksum]:
    """A GET's body, in chunks into one buffer (no second copy), and its CRC computed on the way."""
    buffer = bytearray(expected)
    view = memoryview(buffer)
    crc = RunningCrc(algorithm)
    filled = 0
    try:
        while chunk := response["Body"].read(READ_CHUNK):
            if filled + len(chunk) > expected:
                raise ObjectTransferError(request.source_key, "SizeMismatch", f"more than {expected} bytes")
            view[filled : filled + len(chunk)] = chunk
            crc.update(chunk)
            filled += len(chunk)
    except FlexibleChecksumError as exc:  # botocore checked a whole object against its stored checksum
        raise ChecksumMismatchError(request.source_key, "its stored checksum", "different bytes") from exc
    if filled != expected:
        raise ObjectTransferError(request.source_key, "SizeMismatch", f"read {filled} bytes, expected {expected}")
    return Buffer(view), crc.checksum
