"""How an object is cut into the parts of a multipart copy (S3's limits; no AWS calls here).

S3: at most 10,000 parts, each 5 MiB..5 GiB except the last, objects up to 5 TiB. The configured part size
is used when it fits; for larger objects it grows (in whole MiB) until 10,000 parts cover the object.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MIB  # 5 TiB


@dataclass(frozen=True)
class PartPlan:
    """Parts 1..count of `part_size` bytes each; the last one takes the rest."""

    size: int
    part_size: int

    @classmethod
    def for_object(cls, size: int, preferred_part_size: int) -> PartPlan:
        if size <= 0:
            raise ValueError("a multipart copy needs a non-empty object")
        if size > MAX_OBJECT_SIZE:
            raise ValueError(f"{size} bytes is larger than S3's largest object (5 TiB)")
        if not MIN_PART_SIZE <= preferred_part_size <= MAX_PART_SIZE:
            raise ValueError("the part size must be between 5 MiB and 5 GiB")
        smallest_fitting = -(-size // MAX_PARTS)
        part_size = max(preferred_part_size, -(-smallest_fitting // MIB) * MIB)
        return cls(size=size, part_size=part_size)

    @property
    def count(self) -> int:
        return -(-self.size // self.part_size)

    def numbers(self) -> range:
        return range(1, self.count + 1)

    def byte_range(self, number: int) -> tuple[int, int]:
        """(first, last) byte of a part, inclusive (the form of an HTTP Range)."""
        if not 1 <= number <= self.count:
            raise ValueError(f"part {number} is not in 1..{self.count}")
        first = (number - 1) * self.part_size
        return first, min(first + self.part_size, self.size) - 1

    def length(self, number: int) -> int:
        first, last = self.byte_range(number)
        return last - first + 1
