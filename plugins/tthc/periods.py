"""Reporting periods: half-open intervals of Vietnam local time, named by their reporting month.

Why a module of its own: every number of a report depends on the exact boundaries of its period,
and the two conventions of ``docs/metrics.md`` (``nd09``: 15th to 15th, Decree 09/2019/ND-CP; and
``calendar``) must give the same answer whether a run was scheduled, triggered by hand or
backfilled. Airflow hands us a data interval in UTC; we convert it here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CONVENTIONS = ("nd09", "calendar")
_NAME_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# nd09: the period of month M runs from the 15th of M-1 to the 15th of M (Decree 09/2019/ND-CP).
ND09_CUTOFF_DAY = 15


class PeriodError(ValueError):
    """A period name or interval that does not describe a reporting period."""


@dataclass(frozen=True)
class Period:
    """One reporting period ``[start, end)`` in local time, named ``YYYY-MM`` by its reporting month."""

    year: int
    month: int
    convention: str = "nd09"

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise PeriodError(f"unknown period convention {self.convention!r}; use one of {', '.join(CONVENTIONS)}")
        if not 1 <= self.month <= 12:
            raise PeriodError(f"month {self.month} is not between 1 and 12")
        if not 1000 <= self.year <= 9998:  # year 0 has no calendar; the window of 9999-12 would end after it
            raise PeriodError(f"period {self.name}: year {self.year} is not a reporting year (1000 to 9998)")

    @property
    def name(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start_date(self) -> date:
        """First local day of the period (inclusive)."""
        if self.convention == "calendar":
            return date(self.year, self.month, 1)
        prev_year, prev_month = _shift(self.year, self.month, -1)
        return date(prev_year, prev_month, ND09_CUTOFF_DAY)

    @property
    def end_date(self) -> date:
        """Local day at whose midnight the period ends (exclusive)."""
        if self.convention == "calendar":
            next_year, next_month = _shift(self.year, self.month, 1)
            return date(next_year, next_month, 1)
        return date(self.year, self.month, ND09_CUTOFF_DAY)

    @property
    def start(self) -> datetime:
        """Start instant, an aware datetime at local midnight."""
        return datetime.combine(self.start_date, datetime.min.time(), LOCAL_TZ)

    @property
    def end(self) -> datetime:
        """End instant (exclusive), an aware datetime at local midnight."""
        return datetime.combine(self.end_date, datetime.min.time(), LOCAL_TZ)

    def contains(self, moment: datetime) -> bool:
        """Whether an aware or local-naive moment lies in ``[start, end)``."""
        return self.start <= as_local(moment) < self.end

    def previous(self, count: int = 1) -> Period:
        year, month = _shift(self.year, self.month, -count)
        return Period(year, month, self.convention)

    def __str__(self) -> str:
        return self.name


def _shift(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def as_local(moment: datetime) -> datetime:
    """An aware datetime in local time; a naive one is taken to be local already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(LOCAL_TZ)


def parse_period(name: str, convention: str = "nd09") -> Period:
    """Read ``YYYY-MM``; anything else is an error that says what was expected."""
    match = _NAME_RE.match(str(name).strip())
    if not match:
        raise PeriodError(f"period {name!r} is not of the form YYYY-MM (e.g. 2023-11)")
    return Period(int(match.group(1)), int(match.group(2)), convention)


def period_from_interval(start: datetime, end: datetime, convention: str = "nd09") -> Period:
    """The period whose interval is exactly ``[start, end)`` (any time zone), or an error saying why not.

    The DAG's timetable produces exactly these intervals; anything else (an unaligned manual run,
    a timetable of the wrong convention) must not silently become a different month.
    """
    local_end = as_local(end)
    year, month = local_end.year, local_end.month
    if convention == "calendar":
        year, month = _shift(year, month, -1)
    period = Period(year, month, convention)
    if as_local(start) != period.start or local_end != period.end:
        raise PeriodError(
            f"data interval [{as_local(start).isoformat()}, {local_end.isoformat()}) is not a {convention} "
            f"reporting period; trigger the run with a logical date inside the period to report, or use the "
            "DAG's timetable"
        )
    return period


def period_containing(moment: datetime, convention: str = "nd09") -> Period:
    """The period whose window ``[start, end)`` holds ``moment`` (naive = local time).

    Why this rule for a run started by hand: a run's logical date lies in the period it reports, as
    a scheduled run's does (its logical date is its period's start). So the report of November 2023
    under nd09 is any date from 15 October to 14 November 2023, and under calendar any date in November.
    """
    local = as_local(moment)
    period = Period(local.year, local.month, convention)
    if convention == "nd09" and local.day >= ND09_CUTOFF_DAY:
        period = Period(*_shift(local.year, local.month, 1), convention)
    return period


def latest_closed_period(now: datetime, convention: str = "nd09", delay: timedelta = timedelta(0)) -> Period:
    """The most recent period that ended at least ``delay`` before ``now``."""
    moment = as_local(now) - delay
    period = Period(moment.year, moment.month, convention)
    if convention == "calendar" or period.end > moment:
        period = period.previous()
    while period.end > moment:
        period = period.previous()
    return period


def resolve_period(
    requested: str | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
    convention: str = "nd09",
) -> Period:
    """A run's period: its data interval. ``requested`` (a ``period`` in the run's conf) may only confirm it.

    Why the interval alone decides: Airflow lists, names and filters runs by their data interval and
    logical date; a run that reported another month than the one it is listed under misled operators.
    """
    if interval_start is not None and interval_end is not None and interval_start != interval_end:
        period = period_from_interval(interval_start, interval_end, convention)
        if requested and str(requested).strip() != period.name:
            wanted = parse_period(requested, convention)
            raise PeriodError(
                f"this run is for period {period.name} (its logical date lies in [{period.start_date}, "
                f"{period.end_date})) but its conf asks for {wanted.name}. Trigger the run with a logical date "
                f"inside {wanted.name}: any day from {wanted.start_date} to {wanted.end_date - timedelta(days=1)}")
        return period
    hint = ""
    if requested:
        wanted = parse_period(requested, convention)
        hint = f" (for {wanted.name}: any day from {wanted.start_date} to {wanted.end_date - timedelta(days=1)})"
    raise PeriodError(
        "this run names no reporting period: it has no data interval (a run triggered without a logical "
        f"date). Trigger it again with a logical date inside the period to report{hint}"
    )
