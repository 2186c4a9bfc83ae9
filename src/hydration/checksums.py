"""Full-object CRC checksums as S3 computes them: CRC32, CRC32C and CRC64NVME (no AWS calls here).

S3 stores a full-object checksum with every object (CRC64NVME by default since 2025, or the algorithm the
uploader chose) and reports it with `ChecksumMode=ENABLED`. These three CRCs can be *combined*: the CRC of
A||B follows from crc(A), crc(B) and len(B) alone, which is how S3 turns the part checksums of a multipart
upload with `ChecksumType=FULL_OBJECT` into the checksum of the whole object, and how we predict that value
from the part checksums before completing an upload.

`Checksum` is one value ("CRC64NVME:<base64>" as text); `RunningCrc` computes one over streamed bytes
(awscrt); `crc_combine` is zlib's `crc32_combine` (the GF(2) matrix method) for any of the three.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

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
    def reflected_polynomial(self) -> int:
        return _POLYNOMIALS[self]

    @property
    def field(self) -> str:
        """The name of this checksum in S3 requests and responses, e.g. `ChecksumCRC64NVME`."""
        return f"Checksum{self.value}"


# The polynomials bit-reversed: all three CRCs are reflected, with initial value and final XOR all ones.
_POLYNOMIALS = {
    CrcAlgorithm.CRC32: 0xEDB88320,
    CrcAlgorithm.CRC32C: 0x82F63B78,
    CrcAlgorithm.CRC64NVME: 0x9A6C9329AC4BC9B5,
}

_COMPUTE: dict[CrcAlgorithm, Callable[[bytes | bytearray | memoryview, int], int]] = {
    CrcAlgorithm.CRC32: crt.crc32,
    CrcAlgorithm.CRC32C: crt.crc32c,
    CrcAlgorithm.CRC64NVME: crt.crc64nvme,
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


# --------------------------------------------------------------------------- combining (zlib's method)
#
# A CRC register is a vector over GF(2); appending one zero bit is a linear map, so appending n zero bytes
# is a matrix power. An operator is stored as `width` columns (ints): column i is the image of bit i.
# For CRCs whose initial value and final XOR are equal (all three here), crc(A||B) is crc(A) advanced over
# len(B) zero bytes, XOR crc(B).


def _times(operator: tuple[int, ...], vector: int) -> int:
    total = 0
    column = 0
    while vector:
        if vector & 1:
            total ^= operator[column]
        vector >>= 1
        column += 1
    return total


def _square(operator: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_times(operator, column) for column in operator)


@cache
def _zero_bytes_operator(algorithm: CrcAlgorithm, power: int) -> tuple[int, ...]:
    """The operator that advances a CRC register over 2**power zero bytes."""
    if power == 0:
        # one zero bit: shift right, XOR the polynomial when the bit shifted out is set; then 8 of them
        one_bit = (algorithm.reflected_polynomial, *(1 << row for row in range(algorithm.width - 1)))
        two_bits = _square(one_bit)
        four_bits = _square(two_bits)
        return _square(four_bits)
    return _square(_zero_bytes_operator(algorithm, power - 1))


def crc_combine(algorithm: CrcAlgorithm, crc_a: int, crc_b: int, len_b: int) -> int:
    """The CRC of A||B from crc(A), crc(B) and len(B) in bytes.

    Cost: one matrix-vector product per set bit of len_b (the operators are computed once and cached), so
    combining the 10,000 parts of a 5 TiB object takes milliseconds."""
    if len_b < 0:
        raise ValueError("len_b must not be negative")
    power = 0
    while len_b:
        if len_b & 1:
            crc_a = _times(_zero_bytes_operator(algorithm, power), crc_a)
        len_b >>= 1
        power += 1
    return crc_a ^ crc_b


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
