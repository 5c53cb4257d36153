"""Vietnamese presentation of figures (metrics.md, "Arithmetic and presentation")."""

from datetime import date
from decimal import Decimal

import pytest

from tthc.numbers import ABSENT, fmt_count, fmt_date, fmt_decimal, fmt_long_date, fmt_month, fmt_rate


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("71.26"), "71,26%"),
        (Decimal("55.49"), "55,49%"),
        (Decimal("100"), "100%"),
        (Decimal("100.00"), "100%"),
        (100.0, "100%"),
        (Decimal("95.5"), "95,50%"),
        (95.5, "95,50%"),
        (Decimal("0"), "0%"),
        (Decimal("0.05"), "0,05%"),
        (50, "50%"),
        (71.265, "71,27%"),  # a float target is brought to two places half-up, from its decimal text
        (Decimal("71.264"), "71,26%"),
        (Decimal("1234.5"), "1.234,50%"),
    ],
)
def test_fmt_rate(value, expected):
    assert fmt_rate(value) == expected


def test_fmt_rate_absent_is_not_zero():
    assert fmt_rate(None) == ABSENT == "không phát sinh"
    assert fmt_rate(None, absent="—") == "—"


def test_fmt_decimal_for_table_cells_and_changes():
    assert fmt_decimal(Decimal("71.26")) == "71,26"
    assert fmt_decimal(Decimal("100.00")) == "100"
    assert fmt_decimal(Decimal("-1.20")) == "-1,20"
    assert fmt_decimal(Decimal("12345.6")) == "12.345,60"
    with pytest.raises(ValueError):
        fmt_decimal(float("nan"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "00"), (5, "05"), (9, "09"), (10, "10"), (999, "999"), (1000, "1.000"), (12345, "12.345"),
     (1234567, "1.234.567")],
)
def test_fmt_count(value, expected):
    assert fmt_count(value) == expected


def test_fmt_count_rejects_what_is_not_a_count():
    with pytest.raises(ValueError):
        fmt_count(-1)
    with pytest.raises(TypeError):
        fmt_count(5.0)
    with pytest.raises(TypeError):
        fmt_count(True)


def test_dates():
    assert fmt_date(date(2023, 7, 13)) == "13/7/2023"
    assert fmt_date(date(2023, 3, 3)) == "3/3/2023"
    assert fmt_long_date(date(2023, 8, 15)) == "ngày 15 tháng 8 năm 2023"
    assert fmt_long_date(date(2024, 2, 5)) == "ngày 5 tháng 2 năm 2024"
    # Decree 30/2020: in a document's date of issue, days below 10 and months 1 and 2 take a zero.
    assert fmt_long_date(date(2024, 2, 5), issue_date=True) == "ngày 05 tháng 02 năm 2024"
    assert fmt_long_date(date(2023, 11, 15), issue_date=True) == "ngày 15 tháng 11 năm 2023"
    assert [fmt_month(m, issue_date=True) for m in (1, 2, 3, 12)] == ["01", "02", "3", "12"]
    with pytest.raises(ValueError):
        fmt_month(13)
