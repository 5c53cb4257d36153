"""The office inputs form, live: one unit answers its Required Action through the REST API, another never does.

On real components (scheduler, DAG processor, API server on PostgreSQL): Tháp Mười (872) is asked with a day
to answer and its form is pre-filled from its inputs file (``file_replaces_form: false``); the test answers
it as the UI does (``PATCH .../taskInstances/district.office_inputs/{map_index}/hitlDetails``). Thành phố Cao
Lãnh (866) is asked with 20 s to answer and nobody does: the scheduler's timeout sweep takes the defaults,
and the month still ends with its report, whose evidence says which inputs were defaulted. Each form is
announced by mail to a real SMTP server in this process.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _Inbox
from tests.scheduler.stack import ADMIN, DAG_ID, AirflowStack, StackOptions, bundled_config, smtp_connection, wait_for
from tthc import warehouse

pytestmark = [pytest.mark.scheduler, pytest.mark.services]

LOGICAL_DATE = "2023-11-01T03:00:00Z"  # inside 2023-11 [10-15, 11-15), nd09
PERIOD = "2023-11"
ANSWERS, TIMES_OUT = "872", "866"
OFFICE = "vanphong@thapmuoi.example"
ANSWER = {"office_inspections_count": 1, "office_violations": 0, "office_findings": None,
          "office_resources": "Bố trí 03 công chức làm đầu mối kiểm soát thủ tục hành chính.",
          "office_assessment": "Tháng 11, huyện tập trung số hóa hồ sơ.", "office_shortcomings": None}
RUN_TIMEOUT = 360


@pytest.fixture(scope="module")
def stack_options(inbox: tuple[_Inbox, int], tmp_path_factory: pytest.TempPathFactory) -> StackOptions:
    units = (f'  units:\n    "{ANSWERS}": {{ask: true, file_replaces_form: false, response_timeout: P1D, '
             f'assigned_users: [{{id: {ADMIN}, name: {ADMIN}}}], notify: [{OFFICE}]}}\n'
             f'    "{TIMES_OUT}": {{ask: true, response_timeout: PT20S, notify: [{OFFICE}]}}\n'
             "  # per unit code")
    config = bundled_config(tmp_path_factory.mktemp("office-config"),
                            [("  units: {}                        # per unit code", units)])
    smtp = smtp_connection(inbox[1], "tthc@tinh.example")
    return StackOptions(env={"TTHC_CONFIG": str(config), "AIRFLOW_CONN_SMTP_DEFAULT": smtp})


def forms(stack: AirflowStack, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's Required Actions by unit code (read from the subject, which names the unit)."""
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    names = {ANSWERS: "Tháp Mười", TIMES_OUT: "Cao Lãnh"}
    return {code: detail for detail in listed for code, name in names.items() if detail["subject"].endswith(name)}


@pytest.fixture(scope="module")
def month(airflow_stack: AirflowStack, answer_required_action: Any) -> dict[str, Any]:
    """One run of 2023-11 for both units: 872's form answered through the REST API, 866's left to time out."""
    stack = airflow_stack
    warehouse.engine_for(stack.warehouse_url).dispose()  # tables first, as in the other scheduler tests
    body = {"logical_date": LOGICAL_DATE, "conf": {"districts": [ANSWERS, TIMES_OUT]}}
    run_id = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json=body)["dag_run_id"]
    waiting = wait_for("872's form to wait for an answer",
                       lambda: (found := forms(stack, run_id)).get(ANSWERS) and
                       found[ANSWERS]["task_instance"]["state"] == "awaiting_input" and found,
                       timeout=RUN_TIMEOUT, interval=3, alive=stack.check_alive)
    asked = waiting[ANSWERS]
    map_index = asked["task_instance"]["map_index"]
    response = answer_required_action(stack, run_id, "district.office_inputs", map_index,
                                      {"chosen_options": ["OK"], "params_input": ANSWER})

    def ended() -> dict[str, Any] | None:
        run = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    started = time.monotonic()
    run = wait_for("the run to end", ended, timeout=RUN_TIMEOUT, interval=3, alive=stack.check_alive)
    print(f"\n[office inputs] run ended {time.monotonic() - started:.0f} s after the answer", flush=True)
    tis = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    return {"run_id": run_id, "run": run, "asked": asked, "response": response, "forms": forms(stack, run_id),
            "tis": tis["task_instances"]}


def evidence(stack: AirflowStack, code: str) -> dict[str, Any]:
    path = stack.data_root / "reports" / PERIOD / f"bao-cao-tthc-{code}-{PERIOD}.evidence.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_run_ends_with_both_reports(month: dict[str, Any]) -> None:
    assert month["run"]["state"] == "success", [(ti["task_id"], ti["map_index"], ti["state"]) for ti in month["tis"]]
    states = {(ti["task_id"], ti["rendered_map_index"]): ti["state"] for ti in month["tis"]
              if ti["task_id"].startswith("district.")}
    # Neither unit signs off nor has recipients here: the sign-off, its return to the form on Reject and the
    # delivery are not in the DAG (tthc.config.OfficeSteps); every step that is ran.
    skipped = {"district.sign_off", "district.revise_inputs", "district.revise_report", "district.sign_off_revised",
               "district.deliver_report"}
    assert not [key for key in states if key[0] in skipped], states
    assert sum(key[0] == "district.office_inputs" for key in states) == 2, states  # both units were asked
    assert {state for key, state in states.items() if key[0] not in skipped} == {"success"}, states


def test_the_form_is_pre_filled_assigned_and_in_vietnamese(month: dict[str, Any]) -> None:
    asked = month["asked"]
    assert asked["subject"] == "Đầu vào báo cáo TTHC tháng 11/2023: Huyện Tháp Mười"
    assert asked["assigned_users"] == [{"id": ADMIN, "name": ADMIN}]
    params = asked["params"]
    assert params["office_resources"]["value"].startswith("Các nguồn lực cho công tác Kiểm soát thủ tục hành chính")
    assert params["office_violations"]["value"] == 0
    assert params["office_resources"]["schema"]["title"] == "Nguồn lực cho công tác kiểm soát thủ tục hành chính"
    assert month["response"]["responded_by"]["id"] == ADMIN


def test_the_answer_is_in_the_report_and_kept(airflow_stack: AirflowStack, month: dict[str, Any]) -> None:
    stack = airflow_stack
    kept = evidence(stack, ANSWERS)["inputs"]
    assert kept["source"] == "form" and kept["answered_by"]["id"] == ADMIN and kept["defaulted"] == {}
    with zipfile.ZipFile(stack.data_root / "reports" / PERIOD / f"bao-cao-tthc-{ANSWERS}-{PERIOD}.docx") as docx:
        text = docx.read("word/document.xml").decode("utf-8")
    assert ANSWER["office_resources"] in text and ANSWER["office_assessment"] in text
    stored = json.loads((stack.data_root / "inputs" / PERIOD / f"{ANSWERS}.json").read_text(encoding="utf-8"))
    assert stored["inputs"]["resources"] == ANSWER["office_resources"]
    with warehouse.connected(stack.warehouse_url) as engine:
        row = warehouse.office_inputs_row(engine, PERIOD, ANSWERS)
    assert row is not None and row["source"] == "form" and row["answered_by"] == ADMIN


def test_the_unanswered_form_timed_out_and_the_report_says_what_was_defaulted(
        airflow_stack: AirflowStack, month: dict[str, Any]) -> None:
    timed_out = month["forms"][TIMES_OUT]
    assert timed_out["responded_by_user"] is None and timed_out["response_received"]
    kept = evidence(airflow_stack, TIMES_OUT)["inputs"]
    assert kept["source"] == "timeout" and kept["answered_by"] is None
    assert set(kept["defaulted"]) == {"inspections", "resources", "assessment", "shortcomings"}


def test_each_form_was_announced_by_mail(inbox: tuple[_Inbox, int], month: dict[str, Any]) -> None:
    subjects = sorted(str(message["Subject"]) for _, rcpt, message in inbox[0].messages if rcpt == [OFFICE])
    assert subjects == ["Đầu vào báo cáo TTHC tháng 11/2023: Huyện Tháp Mười",
                        "Đầu vào báo cáo TTHC tháng 11/2023: Thành phố Cao Lãnh"], subjects


def test_a_rerun_of_the_form_does_not_ask_again(airflow_stack: AirflowStack, month: dict[str, Any]) -> None:
    stack, run_id = airflow_stack, month["run_id"]
    map_index = month["asked"]["task_instance"]["map_index"]
    stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances", json={
        "dag_run_id": run_id, "dry_run": False, "include_downstream": True, "include_upstream": False,
        "include_future": False, "include_past": False, "only_failed": False,
        "task_ids": [["district.office_inputs", map_index]]})

    def rerun_ended() -> list[dict[str, Any]] | None:
        run = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        tis = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        form = [ti for ti in tis["task_instances"]
                if ti["task_id"] == "district.office_inputs" and ti["map_index"] == map_index]
        return tis["task_instances"] if run["state"] in ("success", "failed") and form[0]["try_number"] == 2 else None

    tis = wait_for("the cleared form and its unit to run again", rerun_ended, timeout=RUN_TIMEOUT, interval=3,
                   alive=stack.check_alive)
    form = next(ti for ti in tis if ti["task_id"] == "district.office_inputs" and ti["map_index"] == map_index)
    assert form["state"] == "skipped"
    assert evidence(stack, ANSWERS)["inputs"]["answered_by"]["id"] == ADMIN
    assert Path(stack.data_root / "inputs" / PERIOD / f"{ANSWERS}.json").is_file()
