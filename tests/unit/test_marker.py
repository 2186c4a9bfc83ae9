from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hydration.errors import MarkerFormatError
from hydration.marker import Marker, parse


def test_round_trip_keeps_the_time_to_the_microsecond() -> None:
    moment = datetime(2026, 11, 22, 6, 0, 1, 123456, tzinfo=UTC)
    text = Marker(moment, {"run_id": "r1"}).render()
    assert text.splitlines()[0] == "2026-11-22T06:00:01.123456Z"  # what `aws s3 cp ... -` shows first
    parsed = parse(text)
    assert parsed.synced_to == moment
    assert parsed.detail == {"run_id": "r1"}


def test_a_bare_timestamp_is_a_marker() -> None:
    assert parse("2026-11-22T06:00:00+00:00\n").synced_to == datetime(2026, 11, 22, 6, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "\n", "last tuesday\n{}"])
def test_malformed_marker_is_rejected_with_its_name(text: str) -> None:
    with pytest.raises(MarkerFormatError, match="sync marker"):
        parse(text)
