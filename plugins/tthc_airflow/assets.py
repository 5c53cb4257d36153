"""The Airflow Asset that says a period's province outputs are complete, for DAGs that come after.

Why an Asset: what follows the month's reports (publishing them, refreshing a dashboard, sending
the province's report on) should start when the province's consolidated report and workbook of a
period cover every reporting unit, not at a guessed time. ``tthc_monthly_report`` emits one event
per complete period (``tthc.pipeline.province_announcement``: again only when its outputs change),
its ``extra`` carrying the period and the files;
``dags/tthc_after_province_outputs.py`` is an example consumer.
"""

from __future__ import annotations

from airflow.sdk import Asset

# An "x-" scheme: Airflow's convention for a URI of the deployment's own (no provider normalises it).
PROVINCE_OUTPUTS = Asset(name="tthc_province_outputs", uri="x-tthc://province-outputs", group="tthc")

