"""The key space as properties: ranges partition a prefix's keys (no key in two, none in none) wherever
they are cut, and a midpoint lies strictly between its bounds, around adversarial keys (boundaries that are
keys, keys that extend a boundary by one character, NUL, the last code point, `+`, `%`, spaces)."""

from __future__ import annotations

import itertools

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hydration.keyspace import (
    KeyRange,
    ceiling,
    extrapolate,
    fraction,
    midpoint,
    partition,
    shares,
    spread,
    widths,
)

ALPHABET = st.sampled_from(["a", "b", "/", " ", "+", "%", "ü", "\x00", "\x7f", "\x80", "\U0010ffff", "0", "~"])
keys = st.text(alphabet=ALPHABET, min_size=1, max_size=6)
prefixes = st.sampled_from(["", "a", "a/", "b/", "ü"])


def _neighbours(points: list[str]) -> list[str]:
    """Keys that sort right around each point: the point, one character past it, and its leading part."""
    out: list[str] = []
    for point in points:
        out += [point, point + "\x00", point + "a", point + "\U0010ffff", point[:-1]]
    return [key for key in out if key]


@settings(max_examples=300)
@given(prefix=prefixes, points=st.lists(keys, max_size=8), extra=st.lists(keys, max_size=30))
def test_ranges_partition_the_prefix_whatever_the_cut_points(prefix: str, points: list[str], extra: list[str]) -> None:
    ranges = partition(prefix, [prefix + p for p in points] + points)
    candidates = set(extra) | set(_neighbours([prefix + p for p in points])) | {prefix + k for k in extra}
    for key in candidates:
        holders = [r for r in ranges if r.holds(key)]
        assert len(holders) == (1 if key.startswith(prefix) else 0), (key, holders)
    # consecutive: each range starts where the one before it ends
    for below, above in itertools.pairwise(ranges):
        assert below.upto == above.after
    assert ranges[0].after is None
    assert ranges[-1].upto is None


@settings(max_examples=300)
@given(prefix=prefixes, a=keys, b=keys)
def test_a_midpoint_lies_strictly_between_its_bounds(prefix: str, a: str, b: str) -> None:
    low, high = sorted([prefix + a, prefix + b])
    m = midpoint(low, high, prefix)
    if m is not None:
        assert low < m < high
    else:  # only two strings with nothing between them (the second is the first plus a NUL) have no midpoint
        assert high in (low, low + "\x00")


@settings(max_examples=300)
@given(prefix=prefixes, a=keys)
def test_a_midpoint_up_to_the_end_of_the_prefix_stays_under_it(prefix: str, a: str) -> None:
    low = prefix + a
    assume(low < ceiling(low, prefix))
    m = midpoint(low, None, prefix)
    assert m is not None
    assert m > low
    assert m.startswith(prefix)


@settings(max_examples=200)
@given(prefix=prefixes, a=keys, b=keys, at=keys, probe=st.lists(keys, max_size=20))
def test_cutting_a_range_loses_and_duplicates_nothing(prefix: str, a: str, b: str, at: str, probe: list[str]) -> None:
    low, high = sorted([prefix + a, prefix + b])
    whole = KeyRange(prefix, low, high)
    point = prefix + at
    assume(whole.inside(point))
    left, right = whole.cut(point)
    for key in {prefix + k for k in probe} | set(_neighbours([point, low, high])):
        assert whole.holds(key) == (left.holds(key) or right.holds(key))
        assert not (left.holds(key) and right.holds(key))


def test_midpoints_are_cut_in_the_characters_each_position_uses() -> None:
    """Keys of digits are halved among digits, in each position's own alphabet (not among every character
    between): the cut falls near the middle of the keys, not in a gap no key uses."""
    assert midpoint("k0999", "k1999") == "k14434"  # digits: about k1499 (a position's end counts as a digit)
    assert fraction("c/t/010000", "c/t/029999", 1, 4) == "c/t/0152521"
    assert midpoint("data/000500.json", None, "data/") == "data/5"  # the end of a key space of digits
    assert extrapolate("c/t/010000", "c/t/010999", 8, "c/") == "c/t/018104"  # about 8 pages on
    assert midpoint("a", "a\x00") is None


def test_spread_keeps_evenly_spaced_points() -> None:
    points = [f"p/{i:03}" for i in range(100)]
    assert spread(points, 3) == ["p/025", "p/050", "p/075"]
    assert spread(points[:2], 5) == points[:2]
    assert spread(points, 0) == []


def test_widths_counts_pages_of_a_key_space_at_its_first_pages_density() -> None:
    assert 39 <= widths("c/t/010000", "c/t/010999", "c/t/049999", "c/t/") <= 49  # 40 pages of 1,000 digits keys
    assert 9 <= widths("c/s/000000", "c/s/000999", "c/s/009999", "c/s/") <= 12
    assert widths("k1", "k2", "k2") == widths("k2", "k1", "k3") == 1.0  # nothing beyond, or out of order


@settings(max_examples=200)
@given(weights=st.lists(st.floats(min_value=0, max_value=1e9), max_size=10), total=st.integers(0, 100))
def test_shares_deal_every_part_at_least_one_each_in_proportion(weights: list[float], total: int) -> None:
    dealt = shares(weights, total)
    assert len(dealt) == len(weights)
    assert all(part >= 1 for part in dealt)
    assert sum(dealt) == (max(total, len(weights)) if weights else 0)
    for (a, x), (b, y) in itertools.combinations(zip(weights, dealt, strict=True), 2):
        assert a <= b or x >= y  # a heavier group never gets fewer parts
