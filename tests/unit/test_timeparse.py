"""Both source time formats parse to the same local instants; anything else is refused."""

from datetime import datetime

import pytest

from tthc.periods import LOCAL_TZ
from tthc.timeparse import TimeFormatError, parse_compact, parse_iso


def test_compact_is_local_time() -> None:
    assert parse_compact("20231103081500") == datetime(2023, 11, 3, 8, 15, tzinfo=LOCAL_TZ)
    assert parse_compact(None) is None


def test_iso_with_any_offset_becomes_local() -> None:
    assert parse_iso("2023-11-03T08:15:00+07:00") == datetime(2023, 11, 3, 8, 15, tzinfo=LOCAL_TZ)
    assert parse_iso("2023-11-03T01:15:00Z") == datetime(2023, 11, 3, 8, 15, tzinfo=LOCAL_TZ)
    assert parse_iso("2023-11-02T20:15:00-05:00") == datetime(2023, 11, 3, 8, 15, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize("bad", ["2023-11-03 08:15:00", "20231103", "202311030815001", "20231332081500", "abc"])
def test_compact_refuses_other_shapes(bad: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_compact(bad)


@pytest.mark.parametrize(
    "bad", ["2023-11-03T08:15:00", "20231103081500", "03/11/2023 08:15", "2023-11-31T08:15:00+07:00"]
)
def test_iso_refuses_missing_offset_and_other_shapes(bad: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_iso(bad)
