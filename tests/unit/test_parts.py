"""Part planning: S3's 10,000-part and 5 MiB..5 GiB limits, for any object up to 5 TiB."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydration.parts import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIB,
    MIN_PART_SIZE,
    PartPlan,
    complete_seconds,
    copy_seconds,
    finishes_largest_object,
    largest_part_within,
)


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


def test_a_part_that_would_not_fit_the_time_left_shrinks_to_what_does() -> None:
    # 105 s for copying (CopierTimeout 120): 1040 MiB parts at the assumed 10 MiB/s, not the configured 2 GiB
    fitting = largest_part_within(105.0)
    assert fitting == 1040 * MIB
    assert copy_seconds(fitting) <= 105.0 < copy_seconds(fitting + MIB)
    plan = PartPlan.for_object(3 * 1024 * MIB, 2048 * MIB, fitting)
    assert (plan.part_size, plan.count) == (1040 * MIB, 3)


def test_shrinking_never_goes_below_what_10000_parts_or_s3_need() -> None:
    assert PartPlan.for_object(MAX_OBJECT_SIZE, 16 * MIB, largest_part_within(45.0)).part_size == 525 * MIB
    assert PartPlan.for_object(100 * MIB, 16 * MIB, largest_part_within(1.0)).part_size == MIN_PART_SIZE


@pytest.mark.parametrize(("usable", "finishes"), [(45.0, False), (59.9, False), (60.0, True), (105.0, True)])
def test_the_largest_object_needs_time_for_a_525_mib_part_and_a_60_s_completion(usable: float, finishes: bool) -> None:
    plan = PartPlan.for_object(MAX_OBJECT_SIZE, MIN_PART_SIZE)
    assert (copy_seconds(plan.part_size), complete_seconds(plan.count)) == (53.5, 60.0)
    assert finishes_largest_object(usable) is finishes
