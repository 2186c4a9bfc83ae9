from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hydration import MARKER_KEY
from hydration.selection import excluded_key, is_selected, lower_bound, minimal_prefixes, within_scope

times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(last_modified=times, marker=st.none() | times, lookback=st.integers(0, 86400))
def test_selected_iff_modified_at_or_after_marker_minus_lookback(
    last_modified: datetime, marker: datetime | None, lookback: int
) -> None:
    bound = lower_bound(marker, timedelta(seconds=lookback))
    expected = marker is None or last_modified >= (marker - timedelta(seconds=lookback)).replace(microsecond=0)
    assert is_selected("k", last_modified, bound, None) is expected


def test_only_the_real_marker_key_is_left_out() -> None:
    """Without a destination prefix the producer's own root marker would overwrite the consumer's: it stays.
    Any other key, one merely ending in the marker's name included, is data and is copied."""
    now = datetime.now(UTC)
    assert not is_selected(MARKER_KEY, now, None, excluded_key(""))
    assert is_selected("data/" + MARKER_KEY, now, None, excluded_key(""))
    assert is_selected(MARKER_KEY, now, None, excluded_key("mirror/"))


def test_minimal_prefixes() -> None:
    assert minimal_prefixes([]) == [""]
    assert minimal_prefixes(["a/b/", "a/", "c/"]) == ["a/", "c/"]
    assert minimal_prefixes(["", "a/"]) == [""]


def test_within_scope() -> None:
    assert within_scope("data/2026/", ["data/"])
    assert not within_scope("logs/", ["data/"])
    assert within_scope("anything", [])
