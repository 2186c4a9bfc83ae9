"""CRC combining (awscrt's) against the CRC of the concatenation, and against an independent reference (zlib's
GF(2) matrix method, the project's own implementation before awscrt's) for lengths no test can materialise."""

from __future__ import annotations

import random

import pytest
from awscrt import checksums as crt

from hydration.checksums import (
    Checksum,
    CrcAlgorithm,
    RunningCrc,
    combine_parts,
    compute,
    crc64nvme_combine,
    crc_combine,
)

DIRECT = {
    CrcAlgorithm.CRC32: crt.crc32,
    CrcAlgorithm.CRC32C: crt.crc32c,
    CrcAlgorithm.CRC64NVME: crt.crc64nvme,
}


def test_the_check_values_of_the_catalogue() -> None:
    # The standard "123456789" check values (CRC RevEng catalogue).
    assert compute(CrcAlgorithm.CRC32, b"123456789").value == 0xCBF43926
    assert compute(CrcAlgorithm.CRC32C, b"123456789").value == 0xE3069283
    assert compute(CrcAlgorithm.CRC64NVME, b"123456789").value == 0xAE8B14860A799888


def test_crc64nvme_combine_equals_the_crc_of_the_concatenation_over_random_splits() -> None:
    rng = random.Random(20261130)
    data = rng.randbytes(200_000)
    for _ in range(200):
        cut = rng.randrange(0, len(data) + 1)
        a, b = data[:cut], data[cut:]
        assert crc64nvme_combine(crt.crc64nvme(a), crt.crc64nvme(b), len(b)) == crt.crc64nvme(data)


@pytest.mark.parametrize("algorithm", list(CrcAlgorithm))
def test_every_algorithm_combines_like_the_direct_crc(algorithm: CrcAlgorithm) -> None:
    rng = random.Random(str(algorithm))
    direct = DIRECT[algorithm]
    for _ in range(50):
        a, b = rng.randbytes(rng.randrange(0, 5000)), rng.randbytes(rng.randrange(0, 5000))
        assert crc_combine(algorithm, direct(a), direct(b), len(b)) == direct(a + b)


# The polynomials bit-reversed: all three CRCs are reflected, with initial value and final XOR all ones.
POLYNOMIALS = {
    CrcAlgorithm.CRC32: 0xEDB88320,
    CrcAlgorithm.CRC32C: 0x82F63B78,
    CrcAlgorithm.CRC64NVME: 0x9A6C9329AC4BC9B5,
}


def _times(operator: tuple[int, ...], vector: int) -> int:
    total, column = 0, 0
    while vector:
        if vector & 1:
            total ^= operator[column]
        vector >>= 1
        column += 1
    return total


def _square(operator: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_times(operator, column) for column in operator)


def reference_combine(algorithm: CrcAlgorithm, crc_a: int, crc_b: int, len_b: int) -> int:
    """zlib's crc32_combine: advance crc(A) over len(B) zero bytes (a matrix power over GF(2)), XOR crc(B)."""
    one_bit = (POLYNOMIALS[algorithm], *(1 << row for row in range(algorithm.width - 1)))
    operator = _square(_square(_square(one_bit)))  # one zero byte
    while len_b:
        if len_b & 1:
            crc_a = _times(operator, crc_a)
        len_b >>= 1
        operator = _square(operator)
    return crc_a ^ crc_b


def test_the_reference_combines_like_the_direct_crc() -> None:
    rng = random.Random(11)
    for algorithm, direct in DIRECT.items():
        a, b = rng.randbytes(3000), rng.randbytes(4321)
        assert reference_combine(algorithm, direct(a), direct(b), len(b)) == direct(a + b)


def test_combine_agrees_with_the_reference_for_part_sized_and_5_tib_lengths() -> None:
    # Lengths no test can materialise: the independent reference decides there.
    rng = random.Random(7)
    for length in (16 * 1024 * 1024, 525 * 1024 * 1024, 5 * 1024**4 - 1, 2**47 + 12345):
        for algorithm in CrcAlgorithm:
            crc_a, crc_b = rng.getrandbits(algorithm.width), rng.getrandbits(algorithm.width)
            assert crc_combine(algorithm, crc_a, crc_b, length) == reference_combine(algorithm, crc_a, crc_b, length)
    assert crc64nvme_combine(1, 2, 3) == crc_combine(CrcAlgorithm.CRC64NVME, 1, 2, 3)


def test_parts_combine_in_order_into_the_full_object_checksum() -> None:
    rng = random.Random(3)
    data = rng.randbytes(100_003)
    cuts = sorted(rng.sample(range(1, len(data)), 9))
    pieces = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    parts = [(crt.crc64nvme(p), len(p)) for p in pieces]
    assert combine_parts(CrcAlgorithm.CRC64NVME, parts) == compute(CrcAlgorithm.CRC64NVME, data)


def test_an_empty_tail_leaves_the_crc_unchanged() -> None:
    assert crc64nvme_combine(0x1234, crt.crc64nvme(b""), 0) == 0x1234


def test_running_crc_over_chunks_equals_the_crc_of_the_whole() -> None:
    data = bytes(range(256)) * 100
    running = RunningCrc(CrcAlgorithm.CRC32C)
    for start in range(0, len(data), 1000):
        running.update(data[start : start + 1000])
    assert running.checksum == compute(CrcAlgorithm.CRC32C, data)


def test_checksums_read_and_print_in_s3s_base64_form() -> None:
    checksum = compute(CrcAlgorithm.CRC64NVME, b"123456789")
    assert checksum.base64 == "rosUhgp5mIg="
    assert str(checksum) == "CRC64NVME:rosUhgp5mIg="
    assert Checksum.parse(str(checksum)) == checksum
    assert Checksum.from_base64(CrcAlgorithm.CRC32, "y/Q5Jg==").value == 0xCBF43926


@pytest.mark.parametrize("text", ["not base64!", "AAAA"])
def test_a_malformed_checksum_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="CRC64NVME"):
        Checksum.from_base64(CrcAlgorithm.CRC64NVME, text)
