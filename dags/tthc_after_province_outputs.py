"""
### After the province's outputs (`tthc_after_province_outputs`): an example consumer

Scheduled on the Asset `tthc_province_outputs`, which `tthc_monthly_report` updates once a run has
written the province's consolidated report and workbook for **every** reporting unit of a period.
It prints the period and the files the event carries; replace its task with what your province does
next (publish the report, refresh a dashboard, send the workbook on).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, get_current_context, task

from tthc_airflow.assets import PROVINCE_OUTPUTS

with DAG(
    dag_id="tthc_after_province_outputs",
    description="Example: runs when a period's province outputs are complete",
    doc_md=__doc__,
    schedule=[PROVINCE_OUTPUTS],
    start_date=datetime(2023, 1, 1),
    catchup=False,
    tags=["tthc", "example"],
):

    @task
    def show_period() -> list[dict]:
        """The period and files of each event that triggered this run."""
        events = get_current_context()["triggering_asset_events"][PROVINCE_OUTPUTS]
        extras = [dict(event.extra) for event in events]
        for extra in extras:
            print(f"province {extra.get('province')}, period {extra.get('period')}: report {extra.get('path')}, "
                  f"workbook {extra.get('workbook')}")
        return extras

    show_period()
