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

READ_CHUNK: Final = MIB  # a GET body is read into its buffer this much at a time (the CRC follows each read)
KEEP_FROM: Final = MIB  # buffers at least this large are kept for reuse (smaller ones cost little to make)
KEEP_MAX: Final = 64  # buffers kept at most


class ByteBudget:
    """Bounds the bytes streamed copies hold in memory across all threads of the container. A request
    larger than the whole budget waits until it can take all of it.

    The bytes are handed out as buffers that are kept and reused for the next request of the same size (the
    parts of an upload are all one size): allocating a fresh buffer for every part let the allocator keep
    freed ones around, so a 1 GiB stream copy peaked above parts-in-flight x part-size. Buffers kept for
    reuse count against the budget; they are let go when a request needs their room."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0  # bytes held by requests, plus the bytes of the buffers kept for reuse
        self._kept: list[bytearray] = []
        self._cond = threading.Condition()

    def acquire(self, amount: int) -> int:
        amount = min(amount, self.limit)
        with self._cond:
            self._cond.wait_for(lambda: self._used + amount <= self.limit or self._let_go(amount))
            self._used += amount
        return amount

    def release(self, amount: int) -> None:
        with self._cond:
            self._used -= amount
            self._cond.notify_all()

    def _let_go(self, amount: int) -> bool:
        """Drop kept buffers until `amount` fits (the caller holds the lock); whether it fits now."""
        while self._kept and self._used + amount > self.limit:
            self._used -= len(self._kept.pop(0))
        return self._used + amount <= self.limit

    @contextmanager
    def held(self, amount: int) -> Iterator[memoryview]:
        """`amount` bytes (at most the whole budget counted) held while the block runs, as a buffer of
        exactly that length: a kept one of that size if there is one."""
        with self._cond:
            kept = next((b for b in self._kept if len(b) == amount), None)
            if kept is not None:
                self._kept.remove(kept)  # its bytes stay counted: now held by this request
        taken = len(kept) if kept is not None else self.acquire(amount)
        buffer = kept if kept is not None else bytearray(amount)
        try:
            yield memoryview(buffer)
        finally:
            with self._cond:
                if taken == len(buffer) >= KEEP_FROM and len(self._kept) < KEEP_MAX:  # still counted
                    self._kept.append(buffer)
                else:
                    self._used -= taken
                self._cond.notify_all()


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


def read_body(
    request: CopyRequest, response: Any, into: memoryview, algorithm: CrcAlgorithm
) -> tuple[Buffer, Checksum]:
    """A GET's body read straight into `into` (exactly its length: no chunk is copied on the way), and its
    CRC computed over what was read."""
    expected = len(into)
    body = response["Body"]
    crc = RunningCrc(algorithm)
    filled = 0
    try:
        while filled < expected:
            count = body.readinto(into[filled : min(expected, filled + READ_CHUNK)])
            if not count:
                break
            crc.update(into[filled : filled + count])
            filled += count
        if filled == expected and body.read(1):
            raise ObjectTransferError(request.source_key, "SizeMismatch", f"more than {expected} bytes")
    except FlexibleChecksumError as exc:  # botocore checked a whole object against its stored checksum
        raise ChecksumMismatchError(request.source_key, "its stored checksum", "different bytes") from exc
    if filled != expected:
        raise ObjectTransferError(request.source_key, "SizeMismatch", f"read {filled} bytes, expected {expected}")
    return Buffer(into), crc.checksum
