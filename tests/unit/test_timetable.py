"""The reporting timetable: exact periods as data intervals, runs delayed after the close, round-trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pendulum
from airflow.timetables.base import DataInterval, TimeRestriction

from tthc.periods import period_from_interval
from tthc_airflow.timetable import ReportingPeriodTimetable


def next_run(tt: ReportingPeriodTimetable, after: DataInterval | None, earliest: datetime) -> tuple:
    info = tt.next_dagrun_info(last_automated_data_interval=after,
                               restriction=TimeRestriction(earliest=pendulum.instance(earliest), latest=None,
                                                           catchup=True))
    return info.data_interval, info.run_after


def test_nd09_interval_is_the_period_and_the_run_waits_the_delay() -> None:
    tt = ReportingPeriodTimetable("nd09", timedelta(hours=48))
    interval, run_after = next_run(tt, None, datetime(2023, 10, 14, 17, tzinfo=UTC))
    assert period_from_interval(interval.start, interval.end).name == "2023-11"
    assert run_after == interval.end + timedelta(hours=48)
    following, _ = next_run(tt, interval, datetime(2023, 1, 1, tzinfo=UTC))
    assert period_from_interval(following.start, following.end).name == "2023-12"


def test_calendar_convention() -> None:
    tt = ReportingPeriodTimetable("calendar", timedelta(0))
    interval, run_after = next_run(tt, None, datetime(2023, 10, 31, 17, tzinfo=UTC))
    assert period_from_interval(interval.start, interval.end, "calendar").name == "2023-11"
    assert run_after == interval.end


def test_serialization_round_trips() -> None:
    tt = ReportingPeriodTimetable("calendar", timedelta(hours=6))
    again = ReportingPeriodTimetable.deserialize(tt.serialize())
    assert (again.convention, again.delay, again.summary) == ("calendar", timedelta(hours=6), "calendar +6h")


def test_a_run_started_by_hand_reports_the_period_containing_its_logical_date() -> None:
    tt = ReportingPeriodTimetable("nd09", timedelta(hours=48))
    for day in (datetime(2023, 10, 15, tzinfo=UTC), datetime(2023, 11, 5, tzinfo=UTC),
                datetime(2023, 11, 14, tzinfo=UTC)):
        interval = tt.infer_manual_data_interval(run_after=pendulum.instance(day))
        assert period_from_interval(interval.start, interval.end).name == "2023-11", day
    # the scheduled run of 2023-11 has its period's start as logical date: the same rule gives it back
    scheduled, _ = next_run(tt, None, datetime(2023, 10, 14, 17, tzinfo=UTC))
    again = tt.infer_manual_data_interval(run_after=scheduled.start)
    assert (again.start, again.end) == (scheduled.start, scheduled.end)


def test_run_ids_name_the_period() -> None:
    from airflow.utils.types import DagRunType

    tt = ReportingPeriodTimetable("nd09", timedelta(hours=48))
    interval, run_after = next_run(tt, None, datetime(2023, 10, 14, 17, tzinfo=UTC))
    assert tt.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=run_after,
                              data_interval=interval) == "scheduled__2023-11"
    now = pendulum.datetime(2026, 11, 25, 8, 1, 2, tz="UTC")
    assert tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=now,
                              data_interval=interval) == "manual__2023-11__20261125T080102"
    assert tt.generate_run_id(run_type=DagRunType.BACKFILL_JOB, run_after=now,
                              data_interval=interval).startswith("backfill__2023-11__")
    assert tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=now, data_interval=None).startswith("manual__2026")
