"""Periods at their boundaries, in local time, under both conventions."""

from datetime import UTC, date, datetime, timedelta

import pytest

from tthc.periods import (
    LOCAL_TZ,
    Period,
    PeriodError,
    latest_closed_period,
    parse_period,
    period_containing,
    period_from_interval,
    resolve_period,
)


def test_nd09_november_2023_is_15_october_to_15_november_local() -> None:
    period = parse_period("2023-11")
    assert period.start == datetime(2023, 10, 15, tzinfo=LOCAL_TZ)
    assert period.end == datetime(2023, 11, 15, tzinfo=LOCAL_TZ)


def test_nd09_january_starts_in_december_of_the_previous_year() -> None:
    period = parse_period("2024-01")
    assert (period.start_date.isoformat(), period.end_date.isoformat()) == ("2023-12-15", "2024-01-15")


def test_calendar_december_ends_on_new_year() -> None:
    period = parse_period("2023-12", "calendar")
    assert (period.start_date.isoformat(), period.end_date.isoformat()) == ("2023-12-01", "2024-01-01")


def test_boundaries_are_half_open_in_local_time() -> None:
    period = parse_period("2023-11")
    assert period.contains(datetime(2023, 10, 15, 0, 0, 0))  # naive = local
    assert not period.contains(datetime(2023, 11, 15, 0, 0, 0))
    assert period.contains(datetime(2023, 11, 14, 23, 59, 59))
    # 2023-11-14 17:00 UTC is 2023-11-15 00:00 in Vietnam: already the next period
    assert not period.contains(datetime(2023, 11, 14, 17, 0, tzinfo=UTC))
    assert period.contains(datetime(2023, 11, 14, 16, 59, 59, tzinfo=UTC))
    # 2023-10-14 17:00 UTC is 2023-10-15 00:00 local: the first instant of the period
    assert period.contains(datetime(2023, 10, 14, 17, 0, tzinfo=UTC))


@pytest.mark.parametrize("bad", ["2023-13", "2023-1", "23-11", "2023/11", "", "2023-00"])
def test_bad_names_are_refused_with_the_expected_form(bad: str) -> None:
    with pytest.raises(PeriodError, match="YYYY-MM"):
        parse_period(bad)


def test_interval_from_airflow_in_utc_maps_to_its_period() -> None:
    start = datetime(2023, 10, 14, 17, 0, tzinfo=UTC)
    end = datetime(2023, 11, 14, 17, 0, tzinfo=UTC)
    assert period_from_interval(start, end).name == "2023-11"
    assert period_from_interval(datetime(2023, 10, 31, 17, tzinfo=UTC), datetime(2023, 11, 30, 17, tzinfo=UTC),
                                "calendar").name == "2023-11"


def test_unaligned_interval_is_refused() -> None:
    with pytest.raises(PeriodError, match="not a nd09 reporting period"):
        period_from_interval(datetime(2023, 10, 1, tzinfo=LOCAL_TZ), datetime(2023, 11, 1, tzinfo=LOCAL_TZ))


def test_the_interval_decides_and_a_conf_period_may_only_confirm_it() -> None:
    start, end = parse_period("2023-11").start, parse_period("2023-11").end
    assert resolve_period(None, start, end).name == "2023-11"
    assert resolve_period("2023-11", start, end).name == "2023-11"
    with pytest.raises(PeriodError, match=r"this run is for period 2023-11 .* asks for 2024-02\. Trigger the run "
                                          r"with a logical date inside 2024-02: any day from 2024-01-15 to 2024-02-14"):
        resolve_period("2024-02", start, end)
    with pytest.raises(PeriodError, match=r"no data interval .* logical date inside the period"):
        resolve_period(None, None, None)
    with pytest.raises(PeriodError, match=r"for 2023-11: any day from 2023-10-15 to 2023-11-14"):
        resolve_period("2023-11", None, None)
    with pytest.raises(PeriodError, match="no data interval"):
        resolve_period("", start, start)  # a run whose interval is a point (CronTriggerTimetable)


@pytest.mark.parametrize(("moment", "nd09", "calendar"), [
    (datetime(2023, 10, 15, 0, 0), "2023-11", "2023-10"),
    (datetime(2023, 11, 5, 12, 0), "2023-11", "2023-11"),
    (datetime(2023, 11, 14, 23, 59), "2023-11", "2023-11"),
    (datetime(2023, 11, 15, 0, 0), "2023-12", "2023-11"),
    (datetime(2023, 12, 31, 23, 0), "2024-01", "2023-12"),
    (datetime(2023, 11, 14, 17, 0, tzinfo=UTC), "2023-12", "2023-11"),  # 15 November, 00:00 local
])
def test_the_period_containing_a_moment(moment: datetime, nd09: str, calendar: str) -> None:
    assert period_containing(moment, "nd09").name == nd09
    assert period_containing(moment, "calendar").name == calendar


def test_latest_closed_period_respects_cutoff_and_delay() -> None:
    at = datetime(2023, 11, 15, 0, 0, tzinfo=LOCAL_TZ)
    assert latest_closed_period(at).name == "2023-11"
    assert latest_closed_period(at - timedelta(seconds=1)).name == "2023-10"
    assert latest_closed_period(at + timedelta(hours=47), delay=timedelta(hours=48)).name == "2023-10"
    assert latest_closed_period(at, "calendar").name == "2023-10"
    assert latest_closed_period(datetime(2024, 1, 3, tzinfo=LOCAL_TZ), "calendar").name == "2023-12"


def test_previous_crosses_years() -> None:
    assert Period(2024, 1).previous().name == "2023-12"
    assert Period(2024, 1).previous(13).name == "2022-12"


@pytest.mark.parametrize("name", ["0000-01", "0001-01", "9999-12"])
def test_impossible_years_are_a_period_error_not_a_bare_value_error(name: str) -> None:
    with pytest.raises(PeriodError, match=f"period {name}: year .* is not a reporting year"):
        parse_period(name)


def test_a_run_cannot_report_a_period_before_the_schedule_or_not_yet_ended() -> None:
    from tthc.pipeline import check_reportable

    start = date(2023, 1, 15)
    now = datetime(2026, 11, 25, 8, tzinfo=UTC)
    check_reportable(parse_period("2023-02"), start, now)  # the first period of the schedule
    check_reportable(parse_period("2026-11"), start, now)  # ended 2026-11-15
    with pytest.raises(PeriodError, match=r"2023-01 .* ends before the pipeline's start 2023-01-15 \(schedule"):
        check_reportable(parse_period("2023-01"), start, now)
    with pytest.raises(PeriodError, match="2026-12 has not ended yet"):
        check_reportable(parse_period("2026-12"), start, now)


def test_plan_refuses_at_the_start_of_the_run() -> None:
    from tthc.config import load_config
    from tthc.pipeline import plan

    with pytest.raises(PeriodError, match="ends before the pipeline's start"):
        plan(load_config(), parse_period("2020-05"), [])
