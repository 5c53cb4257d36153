"""Airflow glue of the TTHC pipeline: timetable, hooks over connections, data root, callbacks.

Everything that knows about Airflow sits here; the domain lives in ``tthc``.
"""

DAG_ID = "tthc_monthly_report"  # the DAG this glue serves (its note, its outputs, its mails)
