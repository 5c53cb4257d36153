"""The label that names a run's reporting month, e.g. ``Báo cáo tháng 11/2023 (kỳ 15/10/2023 – 14/11/2023)``.

Why a label at all: Airflow 3.3 shows a run by its id and its logical date. The logical date is the
period's *start* (15 October 2023 for the November 2023 report under nd09), and backfill runs and
``airflow dags test`` runs get ids Airflow makes without asking our timetable (``backfill__<run after>``,
``manual__<logical date>``). An operator looking at such a run saw another month than the one it
reports. The run's note is shown on its page and in the run list, so ``tthc_airflow.listeners`` writes
this label there when the run has no note.

Why both conventions are tried: the label is computed where only the run's data interval is at hand
(the scheduler, with no pipeline configuration loaded). An nd09 interval (15th to 15th) is never a
calendar one (1st to 1st) and the reverse, so the interval alone says which period it is.

Pure: no Airflow, no I/O, so it is tested on its own (``tests/unit/test_run_label.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tthc.periods import CONVENTIONS, Period, PeriodError, period_from_interval


def period_label(period: Period) -> str:
    """``Báo cáo tháng MM/YYYY (kỳ DD/MM/YYYY – DD/MM/YYYY)``: the month, then its first and last local day."""
    last_day = period.end_date - timedelta(days=1)
    return (f"Báo cáo tháng {period.month:02d}/{period.year:04d} "
            f"(kỳ {period.start_date:%d/%m/%Y} – {last_day:%d/%m/%Y})")


def period_of_interval(start: datetime | None, end: datetime | None) -> Period | None:
    """The reporting period whose interval is exactly ``[start, end)`` in either convention; None if none is."""
    if start is None or end is None or start == end:
        return None
    for convention in CONVENTIONS:
        try:
            return period_from_interval(start, end, convention)
        except PeriodError:
            continue
    return None


def run_label(start: datetime | None, end: datetime | None) -> str | None:
    """The label of a run whose data interval is ``[start, end)``; None when it is not a reporting period.

    A run triggered without a logical date has no interval, and fails at ``plan_run`` saying so: it gets
    no label rather than a month it does not report.
    """
    period = period_of_interval(start, end)
    return None if period is None else period_label(period)
