"""Domain package of the monthly TTHC report pipeline.

It imports nothing from Airflow and nothing heavy at import time, so the DAG processor can import
it while parsing and the package can be tested and reused on its own. Airflow glue lives in
``tthc_airflow``.
"""
