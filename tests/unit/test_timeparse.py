"""Both source time formats parse to the same local instants; anything else is refused."""

from datetime import datetime

import pytest

from tthc.periods import LOCAL_TZ
from tthc.timeparse import (
    TimeFormatError,
    naive_local,
    parse_compact,
    parse_compact_column,
    parse_iso,
    parse_iso_column,
)


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


# The column parsers take a fast vectorised path for well-shaped values and the scalar parser for the
# rest; whatever the path, every value must get exactly the scalar parser's verdict and time.
_COMPACT_SAMPLES = [
    "20231103081500", "20231231235959", "20240229120000", "20230229120000", "20231131000000",
    "20231103246000", "19750101000000", "19000101000000", "99991231235959", "0000",
    "２０２３１１０３０８１５００", "20231103081500\n", " 20231103081500", "2023110308150", None,
]
_ISO_SAMPLES = [
    "2023-11-03T08:15:00+07:00", "2023-11-03T01:15:00Z", "2023-11-02T20:15:00-05:00",
    "2023-11-03T08:15:00.123456+07:00", "2023-11-03T08:15:00.1234567+07:00", "2023-11-03T08:15+07:00",
    "2023-11-03T08:15:00+0700", "2023-11-31T08:15:00+07:00", "2023-02-29T08:15:00+07:00",
    "1975-06-12T23:00:00+07:00", "1960-01-01T00:00:00+07:00", "2023-11-03T08:15:00", "junk", None,
    "9999-12-31T23:00:00+00:00", "2262-04-11T00:00:00+07:00",
    "2023-11-03T08:15:00+07:00\n",
]


def _scalar(values: list[str | None], parse) -> tuple[list[datetime | None], list[bool]]:
    times: list[datetime | None] = []
    valid: list[bool] = []
    for value in values:
        try:
            times.append(parse(value))
            valid.append(True)
        except TimeFormatError:
            times.append(None)
            valid.append(False)
    return times, valid


@pytest.mark.parametrize(("samples", "scalar", "column"), [
    (_COMPACT_SAMPLES, parse_compact, parse_compact_column),
    (_ISO_SAMPLES, parse_iso, parse_iso_column),
])
def test_column_parsers_agree_with_the_scalar_parser_on_every_value(samples, scalar, column) -> None:
    import random

    import pandas as pd

    rng = random.Random(20231103)
    values = [rng.choice(samples) for _ in range(400)] + samples
    expected_times, expected_valid = _scalar(values, scalar)
    times, valid = column(pd.Series(values, dtype="string"))
    assert valid.tolist() == expected_valid
    got = [None if pd.isna(t) else t.to_pydatetime() for t in times]
    assert got == expected_times
    assert all(g is None or g.utcoffset() == e.utcoffset() for g, e in zip(got, expected_times, strict=True))
    # The quality checks' naive twin: local wall time; a time datetime64[ns] cannot hold is not valid there.
    representable = [e is None or datetime(1677, 9, 22) <= naive_local(e) <= datetime(2262, 4, 10)
                     for e in expected_times]
    naive_times, naive_valid = column(pd.Series(values, dtype="string"), naive=True)
    assert naive_valid.tolist() == [ok and fits for ok, fits in zip(expected_valid, representable, strict=True)]
    assert [None if pd.isna(t) else t.to_pydatetime() for t in naive_times] == [
        None if e is None or not fits else naive_local(e)
        for e, fits in zip(expected_times, representable, strict=True)]
    assert not all(representable)  # the samples include such a time
    assert str(naive_times.dtype) == "datetime64[ns]"


def test_a_column_without_any_time_parses_to_all_nat() -> None:
    import pandas as pd

    times, valid = parse_compact_column(pd.Series([None, None], dtype="string"))
    assert times.isna().all() and valid.all()
