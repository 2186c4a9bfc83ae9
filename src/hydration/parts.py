"""How an object is cut into the parts of a multipart copy, and the timing the copies are planned with (S3's
limits and our own estimates; no AWS calls here).

S3: at most 10,000 parts, each 5 MiB..5 GiB except the last, objects up to 5 TiB, one CopyObject up to 5 GiB.
The configured part size is used when it fits; for larger objects it grows (in whole MiB) until 10,000 parts
cover the object; it shrinks (not below that) when a part of that size could not be copied within the time
an invocation has (`largest_part_within`).

Timing. Before a copy has measured its own pace, it assumes ASSUMED_BYTES_PER_SECOND: a part (or a single
CopyObject) starts only if it fits the time left at that pace (`copy_seconds`), and a completion only with
`complete_seconds` left. The template's Rules and docs/large-objects.md ("Copier timeout and part size")
derive from these constants which copier timeouts can finish the largest object (`finishes_largest_object`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MIB  # 5 TiB
MAX_SINGLE_COPY = 5 * 1024 * MIB  # CopyObject's limit

ASSUMED_BYTES_PER_SECOND: Final = 10 * MIB  # a copy's pace before one is measured (AWS: ~85 MB/s a connection)
RECORD_SECONDS: Final = 1.0  # a DynamoDB write after a part, with room to spare
# A completion (ListParts, a HEAD, CompleteMultipartUpload: up to minutes for thousands of parts on AWS)
# starts only with 5 s plus 50 ms a part left, at most this.
COMPLETE_SECONDS_MAX: Final = 60.0


def copy_seconds(size: int) -> float:
    """The time a part (or a single copy) of `size` bytes is given before its own pace is known."""
    return size / ASSUMED_BYTES_PER_SECOND + RECORD_SECONDS


def complete_seconds(part_count: int) -> float:
    return min(COMPLETE_SECONDS_MAX, 5.0 + 0.05 * part_count)


def largest_part_within(seconds: float) -> int:
    """The largest part size (whole MiB, at least S3's minimum) whose copy fits `seconds` at the assumed pace."""
    fitting = int((seconds - RECORD_SECONDS) * ASSUMED_BYTES_PER_SECOND) // MIB * MIB
    return max(MIN_PART_SIZE, min(MAX_PART_SIZE, fitting))


def finishes_largest_object(usable_seconds: float) -> bool:
    """An invocation with this much time for copying (its timeout minus DEADLINE_MARGIN_SECONDS) can copy a
    part of a 5 TiB object and complete its upload, so that such a copy progresses in every invocation."""
    plan = PartPlan.for_object(MAX_OBJECT_SIZE, MIN_PART_SIZE)
    return usable_seconds >= max(copy_seconds(plan.part_size), complete_seconds(plan.count))


@dataclass(frozen=True)
class PartPlan:
    """Parts 1..count of `part_size` bytes each; the last one takes the rest."""

    size: int
    part_size: int

    @classmethod
    def for_object(cls, size: int, preferred_part_size: int, at_most: int | None = None) -> PartPlan:
        """The preferred part size, but not above `at_most` (what fits an invocation's time) and not below
        what 10,000 parts need."""
        if size <= 0:
            raise ValueError("a multipart copy needs a non-empty object")
        if size > MAX_OBJECT_SIZE:
            raise ValueError(f"{size} bytes is larger than S3's largest object (5 TiB)")
        if not MIN_PART_SIZE <= preferred_part_size <= MAX_PART_SIZE:
            raise ValueError("the part size must be between 5 MiB and 5 GiB")
        smallest_fitting = -(-size // MAX_PARTS)
        wanted = preferred_part_size if at_most is None else max(MIN_PART_SIZE, min(preferred_part_size, at_most))
        part_size = max(wanted, -(-smallest_fitting // MIB) * MIB)
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
