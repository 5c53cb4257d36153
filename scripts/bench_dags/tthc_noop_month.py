"""
### Orchestration floor of `tthc_monthly_report` (`tthc_noop_month`): its shape, no work

Why: a month of many small units is bounded less by its steps than by what Airflow spends per task
instance (a queued task, a new process that parses its DAG file, the execution API's calls, the scheduler's
loop). `scripts/bench.py --month` runs this DAG exactly as it runs the real one (`scripts/run_month.py
--use-executor`: the scheduler with its LocalExecutor, one task process per core, PostgreSQL, API server)
and prints its time as the orchestration floor beside the real run's.

The shape is `dags/tthc_monthly_report.py`'s: `plan_run`, one mapped task group `district` per unit with the
same task ids, dependencies and trigger rules, then `consolidate_province`, `announce_province` and
`summarize`. The office's optional steps are in it exactly when they are in the real DAG: the bench passes
`tthc.config.OfficeSteps` of the configuration in `TTHC_NOOP_STEPS` (JSON, read when the file is parsed).
Every task does nothing but what decides the scheduler's work: an office step that is present but skips itself
for a unit not using it (`office_inputs`, `sign_off`, `deliver_report`) raises `AirflowSkipException` here
too, so the same task instances start a process and the same ones (`revise_inputs`, `revise_report`,
`sign_off_revised`: upstream skipped, `all_success`) are skipped by the scheduler without one. The district
tasks return a small dict as the real ones do (one XCom each).

Only `airflow.sdk` is imported (no pandas, pyarrow, GX, `tthc`): the figure is Airflow's cost alone. The units
come from the environment variable `TTHC_NOOP_UNITS` (JSON: `{"units": [plan_run's dicts], "complete": bool}`,
set by the bench from `tthc.pipeline.plan` for the same period and districts); `complete` says whether they
are every unit of the period, as the real `announce_province` announces only a complete period.

This file lives outside `dags/` on purpose: production never loads it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any, NoReturn

from airflow.sdk import DAG, Asset, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

DAG_ID = "tthc_noop_month"
UNITS_ENV = "TTHC_NOOP_UNITS"
STEPS_ENV = "TTHC_NOOP_STEPS"
# The office's steps in the DAG (as tthc.config.OfficeSteps); none when unset, as in the bundled configuration.
STEPS = {"form": False, "sign_off": False, "delivery": False, **json.loads(os.environ.get(STEPS_ENV) or "{}")}
MAP_INDEX_KEY = "district_label"  # as tthc_airflow.district_task: the map index shows the unit's label
MAP_INDEX_TEMPLATE = "{{ " + MAP_INDEX_KEY + " }}"
NOOP_OUTPUTS = Asset(name="tthc_noop_province_outputs", uri="x-tthc-noop://province-outputs", group="tthc-bench")


def _planned() -> dict[str, Any]:
    """The run's units and completeness from ``TTHC_NOOP_UNITS``; read at run time, so parsing costs nothing."""
    raw = os.environ.get(UNITS_ENV)
    if not raw:
        raise RuntimeError(f"{UNITS_ENV} is not set: scripts/bench.py --month sets it to the run's units")
    planned: dict[str, Any] = json.loads(raw)
    return planned


def _labelled(unit: dict[str, str]) -> dict[str, str]:
    """Put the unit's label on the map index, as every real district task does, and return the task's XCom."""
    get_current_context()[MAP_INDEX_KEY] = unit["label"]  # type: ignore[literal-required]
    return {"unit": unit["code"]}


def _skipped(unit: dict[str, str], why: str) -> NoReturn:
    """Skip as the real task does in the bundled configuration (its label on the map index first)."""
    get_current_context()[MAP_INDEX_KEY] = unit["label"]  # type: ignore[literal-required]
    raise AirflowSkipException(f"{unit['label']}: {why} (no-op, as the bundled configuration)")


def district_task(**options: Any) -> Any:
    """``@task`` with the real district tasks' map index template and single XCom."""
    return task(map_index_template=MAP_INDEX_TEMPLATE, multiple_outputs=False, **options)


with DAG(
    dag_id=DAG_ID,
    description="No-op DAG of tthc_monthly_report's shape: the orchestration floor of scripts/bench.py --month",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2019, 1, 1),
    catchup=False,
    tags=["tthc-bench"],
    default_args={"owner": "tthc", "retries": 0},
) as dag:

    @task
    def plan_run() -> list[dict[str, str]]:
        """The units of the period, as the real plan_run returns them (one dict per unit)."""
        units: list[dict[str, str]] = _planned()["units"]
        return units

    @task_group(group_id="district")
    def per_district(unit: dict[str, str]) -> None:
        """One unit: the real group's tasks, doing nothing."""

        @district_task()
        def extract_dossiers(unit: dict[str, str]) -> dict[str, str]:
            return _labelled(unit)

        @district_task()
        def extract_feedback(unit: dict[str, str]) -> dict[str, str]:
            return _labelled(unit)

        @district_task(task_id="office_inputs")
        def office_form(unit: dict[str, str]) -> dict[str, str]:
            return _skipped(unit, "the office is not asked")

        @district_task(trigger_rule="none_failed")
        def record_inputs(unit: dict[str, str]) -> dict[str, str]:
            return _labelled(unit)

        @district_task()
        def validate(unit: dict[str, str]) -> dict[str, str]:
            return _labelled(unit)

        @district_task()
        def compute_metrics(unit: dict[str, str]) -> dict[str, str]:
            return _labelled(unit)

        @district_task()
        def write_report(unit: dict[str, str]) -> dict[str, str]:
            return _labelled(unit)

        @district_task()
        def sign_off(unit: dict[str, str]) -> dict[str, str]:
            return _skipped(unit, "no sign-off configured")

        @district_task()
        def revise_inputs(unit: dict[str, str]) -> dict[str, str]:
            return _skipped(unit, "no sign-off: the inputs are not asked again")  # never started: upstream skipped

        @district_task()
        def revise_report(unit: dict[str, str]) -> dict[str, str]:
            return _skipped(unit, "the report was not rejected")  # never started: upstream skipped

        @district_task()
        def sign_off_revised(unit: dict[str, str]) -> dict[str, str]:
            return _skipped(unit, "not rendered again")  # never started: upstream skipped

        @district_task(trigger_rule="none_failed")
        def finalize_report(unit: dict[str, str]) -> dict[str, str]:
            return _labelled(unit)

        @district_task()
        def deliver_report(unit: dict[str, str]) -> dict[str, str]:
            return _skipped(unit, "no deliver_to configured")

        extracted = [extract_dossiers(unit), extract_feedback(unit)]
        checked = validate(unit)
        inputs = record_inputs(unit)
        inputs >> checked
        if STEPS["form"]:
            office_form(unit) >> inputs
        written = write_report(unit)
        extracted >> checked >> compute_metrics(unit) >> written
        finalized = finalize_report(unit)
        if STEPS["sign_off"]:
            (written >> sign_off(unit) >> revise_inputs(unit) >> revise_report(unit)
             >> sign_off_revised(unit) >> finalized)
        else:
            written >> finalized
        if STEPS["delivery"]:
            finalized >> deliver_report(unit)

    @task(trigger_rule="all_done", multiple_outputs=False)
    def consolidate_province(units: list[dict[str, str]] | None) -> dict[str, Any]:
        """The real task's XCom in small: whether every unit of the period was planned."""
        if not units:
            raise AirflowSkipException("no unit was planned (plan_run failed): nothing to consolidate")
        return {"complete": bool(_planned().get("complete")), "units": len(units)}

    @task(outlets=[NOOP_OUTPUTS], multiple_outputs=False)
    def announce_province(outputs: dict[str, Any]) -> dict[str, Any]:
        """Skips as the real task does when units are missing (a run of some units only); else an Asset event."""
        if not outputs.get("complete"):
            raise AirflowSkipException("units without a report: no event (no-op)")
        return outputs

    @task(trigger_rule="all_done", multiple_outputs=False)
    def summarize(units: list[dict[str, str]] | None) -> dict[str, Any]:
        """Nothing to print: the no-op has no reports."""
        return {"units": len(units or [])}

    units = plan_run()
    districts = per_district.expand(unit=units)
    province = consolidate_province(units)  # type: ignore[arg-type]
    districts >> province >> [announce_province(province), summarize(units)]  # type: ignore[arg-type]
