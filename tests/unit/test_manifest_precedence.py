"""`ManifestEntry.precedence`: the manifest follows the order of the writes to the consumer object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hydration.models import ManifestEntry, Precedence

T0 = datetime(2026, 12, 1, tzinfo=UTC)
window = st.tuples(st.integers(0, 20_000), st.integers(0, 5_000)).map(
    lambda w: (T0 + timedelta(milliseconds=w[0]), T0 + timedelta(milliseconds=w[0] + w[1]))
)
version = st.sampled_from([(T0 - timedelta(hours=1), '"v1"'), (T0 - timedelta(minutes=1), '"v2"')])


def _entry(v: tuple[datetime, str], w: tuple[datetime, datetime]) -> ManifestEntry:
    return ManifestEntry(
        key="k", etag=v[1], last_modified=v[0], size=1, copied_at=T0, written_after=w[0], written_before=w[1]
    )


@given(version, window, version, window)
def test_precedence_is_the_same_whichever_entry_is_written_second(
    v1: tuple[datetime, str], w1: tuple[datetime, datetime], v2: tuple[datetime, str], w2: tuple[datetime, datetime]
) -> None:
    a, b = _entry(v1, w1), _entry(v2, w2)
    ab, ba = a.precedence(b), b.precedence(a)
    if a.same_version(b):
        assert ab is ba is Precedence.WRITE
    elif ab is Precedence.WRITE:
        assert ba is Precedence.KEEP  # whichever arrives second, the later write's entry is the one kept
    elif ab is Precedence.KEEP:
        assert ba is Precedence.WRITE
    else:
        assert ba is Precedence.CONTESTED


@given(version, window, version, window)
def test_only_a_write_clear_of_the_other_by_the_clock_margin_decides(
    v1: tuple[datetime, str], w1: tuple[datetime, datetime], v2: tuple[datetime, str], w2: tuple[datetime, datetime]
) -> None:
    a, b = _entry(v1, w1), _entry(v2, w2)
    if a.same_version(b):
        return
    apart = w2[1] + timedelta(seconds=1) < w1[0] or w1[1] + timedelta(seconds=1) < w2[0]
    assert (a.precedence(b) is not Precedence.CONTESTED) == apart


def test_no_entry_is_written() -> None:
    assert _entry((T0, '"v"'), (T0, T0)).precedence(None) is Precedence.WRITE
