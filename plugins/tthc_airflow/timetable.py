"""The reporting timetable: one run per period, started a configurable delay after the period closes.

Why a subclass: ``CronDataIntervalTimetable`` gives the right data interval (the nd09 period is
``[15th of last month, 15th of this month)``, the calendar period ``[1st, 1st)``), but the run would
start the instant the period closes, before late entries reach the source systems. No built-in
timetable adds a delay after the interval ends, so this one shifts ``run_after`` and nothing else:
the data interval, and therefore the period, stays exact. Registered by ``tthc_airflow.plugin``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

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

    def serialize(self) -> dict[str, Any]:
        return {"convention": self.convention, "delay": self.delay.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ReportingPeriodTimetable:
        return cls(convention=data["convention"], delay=timedelta(seconds=data["delay"]))

