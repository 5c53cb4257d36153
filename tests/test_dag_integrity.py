"""The DAG imports without errors or cycles, quickly, with the structure operators rely on."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    print(f"\nDagBag parse of dags/: {time.perf_counter() - started:.2f} s")
    return bag


OFFICE_STEPS = ("\n  units:\n    872: {ask: true, sign_off: true, deliver_to: [vanphong@thapmuoi.example]}\n")


@pytest.fixture(scope="module")
def office_dagbag(dagbag, tmp_path_factory: pytest.TempPathFactory):
    """The DAG parsed with a configuration in which one unit uses every office step (form, sign-off, delivery)."""
    from airflow.dag_processing.dagbag import DagBag

    text = (ROOT / "include" / "config" / "pipeline.yaml").read_text("utf-8")
    text = text.replace("include_dir: ..", f"include_dir: {ROOT / 'include'}")
    text = text.replace("\n  units: {}", OFFICE_STEPS.rstrip("\n"), 1)
    path = tmp_path_factory.mktemp("office") / "pipeline.yaml"
    path.write_text(text, "utf-8")
    saved = os.environ.get("TTHC_CONFIG")
    os.environ["TTHC_CONFIG"] = str(path)
    try:
        return DagBag(dag_folder=str(ROOT / "dags"))
    finally:
        if saved is None:
            os.environ.pop("TTHC_CONFIG")
        else:
            os.environ["TTHC_CONFIG"] = saved


BUNDLED_TASKS = {"plan_run", "district.extract_dossiers", "district.extract_feedback", "district.record_inputs",
                 "district.validate", "district.compute_metrics", "district.write_report", "district.finalize_report",
                 "consolidate_province", "announce_province", "summarize"}
OFFICE_TASKS = {"district.office_inputs", "district.sign_off", "district.revise_inputs", "district.revise_report",
                "district.sign_off_revised", "district.deliver_report"}


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert "tthc_monthly_report" in dagbag.dags


def test_structure(dagbag, office_dagbag) -> None:
    dag = dagbag.dags["tthc_monthly_report"]
    ids = {t.task_id for t in dag.tasks}
    # The bundled configuration asks no office, signs off nothing and mails nothing: those steps are left out.
    assert ids == BUNDLED_TASKS
    assert {t.task_id for t in office_dagbag.dags["tthc_monthly_report"].tasks} == BUNDLED_TASKS | OFFICE_TASKS
    assert dag.get_task("district.finalize_report").upstream_task_ids - {"plan_run"} == {"district.write_report"}
    assert dag.get_task("district.record_inputs").upstream_task_ids - {"plan_run"} == set()
    assert dag.catchup is False
    # No "period" field: the logical date chooses the month; nothing in the form is required.
    assert set(dag.params) == {"districts", "inspections_count", "violations", "findings", "resources",
                               "assessment", "shortcomings"}
    for name in dag.params:
        assert "null" in dag.params.get_param(name).schema["type"], name
    assert dag.params.get_param("districts").schema["values_display"]["872"] == "Huyện Tháp Mười (872)"
    assert dag.timetable.summary.startswith("nd09")
    # Nothing is computed from an extract before the quality gate has checked it.
    validate = dag.get_task("district.validate")
    assert validate.upstream_task_ids >= {"district.extract_dossiers", "district.extract_feedback"}
    assert dag.get_task("district.compute_metrics").upstream_task_ids - {"plan_run"} == {"district.validate"}
    # The office's inputs are settled (asked, or not) before the checks, which validate them.
    assert validate.upstream_task_ids >= {"district.record_inputs"}
    office = office_dagbag.dags["tthc_monthly_report"]
    assert office.get_task("district.record_inputs").upstream_task_ids - {"plan_run"} == {"district.office_inputs"}
    assert dag.get_task("summarize").trigger_rule == "all_done"
    # The province is consolidated after every district, whatever their outcome; its Asset only when complete.
    assert dag.get_task("consolidate_province").trigger_rule == "all_done"
    assert dag.get_task("consolidate_province").upstream_task_ids >= {"district.finalize_report", "plan_run"}
    assert office.get_task("consolidate_province").upstream_task_ids >= {"district.deliver_report", "plan_run"}
    announce = dag.get_task("announce_province")
    assert [outlet.name for outlet in announce.outlets] == ["tthc_province_outputs"]
    assert announce.trigger_rule == "all_success"
    consumer = dagbag.dags["tthc_after_province_outputs"]
    assert [a.name for a in consumer.timetable.asset_condition.objects] == ["tthc_province_outputs"]


def test_every_task_has_the_configured_execution_timeout(office_dagbag) -> None:
    from datetime import timedelta

    from tthc.config import load_config

    limit = timedelta(minutes=load_config().tasks.execution_timeout_minutes)
    tasks = office_dagbag.dags["tthc_monthly_report"].tasks
    assert len(tasks) == 17
    assert {task.task_id: task.execution_timeout for task in tasks} == {task.task_id: limit for task in tasks}


def test_dag_file_imports_fast_and_without_heavy_modules() -> None:
    """The dag-processor re-parses dags/ continually: pandas, pyarrow, GX and docx stay out of module level."""
    code = (
        "import json, runpy, sys, time; t = time.perf_counter(); sys.path[:0] = ['plugins'];"
        "runpy.run_path('dags/tthc_monthly_report.py');"
        "heavy = [m for m in ('pandas', 'pyarrow', 'great_expectations', 'docx', 'docxtpl', 'matplotlib') "
        "if m in sys.modules];"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'heavy': heavy}))"
    )
    env = dict(os.environ, AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\ncold import of the DAG file (Airflow included): {measured['seconds']:.2f} s; heavy: {measured['heavy']}")
    heavy = measured["heavy"]
    assert heavy == []


def test_no_import_cycles_in_our_packages() -> None:
    """Each module of ours imports on its own in a fresh interpreter (a cycle fails one of them)."""
    modules = sorted(
        ".".join(p.relative_to(ROOT / "plugins").with_suffix("").parts)
        for p in (ROOT / "plugins").rglob("*.py")
    )
    modules = [m.removesuffix(".__init__") for m in modules]
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    for module in modules:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"))
        result = subprocess.run([sys.executable, "-c", code, module], env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{module} does not import on its own:\n{result.stderr[-2000:]}"


def test_domain_package_imports_nothing_from_airflow() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "plugins" / "tthc").rglob("*.py")
                 if "import airflow" in p.read_text() or "from airflow" in p.read_text()]
    assert offenders == []


def test_with_operators_to_notify_the_dag_carries_callbacks_and_a_deadline_and_serializes(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    text = (ROOT / "include" / "config" / "pipeline.yaml").read_text("utf-8")
    text = text.replace("include_dir: ..", f"include_dir: {ROOT / 'include'}").replace("  to: []", "  to: [a@b.vn]")
    (tmp_path / "pipeline.yaml").write_text(text, "utf-8")
    monkeypatch.setenv("TTHC_CONFIG", str(tmp_path / "pipeline.yaml"))
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["tthc_monthly_report"]
    assert all(task.on_failure_callback for task in dag.tasks)
    assert dag.deadline and dag.deadline[0].interval.total_seconds() == 24 * 3600
    serialized = DagSerialization.to_dict(dag)
    assert serialized["dag"]["deadline"]


def test_office_form_is_a_required_action_that_never_blocks_a_skipped_unit(office_dagbag) -> None:
    """The form is the standard provider's HITLEntryOperator, in Vietnamese, with defaults so a timeout goes on;
    the step after it runs when the form is skipped (the office not asked), so the report is still written."""
    from datetime import timedelta

    from airflow.providers.standard.operators.hitl import HITLEntryOperator
    from airflow.serialization.serialized_objects import DagSerialization

    dag = office_dagbag.dags["tthc_monthly_report"]
    form = dag.get_task("district.office_inputs")
    assert isinstance(form, HITLEntryOperator)
    assert form.defaults == ["OK"] and form.options == ["OK"]
    assert form.response_timeout == timedelta(days=3)  # the bundled default, per unit at run time
    assert set(form.params) == {"office_inspections_count", "office_violations", "office_findings",
                                "office_resources", "office_assessment", "office_shortcomings"}
    assert form.params.get_param("office_resources").schema["title"].startswith("Nguồn lực")
    for name in form.params:
        param = form.params.get_param(name)
        assert param.description and "null" in param.schema["type"], name
    assert dag.get_task("district.record_inputs").trigger_rule == "none_failed"
    assert set(form.serialized_params) == set(form.params)  # only the form's fields, not the trigger form's
    serialized = DagSerialization.to_dict(dag)
    tasks = {t["__var"]["task_id"]: t["__var"] for t in serialized["dag"]["tasks"]}
    assert "district.office_inputs" in tasks


def test_sign_off_is_an_approval_after_the_report_that_never_blocks_a_unit_without_it(office_dagbag) -> None:
    """The sign-off is the standard provider's ApprovalOperator right after write_report; a timeout takes Reject
    (the report stays a draft). Reject returns once to the inputs form, renders again and asks again: three tasks in
    the chain, each all_success, so a skipped sign_off (no sign-off configured) has the scheduler skip them without
    running them, and the report is still made final (none_failed); the mail only follows a final report, and the
    province is consolidated after the mail, whatever its outcome."""
    from datetime import timedelta

    from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLEntryOperator

    dag = office_dagbag.dags["tthc_monthly_report"]
    approval = dag.get_task("district.sign_off")
    assert isinstance(approval, ApprovalOperator)
    assert approval.defaults == ["Reject"] and approval.response_timeout == timedelta(days=3)
    assert approval.upstream_task_ids - {"plan_run"} == {"district.write_report"}
    assert approval.params.get_param("comment").schema["title"] == "Ý kiến"
    chain = ["district.sign_off", "district.revise_inputs", "district.revise_report", "district.sign_off_revised",
             "district.finalize_report", "district.deliver_report"]
    for upstream, downstream in itertools.pairwise(chain):
        assert dag.get_task(downstream).upstream_task_ids - {"plan_run"} == {upstream}, downstream
        assert dag.get_task(upstream).downstream_task_ids == {downstream}, upstream
    for task_id in chain[1:4]:
        assert dag.get_task(task_id).trigger_rule == "all_success", task_id
    form, again = dag.get_task("district.revise_inputs"), dag.get_task("district.sign_off_revised")
    assert isinstance(form, HITLEntryOperator)
    assert set(form.params) == set(dag.get_task("district.office_inputs").params)
    assert isinstance(again, ApprovalOperator) and again.defaults == ["Reject"]
    assert again.params.get_param("comment").schema["title"] == "Ý kiến"
    finalize, deliver = dag.get_task("district.finalize_report"), dag.get_task("district.deliver_report")
    assert finalize.trigger_rule == "none_failed" and deliver.trigger_rule == "all_success"
    assert dag.get_task("consolidate_province").trigger_rule == "all_done"
