"""
### Monthly TTHC reform report (`tthc_monthly_report`)

For one reporting period (the run's data interval) and each reporting unit (district) of the
province: fetch the one-stop system's dossiers and the hotline 1022's feedback, land them without
personal data, check them with Great Expectations (results page `index.html` under
`{data root}/quality/{YYYY-MM}/{district}/`; failing records blocked or quarantined per the `quality`
section of the configuration), compute the metrics of `docs/metrics.md` into the warehouse, and write
the district's report (`.docx`, PDF, evidence) under `{data root}/reports/{YYYY-MM}/`.

* **Period**: `nd09` (15th to 15th, Decree 09/2019/ND-CP) by default; `calendar` by configuration
  (`include/config/pipeline.yaml`). A scheduled run starts a configured delay after its period closes.
  **A run started by hand reports the period that contains its logical date**: for November 2023
  (nd09), any date from 15 October to 14 November 2023. Run ids name the period (`manual__2023-11__...`).
* **Form**: the reporting units (empty = all) and, for a run of one unit, its office's inputs.
* **Office inputs**: per unit (`office_inputs` in the configuration), task `office_inputs` asks the unit's
  office for the month's inputs as a Required Action, pre-filled from its previous month; unanswered after
  the configured time the run goes on with neutral sentences and says which inputs were defaulted. It is
  skipped when the office is not asked (the default), and `record_inputs` keeps what was used.
* **Sign-off and delivery**: per unit (same section), task `sign_off` asks the office to approve its
  rendered report (Required Action with links to the draft); `finalize_report` marks it final (approved, or
  at once for a unit without sign-off, the default) and `deliver_report` mails a final report with its
  .docx and PDF to the unit's `deliver_to` (skipped without recipients, the default). **Reject loops once**:
  `revise_inputs` gives the office its inputs form again (pre-filled, the rejection's comment shown),
  `revise_report` keeps and checks the revised inputs and renders the same report again (its evidence says
  it was revised after the rejection), `sign_off_revised` asks for approval again. A second Reject, or no
  answer in time to any of them: the report stays a draft, is not mailed, and the province's roll-up leaves
  it out. Without sign-off the three revision tasks are skipped by the scheduler (no worker starts).
* **Only the office's steps some unit uses are in the DAG**: `office_inputs` when some unit's office is
  asked, `sign_off` and its three revision tasks when some unit signs off, `deliver_report` when some unit
  has recipients. The bundled configuration uses none of them: each unit's month is extract (two tasks),
  `record_inputs`, `validate`, `compute_metrics`, `write_report`, `finalize_report`. Configure one and the
  next parse of this file adds them (a new DAG version; runs already going keep theirs).
* **One mapped task group per district**, labelled with the district's name: a district that fails
  fails alone; clear its tasks to rerun it. `summarize` fails the run when any report is missing.
* **Connections**: `tthc_one_stop`, `tthc_hotline_1022` (http; password = token / API key),
  `tthc_warehouse` (optional; SQLite under the Airflow home by default). Data root: `TTHC_DATA_ROOT`.

Orchestration only: the work is done by the `tthc` package (no Airflow inside), the Airflow glue
is `tthc_airflow`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, get_current_context, task, task_group

from tthc import pipeline
from tthc.config import load_config
from tthc.district_month import DistrictMonth
from tthc_airflow import DAG_ID
from tthc_airflow.assets import PROVINCE_OUTPUTS
from tthc_airflow.district_task import district_task
from tthc_airflow.errors import fail_fast
from tthc_airflow.notify import deadline_alert, failure_callbacks
from tthc_airflow.office_inputs import form_answer, office_form
from tthc_airflow.params import OFFICE_FORM_PREFIX, inputs_from_run, run_inputs, run_params
from tthc_airflow.sign_off import (
    deliver,
    finalize,
    revise,
    revise_inputs,
    revision_answer,
    sign_off,
    sign_off_revised,
)
from tthc_airflow.timetable import ReportingPeriodTimetable

CONFIG = load_config()
SCHEDULE = CONFIG.schedule
UNITS = [(u.code, u.name) for u in CONFIG.all_reporting_units()]  # of every structure in force at some date
# The office's steps (form, sign-off with its return on Reject, delivery) are in the DAG only when some unit's
# configuration uses them: a step no unit uses would only skip itself, a task process per unit and month.
STEPS = CONFIG.office_steps()


with DAG(
    dag_id=DAG_ID,
    description="Monthly administrative-procedure reform report of every district",
    doc_md=__doc__,
    schedule=ReportingPeriodTimetable(SCHEDULE.convention, timedelta(hours=SCHEDULE.delay_hours)),
    start_date=datetime.combine(SCHEDULE.start_date, datetime.min.time()),
    catchup=False,
    max_active_runs=2,
    tags=["tthc", "report", CONFIG.hierarchies[-1].province.short_name],
    default_args={
        "owner": "tthc",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        # No task may hang unattended (tasks.execution_timeout_minutes in include/config/pipeline.yaml).
        "execution_timeout": timedelta(minutes=CONFIG.tasks.execution_timeout_minutes),
        # A mail to the operators when a task fails for good (notifications in include/config/pipeline.yaml).
        "on_failure_callback": failure_callbacks(CONFIG.notifications),
    },
    deadline=deadline_alert(CONFIG.notifications, DAG_ID),
    params=run_params(UNITS),
) as dag:

    @task
    def plan_run() -> list[dict[str, str]]:
        """Resolve the run's period (its data interval) and the districts to report on."""
        from tthc.periods import resolve_period

        context = get_current_context()
        params, conf = context["params"], getattr(context.get("dag_run"), "conf", None) or {}
        with fail_fast():
            period = resolve_period(conf.get("period"), context.get("data_interval_start"),
                                    context.get("data_interval_end"), SCHEDULE.convention)
            units = pipeline.plan(CONFIG, period, params.get("districts") or [],
                                  with_inputs=inputs_from_run(params) is not None)
        print(f"period {period.name}: [{period.start.isoformat()}, {period.end.isoformat()}), "
              f"{len(units)} district(s): {', '.join(u['label'] for u in units)}")
        return units

    @task_group(group_id="district")
    def per_district(unit: dict[str, str]) -> None:
        """One district's month: extract both sources, validate them, compute metrics, write the report."""

        # Each task runs one step on the district's month (tthc_airflow.district_task: map index label,
        # DistrictMonth, fail_fast); its docstring is its doc in the UI.

        @district_task(CONFIG, retries=3)
        def extract_dossiers(month: DistrictMonth) -> dict[str, Any]:
            """Dossiers open during the period, from the one-stop system (connection tthc_one_stop)."""
            from tthc_airflow.hooks import OneStopHook

            return pipeline.extract_dossiers(month, OneStopHook().fetcher(month.config.extraction))

        @district_task(CONFIG, retries=3)
        def extract_feedback(month: DistrictMonth) -> dict[str, Any]:
            """Feedback received during the period, from the hotline 1022 (connection tthc_hotline_1022)."""
            from tthc_airflow.hooks import HotlineHook

            return pipeline.extract_feedback(month, HotlineHook().fetcher(month.config.extraction))

        @district_task(CONFIG, trigger_rule="none_failed")
        def record_inputs(month: DistrictMonth) -> dict[str, Any]:
            """The month's office inputs (the form's answer, or the file and the form's fields), validated and kept."""
            return pipeline.record_inputs(month, run_inputs(), form_answer(), get_current_context()["run_id"],
                                          OFFICE_FORM_PREFIX)

        @district_task(CONFIG)
        def validate(month: DistrictMonth) -> dict[str, Any]:
            """Great Expectations over the extracts and operator inputs: block, warn or quarantine per configuration."""
            return pipeline.validate_sources(month, run_inputs())

        @district_task(CONFIG)
        def compute_metrics(month: DistrictMonth) -> dict[str, Any]:
            """docs/metrics.md over the validated extracts, checked, replacing the period's rows in the warehouse."""
            return pipeline.compute_metrics(month, get_current_context()["run_id"])

        @district_task(CONFIG)
        def write_report(month: DistrictMonth) -> dict[str, Any]:
            """The district's report (.docx) from the warehouse rows, with the operator inputs."""
            return pipeline.write_report(month, run_inputs())

        @district_task(CONFIG)
        def revise_report(month: DistrictMonth) -> dict[str, Any]:
            """After the office rejected its report and entered its inputs again (revise_inputs): the revised inputs
            kept and checked, the same report rendered again for sign_off_revised; skipped otherwise."""
            return revise(month, revision_answer(), run_inputs(), get_current_context()["run_id"])

        @district_task(CONFIG, trigger_rule="none_failed")
        def finalize_report(month: DistrictMonth) -> dict[str, Any]:
            """The report made final: approved by the office (its last decision: sign_off_revised after a Reject,
            else sign_off), or as written when it signs off nothing; skipped when the office rejected it or did not
            answer in time (it stays a draft)."""
            return finalize(month, get_current_context()["run_id"])

        @district_task(CONFIG, retries=1)
        def deliver_report(month: DistrictMonth) -> dict[str, Any]:
            """The final report mailed to the unit's office (.docx, .pdf), the province's in copy; skipped without
            recipients (office_inputs deliver_to)."""
            return deliver(month)

        extracted = [extract_dossiers(unit), extract_feedback(unit)]
        checked = validate(unit)
        inputs = record_inputs(unit)
        inputs >> checked
        if STEPS.form:  # the office's form waits (when asked) while the sources are read; the checks need its answer
            office_form(CONFIG, unit) >> inputs
        written = write_report(unit)
        extracted >> checked >> compute_metrics(unit) >> written
        # The draft waits for the office's approval (when it signs off). A Reject returns once to the inputs
        # form, renders again and asks again; for a unit without sign-off the scheduler skips those three
        # (all_success after a skipped sign_off) and finalize_report (none_failed) runs. See tthc_airflow.sign_off.
        finalized = finalize_report(unit)
        if STEPS.sign_off:
            (written >> sign_off(CONFIG, unit) >> revise_inputs(CONFIG, unit) >> revise_report(unit)
             >> sign_off_revised(CONFIG, unit) >> finalized)
        else:
            written >> finalized
        if STEPS.delivery:
            finalized >> deliver_report(unit)

    @task(trigger_rule="all_done", retries=1, multiple_outputs=False)
    def consolidate_province(units: list[dict[str, str]] | None) -> dict[str, Any]:
        """The province's consolidated report and workbook of the period, from every unit that has its report."""
        from airflow.sdk.exceptions import AirflowSkipException

        from tthc.periods import parse_period
        from tthc_airflow.hooks import data_root, warehouse_url

        if not units:
            raise AirflowSkipException("no unit was planned (plan_run failed): nothing to consolidate")
        with fail_fast():
            period = parse_period(units[0]["period"], SCHEDULE.convention)
            return pipeline.write_province_outputs(CONFIG, period, data_root(), warehouse_url())

    @task(outlets=[PROVINCE_OUTPUTS], retries=0, multiple_outputs=False)
    def announce_province(outputs: dict[str, Any]) -> dict[str, Any]:
        """Emit the province-outputs Asset event (its extra: the period, the files) once per complete period."""
        from airflow.sdk.exceptions import AirflowSkipException

        from tthc_airflow.hooks import data_root

        with fail_fast():
            extra = pipeline.province_announcement(outputs, data_root())
        if extra is None:
            missing = ", ".join(outputs.get("missing") or [])
            raise AirflowSkipException(f"period {outputs.get('period')}: units without a report: {missing}; no event"
                                       if missing else f"period {outputs.get('period')}: outputs as announced before")
        get_current_context()["outlet_events"][PROVINCE_OUTPUTS].extra = extra
        return extra

    @task(trigger_rule="all_done", retries=0, multiple_outputs=False)
    def summarize(units: list[dict[str, str]] | None) -> dict[str, Any]:
        """Print what the run did; fail when any district has no report, so the failure notifies."""
        from tthc_airflow.summary import summarize_run

        return summarize_run(get_current_context(), units)

    units = plan_run()
    districts = per_district.expand(unit=units)
    province = consolidate_province(units)  # type: ignore[arg-type]
    districts >> province >> [announce_province(province), summarize(units)]  # type: ignore[arg-type]
