"""The reporting timetable: one run per period, started a configurable delay after the period closes.

Why a subclass: ``CronDataIntervalTimetable`` gives the right data interval (the nd09 period is
``[15th of last month, 15th of this month)``, the calendar period ``[1st, 1st)``), but the run would
start the instant the period closes, before late entries reach the source systems. No built-in
timetable adds a delay after the interval ends, so this one shifts ``run_after`` and nothing else:
the data interval, and therefore the period, stays exact. Registered by ``tthc_airflow.plugin``.

A run is its month, however it was started:

- a run started by hand (the trigger form, the REST API, ``airflow dags test``) reports the period
  that contains its logical date (``tthc.periods.period_containing``), exactly as a scheduled run,
  whose logical date is its period's start; the built-in rule (the last interval that ended before
  the date) gave the month before the one chosen;
- the run ids the timetable is asked for name the period first thing after their type:
  ``scheduled__2023-11``, ``manual__2023-11__<time>`` (the trigger form, REST). Airflow 3.3 names
  backfill runs and ``dags test`` runs without asking it (``backfill__<run after>``); their data
  interval is the period all the same, and ``tthc_airflow.listeners`` writes the month as the run's note.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.utils.types import DagRunType
from pendulum import DateTime, instance

from tthc.periods import period_containing, period_from_interval

CRONS = {"nd09": "0 0 15 * *", "calendar": "0 0 1 * *"}
LOCAL_TZ = "Asia/Ho_Chi_Minh"


class ReportingPeriodTimetable(CronDataIntervalTimetable):
    """Monthly data intervals of a reporting convention, each run ``delay`` after its interval ends."""

    def __init__(self, convention: str = "nd09", delay: timedelta = timedelta(hours=48)) -> None:
        if convention not in CRONS:
            raise ValueError(f"unknown reporting convention {convention!r}; use one of {', '.join(CRONS)}")
        super().__init__(CRONS[convention], timezone=LOCAL_TZ)
        self.convention = convention
        self.delay = delay
        hours = delay.total_seconds() / 3600
        self.description = f"{convention} periods (Asia/Ho_Chi_Minh), each run {hours:g} h after its period closes"

    @property
    def summary(self) -> str:
        return f"{self.convention} +{self.delay.total_seconds() / 3600:g}h"

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        info = super().next_dagrun_info(last_automated_data_interval=last_automated_data_interval,
                                        restriction=restriction)
        if info is None:
            return None
        return info._replace(run_after=info.run_after + self.delay)

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The period that contains the chosen date (not the last one that ended before it)."""
        period = period_containing(run_after, self.convention)
        return DataInterval(instance(period.start).in_tz("UTC"), instance(period.end).in_tz("UTC"))

    def generate_run_id(self, *, run_type: DagRunType, run_after: DateTime, data_interval: DataInterval | None,
                        **extra: Any) -> str:
        """``<type>__<YYYY-MM>`` (scheduled) or ``<type>__<YYYY-MM>__<run after, UTC>`` (unique for the others)."""
        if data_interval is None:
            return super().generate_run_id(run_type=run_type, run_after=run_after, data_interval=None, **extra)
        period = period_from_interval(data_interval.start, data_interval.end, self.convention).name
        if run_type == DagRunType.SCHEDULED:
            return run_type.generate_run_id(suffix=period)
        return run_type.generate_run_id(suffix=f"{period}__{instance(run_after).in_tz('UTC'):%Y%m%dT%H%M%S}")

    def serialize(self) -> dict[str, Any]:
        return {"convention": self.convention, "delay": self.delay.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ReportingPeriodTimetable:
        return cls(convention=data["convention"], delay=timedelta(seconds=data["delay"]))

