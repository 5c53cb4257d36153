"""``airflow`` with the pipeline's heavy libraries already imported: ``python -m tthc_airflow.preload <airflow args>``.

Why: Airflow 3's LocalExecutor forks its workers from the process that runs the executor (``airflow
scheduler``, or ``airflow dags test --use-executor``), and each worker forks a new process per task. A task
that imports pandas, pyarrow or Great Expectations pays for it every time (pandas and pyarrow about 1 s, GX
about 2.5 s of CPU), in every unit and every month: with a hundred units, minutes of a small machine. Imported
once in the parent before the executor starts, they are in every forked task process already (pages shared
copy-on-write), and the tasks' own ``import`` finds them.

Only for commands whose processes fork the tasks (``scheduler`` with the LocalExecutor, ``celery worker``,
whose prefork pool and task processes fork from it, ``dags test``); the DAG processor and the API server
never need these libraries and keep their own start. It costs the parent about 250 MB resident.
Imports that start no thread: forking after them is safe.
"""

from __future__ import annotations

import importlib
import sys
import time

# What the district tasks import (tthc.pipeline's steps): the landing, the quality gate, the report, and the
# warehouse with its migrations (Alembic).
HEAVY = ("pandas", "pyarrow", "pyarrow.parquet", "pyarrow.compute", "great_expectations",
         "great_expectations.expectations", "docx", "docxtpl", "PIL.Image", "tthc.warehouse",
         "tthc.warehouse_migrations", "tthc.report")


def preload() -> float:
    """Import ``HEAVY``; the seconds it took."""
    import logging

    started = time.perf_counter()
    # GX logs one INFO line per public function it registers at import (as in tthc.quality.runner.GxSession).
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    for name in HEAVY:
        importlib.import_module(name)
    return time.perf_counter() - started


def main() -> None:
    seconds = preload()
    print(f"tthc_airflow.preload: {', '.join(HEAVY)} imported in {seconds:.1f} s", file=sys.stderr, flush=True)
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", *sys.argv[1:]]
    airflow_main()


if __name__ == "__main__":
    main()
