"""Full-object CRC checksums as S3 computes them: CRC32, CRC32C and CRC64NVME (no AWS calls here).

S3 stores a full-object checksum with every object (CRC64NVME by default since 2025, or the algorithm the
uploader chose) and reports it with `ChecksumMode=ENABLED`. These three CRCs can be *combined*: the CRC of
A||B follows from crc(A), crc(B) and len(B) alone, which is how S3 turns the part checksums of a multipart
upload with `ChecksumType=FULL_OBJECT` into the checksum of the whole object, and how we predict that value
from the part checksums before completing an upload.

`Checksum` is one value ("CRC64NVME:<base64>" as text); `RunningCrc` computes one over streamed bytes and
`crc_combine` combines two, both with awscrt (native code, the library botocore computes S3's checksums
with).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from awscrt import checksums as crt


class CrcAlgorithm(StrEnum):
    """The checksum algorithms S3 supports as full-object checksums (value = S3's name)."""

    CRC32 = "CRC32"
    CRC32C = "CRC32C"
    CRC64NVME = "CRC64NVME"

    @property
    def width(self) -> int:
        return 64 if self is CrcAlgorithm.CRC64NVME else 32

    @property
    def field(self) -> str:
        """The name of this checksum in S3 requests and responses, e.g. `ChecksumCRC64NVME`."""
        return f"Checksum{self.value}"


_COMPUTE: dict[CrcAlgorithm, Callable[[bytes | bytearray | memoryview, int], int]] = {
    CrcAlgorithm.CRC32: crt.crc32,
    CrcAlgorithm.CRC32C: crt.crc32c,
    CrcAlgorithm.CRC64NVME: crt.crc64nvme,
}
_COMBINE: dict[CrcAlgorithm, Callable[[int, int, int], int]] = {
    CrcAlgorithm.CRC32: crt.combine_crc32,
    CrcAlgorithm.CRC32C: crt.combine_crc32c,
    CrcAlgorithm.CRC64NVME: crt.combine_crc64nvme,
}

# What the copies carry when the source has no full-object CRC to follow (S3's own default).
DEFAULT_ALGORITHM = CrcAlgorithm.CRC64NVME


@dataclass(frozen=True)
class Checksum:
    """A full-object CRC: the algorithm and the integer value."""

    algorithm: CrcAlgorithm
    value: int

    @classmethod
    def from_base64(cls, algorithm: CrcAlgorithm, text: str) -> Checksum:
        """S3's form: the big-endian bytes of the CRC, base64-encoded. Raises ValueError if malformed."""
        try:
            raw = base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"{algorithm} checksum {text!r} is not base64") from exc
        if len(raw) != algorithm.width // 8:
            raise ValueError(f"{algorithm} checksum {text!r} has {len(raw)} bytes, expected {algorithm.width // 8}")
        return cls(algorithm, int.from_bytes(raw, "big"))

    @classmethod
    def parse(cls, text: str) -> Checksum:
        """The inverse of `str()`: "CRC64NVME:<base64>"."""
        algorithm, _, value = text.partition(":")
        return cls.from_base64(CrcAlgorithm(algorithm), value)

    @property
    def base64(self) -> str:
        return base64.b64encode(self.value.to_bytes(self.algorithm.width // 8, "big")).decode("ascii")

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.base64}"


class RunningCrc:
    """A CRC over bytes fed in order (awscrt, native speed)."""

    def __init__(self, algorithm: CrcAlgorithm) -> None:
        self.algorithm = algorithm
        self._compute = _COMPUTE[algorithm]
        self._value = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._value = self._compute(data, self._value)

    @property
    def checksum(self) -> Checksum:
        return Checksum(self.algorithm, self._value)


def compute(algorithm: CrcAlgorithm, data: bytes) -> Checksum:
    crc = RunningCrc(algorithm)
    crc.update(data)
    return crc.checksum


# --------------------------------------------------------------------------- combining


def crc_combine(algorithm: CrcAlgorithm, crc_a: int, crc_b: int, len_b: int) -> int:
    """The CRC of A||B from crc(A), crc(B) and len(B) in bytes (awscrt's combine: logarithmic in len_b, so
    combining the 10,000 parts of a 5 TiB object takes milliseconds)."""
    if len_b < 0:
        raise ValueError("len_b must not be negative")
    return _COMBINE[algorithm](crc_a, crc_b, len_b)


def crc64nvme_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    return crc_combine(CrcAlgorithm.CRC64NVME, crc_a, crc_b, len_b)


def combine_parts(algorithm: CrcAlgorithm, parts: list[tuple[int, int]]) -> Checksum:
    """The full-object checksum of parts given in order as (crc, length)."""
    if not parts:
        raise ValueError("no parts to combine")
    total, _ = parts[0]
    for crc, length in parts[1:]:
        total = crc_combine(algorithm, total, crc, length)
    return Checksum(algorithm, total)
