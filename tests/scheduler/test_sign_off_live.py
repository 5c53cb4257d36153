"""The office's sign-off and the delivery of its final report, live: one unit approves through the REST API, another
never answers.

On real components (scheduler, DAG processor, API server on PostgreSQL): Tháp Mười (872) signs off its reports
with a day to answer and has recipients; the test opens the draft from the link in its Required Action and
approves it as the UI does (``PATCH .../taskInstances/district.sign_off/{map_index}/hitlDetails``): the report
becomes final with who approved and when in its evidence, and a real SMTP server in this process receives it
with both files, the province's office in copy. Thành phố Cao Lãnh (866) signs off with 20 s to answer and
nobody does: the scheduler's timeout takes Reject, the report stays a draft, is not mailed, and the province's
roll-up leaves it out. Nobody is asked for inputs (the bundled ``ask: false``).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import _Inbox
from tests.scheduler.stack import ADMIN, DAG_ID, AirflowStack, StackOptions, bundled_config, smtp_connection, wait_for
from tests.scheduler.test_rerun_district import wait_run_end
from tthc import warehouse

pytestmark = [pytest.mark.scheduler, pytest.mark.services]

LOGICAL_DATE = "2023-11-01T03:00:00Z"  # inside 2023-11 [10-15, 11-15), nd09
PERIOD = "2023-11"
APPROVES, TIMES_OUT = "872", "866"
OFFICE, PROVINCE = "vanphong@thapmuoi.example", "kstthc@dongthap.example"
RUN_TIMEOUT = 420


LABELS = {APPROVES: "Huyện Tháp Mười (872)", TIMES_OUT: "Thành phố Cao Lãnh (866)"}  # the map indexes


@pytest.fixture(scope="module")
def stack_options(inbox: tuple[_Inbox, int], tmp_path_factory: pytest.TempPathFactory) -> StackOptions:
    office = {"sign_off": True, "deliver_to": [OFFICE]}
    units = {APPROVES: {**office, "sign_off_timeout": "P1D", "assigned_users": [{"id": ADMIN, "name": ADMIN}]},
             TIMES_OUT: {**office, "sign_off_timeout": "PT20S"}}
    config = bundled_config(tmp_path_factory.mktemp("sign-off-config"), [  # JSON is YAML's flow style
        ("  units: {}   ", f"  units: {json.dumps(units)}   "),
        ("    deliver_cc: []   ", f"    deliver_cc: [{PROVINCE}]   ")])
    return StackOptions(env={"TTHC_CONFIG": str(config),
                             "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(inbox[1], "tthc@tinh.example")})


def sign_offs(stack: AirflowStack, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's sign-off Required Actions by unit code. By subject, which names the unit: the map index's label
    is rendered only when the task ends, so a waiting task has none."""
    subjects = {f"Phê duyệt báo cáo TTHC tháng 11/2023: {LABELS[code].rsplit(' (', 1)[0]}": code for code in LABELS}
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    return {subjects[detail["subject"]]: detail for detail in listed if detail["subject"] in subjects}


@pytest.fixture(scope="module")
def month(airflow_stack: AirflowStack, answer_required_action: Any) -> dict[str, Any]:
    """One run of 2023-11 for both units: 872's draft opened from its link and approved, 866's left to time out."""
    stack = airflow_stack
    warehouse.engine_for(stack.warehouse_url).dispose()  # the warehouse's tables before the run
    run_id = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={
        "logical_date": LOGICAL_DATE, "conf": {"districts": [APPROVES, TIMES_OUT]}})["dag_run_id"]

    def draft_waits() -> dict[str, Any] | None:
        detail = sign_offs(stack, run_id).get(APPROVES)
        return detail if detail and detail["task_instance"]["state"] == "awaiting_input" else None

    asked = wait_for("872's draft to wait for approval", draft_waits, timeout=RUN_TIMEOUT, interval=3,
                     alive=stack.check_alive)
    # The office opens the draft from the Required Action's link, as the UI renders its Markdown.
    links = re.findall(r"\]\(([^)\s]*/tthc/[^)\s]+)\)", asked["body"] or "")
    assert links and all(link.startswith(f"{stack.base_url}/tthc/dags/{DAG_ID}/runs/") for link in links), asked["body"]
    drafts = {link.rsplit("/", 1)[1]: stack.session.get(link, timeout=30) for link in links}
    map_index = asked["task_instance"]["map_index"]
    response = answer_required_action(stack, run_id, "district.sign_off", map_index,
                                      {"chosen_options": ["Approve"], "params_input": {"comment": None}})
    started = time.monotonic()
    tis = wait_run_end(stack, run_id, "the run to end")
    print(f"\n[sign-off] run ended {time.monotonic() - started:.0f} s after the approval", flush=True)
    return {"run_id": run_id, "run": stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}"), "asked": asked,
            "drafts": drafts, "response": response, "sign_offs": sign_offs(stack, run_id), "tis": list(tis.values())}


def report_file(stack: AirflowStack, code: str, suffix: str) -> Any:
    return stack.data_root / "reports" / PERIOD / f"bao-cao-tthc-{code}-{PERIOD}{suffix}"


def states(month: dict[str, Any], code: str) -> dict[str, str]:
    """The unit's group tasks and their states. By map index: a task skipped without running has no label."""
    index = next(ti["map_index"] for ti in month["tis"]
                 if ti["task_id"] == "district.write_report" and ti["rendered_map_index"] == LABELS[code])
    return {ti["task_id"].removeprefix("district."): ti["state"] for ti in month["tis"]
            if ti["task_id"].startswith("district.") and ti["map_index"] == index}


def test_the_draft_waits_for_its_office_with_links_to_both_files(airflow_stack: AirflowStack,
                                                                 month: dict[str, Any]) -> None:
    asked = month["asked"]
    assert asked["subject"] == "Phê duyệt báo cáo TTHC tháng 11/2023: Huyện Tháp Mười"
    assert asked["assigned_users"] == [{"id": ADMIN, "name": ADMIN}]
    assert asked["options"] == ["Approve", "Reject"] and "kỳ 15/10/2023 – 14/11/2023" in asked["body"]
    files = {path.name: path for path in (report_file(airflow_stack, APPROVES, suffix) for suffix in (".docx", ".pdf"))}
    assert set(month["drafts"]) == set(files)
    for name, answer in month["drafts"].items():
        assert answer.status_code == 200, (name, answer.status_code)
        assert answer.content == files[name].read_bytes()
    assert month["response"]["responded_by"]["id"] == ADMIN


def test_approved_the_report_is_final_with_who_and_when_and_delivered(airflow_stack: AirflowStack,
                                                                       month: dict[str, Any],
                                                                       inbox: tuple[_Inbox, int]) -> None:
    assert month["run"]["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in month["tis"]]
    assert {k: v for k, v in states(month, APPROVES).items() if k in ("sign_off", "finalize_report",
                                                                     "deliver_report")} == {
        "sign_off": "success", "finalize_report": "success", "deliver_report": "success"}
    evidence = json.loads(report_file(airflow_stack, APPROVES, ".evidence.json").read_text(encoding="utf-8"))
    final = evidence["final"]
    assert final["signed_off"] and final["approved_by"]["id"] == ADMIN and final["approved_at"]
    assert datetime.fromisoformat(final["approved_at"]) == datetime.fromisoformat(month["response"]["responded_at"])
    marker = json.loads(report_file(airflow_stack, APPROVES, ".final.json").read_text(encoding="utf-8"))
    assert marker == final

    delivered = [(rcpt, message) for _, rcpt, message in inbox[0].messages
                 if str(message["Subject"]).startswith("Báo cáo cải cách")]
    assert len(delivered) == 1, [str(m["Subject"]) for _, _, m in inbox[0].messages]
    recipients, message = delivered[0]
    assert sorted(recipients) == sorted([OFFICE, PROVINCE]) and message["Cc"] == PROVINCE
    assert str(message["Subject"]) == "Báo cáo cải cách thủ tục hành chính tháng 11/2023: Huyện Tháp Mười"
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached == {path.name: path.read_bytes() for path in (report_file(airflow_stack, APPROVES, ".docx"),
                                                                  report_file(airflow_stack, APPROVES, ".pdf"))}


def test_unanswered_the_report_stays_a_draft_unsent_and_out_of_the_province_s_roll_up(
        airflow_stack: AirflowStack, month: dict[str, Any]) -> None:
    timed_out = month["sign_offs"][TIMES_OUT]
    assert timed_out["responded_by_user"] is None and timed_out["chosen_options"] == ["Reject"]
    mine = states(month, TIMES_OUT)
    assert (mine["write_report"], mine["sign_off"], mine["finalize_report"], mine["deliver_report"]) == (
        "success", "success", "skipped", "skipped")
    assert report_file(airflow_stack, TIMES_OUT, ".docx").is_file()
    assert not report_file(airflow_stack, TIMES_OUT, ".final.json").exists()
    assert "final" not in json.loads(report_file(airflow_stack, TIMES_OUT, ".evidence.json").read_text("utf-8"))
    province = next(ti for ti in month["tis"] if ti["task_id"] == "consolidate_province")
    assert province["state"] == "success"
    summary = json.loads((airflow_stack.data_root / "reports" / PERIOD / "run-summary.json").read_text("utf-8"))
    assert TIMES_OUT in summary["province"]["missing"] and APPROVES not in summary["province"]["missing"]
