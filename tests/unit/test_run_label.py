"""The month label of a run: computed from its data interval alone, in either convention, or none at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tthc.periods import Period, parse_period
from tthc_airflow.run_label import period_label, period_of_interval, run_label


def utc_interval(period: Period) -> tuple[datetime, datetime]:
    """The interval as Airflow stores and hands it over: UTC instants."""
    return period.start.astimezone(UTC), period.end.astimezone(UTC)


def test_nd09_label_names_the_month_and_its_first_and_last_day() -> None:
    # November 2023 under nd09: 15 October (00:00 Vietnam = 14 October 17:00 UTC) to 15 November, exclusive.
    start, end = datetime(2023, 10, 14, 17, tzinfo=UTC), datetime(2023, 11, 14, 17, tzinfo=UTC)
    assert run_label(start, end) == "Báo cáo tháng 11/2023 (kỳ 15/10/2023 – 14/11/2023)"


def test_calendar_label() -> None:
    assert run_label(*utc_interval(parse_period("2023-11", "calendar"))) == (
        "Báo cáo tháng 11/2023 (kỳ 01/11/2023 – 30/11/2023)")
    assert run_label(*utc_interval(parse_period("2024-02", "calendar"))) == (
        "Báo cáo tháng 02/2024 (kỳ 01/02/2024 – 29/02/2024)")


@pytest.mark.parametrize("convention", ["nd09", "calendar"])
def test_the_interval_alone_says_the_convention(convention: str) -> None:
    for name in ("2023-01", "2023-12", "2024-03"):
        period = parse_period(name, convention)
        assert period_of_interval(*utc_interval(period)) == period


def test_january_under_nd09_starts_in_the_previous_year() -> None:
    assert period_label(parse_period("2024-01")) == "Báo cáo tháng 01/2024 (kỳ 15/12/2023 – 14/01/2024)"


def test_a_run_without_a_period_gets_no_label() -> None:
    start = parse_period("2023-11").start
    assert run_label(None, None) is None  # triggered without a logical date
    assert run_label(start, start) is None  # an empty interval
    assert run_label(start, start + timedelta(days=30)) is None  # neither convention's period
