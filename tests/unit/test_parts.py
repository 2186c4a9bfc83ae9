"""Part planning: S3's 10,000-part and 5 MiB..5 GiB limits, for any object up to 5 TiB."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydration.parts import MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, PartPlan


def test_the_configured_part_size_is_used_when_it_fits() -> None:
    plan = PartPlan.for_object(100 * MIB + 1, 16 * MIB)
    assert (plan.part_size, plan.count) == (16 * MIB, 7)
    assert plan.byte_range(7) == (96 * MIB, 100 * MIB)
    assert plan.length(7) == 4 * MIB + 1


def test_a_5_tib_object_grows_the_part_size_to_fit_10000_parts() -> None:
    plan = PartPlan.for_object(MAX_OBJECT_SIZE, 16 * MIB)
    assert plan.part_size == 525 * MIB
    assert plan.count == 9_987
    assert plan.byte_range(plan.count)[1] == MAX_OBJECT_SIZE - 1


def test_exactly_10000_parts_of_the_configured_size_do_not_grow_it() -> None:
    plan = PartPlan.for_object(MAX_PARTS * 16 * MIB, 16 * MIB)
    assert (plan.part_size, plan.count) == (16 * MIB, MAX_PARTS)
    grown = PartPlan.for_object(MAX_PARTS * 16 * MIB + 1, 16 * MIB)
    assert (grown.part_size, grown.count) == (17 * MIB, 9_412)


@given(
    size=st.integers(min_value=1, max_value=MAX_OBJECT_SIZE),
    part_size=st.integers(min_value=MIN_PART_SIZE, max_value=MAX_PART_SIZE),
)
def test_parts_cover_the_object_contiguously_within_s3s_limits(size: int, part_size: int) -> None:
    plan = PartPlan.for_object(size, part_size)
    assert plan.count <= MAX_PARTS
    assert MIN_PART_SIZE <= plan.part_size <= MAX_PART_SIZE
    assert plan.part_size >= part_size
    assert plan.byte_range(1)[0] == 0
    assert plan.byte_range(plan.count)[1] == size - 1
    # every part but the last is exactly part_size, so the ranges are contiguous
    if plan.count > 1:
        assert plan.length(plan.count - 1) == plan.part_size
    assert 1 <= plan.length(plan.count) <= plan.part_size


@pytest.mark.parametrize(
    ("size", "part_size", "message"),
    [
        (0, 16 * MIB, "non-empty"),
        (MAX_OBJECT_SIZE + 1, 16 * MIB, "5 TiB"),
        (100 * MIB, 4 * MIB, "5 MiB and 5 GiB"),
    ],
)
def test_impossible_plans_are_refused(size: int, part_size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PartPlan.for_object(size, part_size)


def test_part_numbers_outside_the_plan_are_refused() -> None:
    plan = PartPlan.for_object(10 * MIB, 5 * MIB)
    with pytest.raises(ValueError, match=r"1\.\.2"):
        plan.byte_range(3)
