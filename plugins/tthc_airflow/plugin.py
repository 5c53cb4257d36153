"""The Airflow plugin of the pipeline: registers the reporting timetable so DAGs can be serialized."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tthc_airflow.timetable import ReportingPeriodTimetable


class TthcPlugin(AirflowPlugin):
    name = "tthc"
    timetables = [ReportingPeriodTimetable]  # noqa: RUF012 (Airflow reads a class attribute)
