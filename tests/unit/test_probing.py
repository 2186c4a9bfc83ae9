"""Probing a flat key space: how far it goes, in two rounds of one-key listings."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.probing import cut_points, reach


def _prober(keys: list[str], calls: list[int]):
    def probe(points: Sequence[str]) -> list[str | None]:
        calls.append(len(points))
        found: list[str | None] = []
        for point in points:
            i = bisect.bisect_right(keys, point)
            found.append(keys[i] if i < len(keys) else None)
        return found

    return probe


def test_two_rounds_find_a_key_near_the_end_of_a_million_keys() -> None:
    keys = [f"data/{n:07d}" for n in range(1_000_000)]
    calls: list[int] = []
    found = reach(keys[0], keys[999], None, "data/", _prober(keys, calls))
    assert len(calls) == 2
    assert found.probes == sum(calls) <= 13
    assert found.key is not None
    assert found.key >= keys[600_000]  # within the last part of the key space
    end = found.end("data/")  # half way to the first point with nothing after it: nearer the real end
    assert end is not None
    assert found.key <= end
    assert abs(int(end[5:12].ljust(7, "0")) - 999_999) <= abs(int(found.key[5:]) - 999_999)


def test_reach_stays_within_the_upper_bound() -> None:
    keys = [f"k{n:05d}" for n in range(50_000)]
    found = reach(keys[0], keys[999], keys[20_000], "k", _prober(keys, []))
    assert found.key is not None
    assert keys[999] < found.key <= keys[20_000]


def test_nothing_beyond_the_page_is_none() -> None:
    keys = [f"k{n:04d}" for n in range(1000)]
    assert reach(keys[0], keys[-1], None, "k", _prober(keys, [])).key is None


@settings(max_examples=200)
@given(st.lists(st.text(alphabet="ab/é~\x7f", min_size=1, max_size=6), min_size=3, max_size=60, unique=True))
def test_found_keys_exist_and_cuts_lie_between(raw: list[str]) -> None:
    keys = sorted(("p/" + key for key in raw), key=lambda key: key.encode())
    found = reach(keys[0], keys[1], None, "p/", _prober(sorted(keys), []))
    assert found.key is None or found.key in keys
    if found.key is not None and keys[1] < found.key:
        points = cut_points(keys[1], found.key, 4, "p/")
        assert points == sorted(points)
        assert all(keys[1] < point < found.key for point in points)


def test_cut_points_are_even_in_the_digits_keys_use() -> None:
    points = cut_points("k00000", "k99999", 4, "k")
    assert [point[:2] for point in points] == ["k2", "k5", "k7"]  # a quarter each, not cut between k0 and k~
