"""The office's sign-off and the delivery of its final report, live: one unit approves through the REST API, one
rejects, revises its inputs and approves, one never answers, one signs off nothing.

On real components (scheduler, DAG processor, API server on PostgreSQL): Tháp Mười (872) signs off its reports
with a day to answer and has recipients; the test opens the draft from the link in its Required Action and
approves it as the UI does (``PATCH .../taskInstances/district.sign_off/{map_index}/hitlDetails``): the report
becomes final with who approved and when in its evidence, and a real SMTP server in this process receives it
with both files, the province's office in copy. Thanh Bình (874) rejects its draft with a comment: its inputs
form comes back once (``district.revise_inputs``, the comment in its body), the test enters revised inputs, the
report is rendered again (``district.revise_report``) and the revised draft is approved
(``district.sign_off_revised``): the report says the revised inputs, its evidence the rejection's comment and
the approver, and it is mailed. Thành phố Cao Lãnh (866) signs off with 20 s to answer and nobody does: the
scheduler's timeout takes Reject, the report stays a draft, is not mailed, and the province's roll-up leaves it
out. Sa Đéc (867) signs off nothing (the bundled default): its three revision tasks are skipped by the
scheduler without ever starting. Nobody is asked for inputs at first (the bundled ``ask: false``).
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
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
APPROVES, TIMES_OUT, REJECTS, NO_SIGN_OFF = "872", "866", "874", "867"
OFFICE, PROVINCE = "vanphong@thapmuoi.example", "kstthc@dongthap.example"
REJECTING_OFFICE = "vanphong@thanhbinh.example"
RUN_TIMEOUT = 420
COMMENT = "Phần nguồn lực chưa đúng: huyện đã bố trí 05 công chức đầu mối."
REVISED = {"office_inspections_count": 3, "office_violations": 0, "office_findings": None,
           "office_resources": "Bố trí 05 công chức đầu mối kiểm soát thủ tục hành chính tại bộ phận một cửa.",
           "office_assessment": "Tháng 11, huyện Thanh Bình hoàn thành số hóa hồ sơ tại bộ phận một cửa.",
           "office_shortcomings": None}
REVISION_TASKS = ("revise_inputs", "revise_report", "sign_off_revised")

LABELS = {APPROVES: "Huyện Tháp Mười (872)", TIMES_OUT: "Thành phố Cao Lãnh (866)",  # the map indexes
          REJECTS: "Huyện Thanh Bình (874)", NO_SIGN_OFF: "Thành phố Sa Đéc (867)"}


@pytest.fixture(scope="module")
def stack_options(inbox: tuple[_Inbox, int], tmp_path_factory: pytest.TempPathFactory) -> StackOptions:
    office = {"sign_off": True, "deliver_to": [OFFICE]}
    admin = [{"id": ADMIN, "name": ADMIN}]
    units = {APPROVES: {**office, "sign_off_timeout": "P1D", "assigned_users": admin},
             TIMES_OUT: {**office, "sign_off_timeout": "PT20S"},
             REJECTS: {"sign_off": True, "deliver_to": [REJECTING_OFFICE], "sign_off_timeout": "P1D",
                       "response_timeout": "P1D", "assigned_users": admin}}
    config = bundled_config(tmp_path_factory.mktemp("sign-off-config"), [  # JSON is YAML's flow style
        ("  units: {}   ", f"  units: {json.dumps(units)}   "),
        ("    deliver_cc: []   ", f"    deliver_cc: [{PROVINCE}]   ")])
    return StackOptions(env={"TTHC_CONFIG": str(config),
                             "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(inbox[1], "tthc@tinh.example")})


def required_actions(stack: AirflowStack, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's Required Actions by subject (which names the unit: the map index's label is rendered only when the
    task ends, so a waiting task has none)."""
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    return {detail["subject"]: detail for detail in listed}


def name(code: str) -> str:
    return LABELS[code].rsplit(" (", 1)[0]


def sign_offs(stack: AirflowStack, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's first sign-off Required Actions by unit code."""
    listed = required_actions(stack, run_id)
    return {code: listed[subject] for code in LABELS
            if (subject := f"Phê duyệt báo cáo TTHC tháng 11/2023: {name(code)}") in listed}


def waiting(stack: AirflowStack, run_id: str, subject: str) -> dict[str, Any]:
    """The Required Action of ``subject`` once it waits for an answer."""
    def asked() -> dict[str, Any] | None:
        detail = required_actions(stack, run_id).get(subject)
        return detail if detail and detail["task_instance"]["state"] == "awaiting_input" else None

    return wait_for(f"{subject!r} to wait for an answer", asked, timeout=RUN_TIMEOUT, interval=3,
                    alive=stack.check_alive)


@pytest.fixture(scope="module")
def month(airflow_stack: AirflowStack, answer_required_action: Any) -> dict[str, Any]:
    """One run of 2023-11 for the four units: 872's draft opened from its link and approved; 874's rejected with a
    comment, its inputs revised in the form that comes back, the revised draft approved; 866's left to time out."""
    stack = airflow_stack
    warehouse.engine_for(stack.warehouse_url).dispose()  # the warehouse's tables before the run
    run_id = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={
        "logical_date": LOGICAL_DATE, "conf": {"districts": [APPROVES, TIMES_OUT, REJECTS, NO_SIGN_OFF]}})["dag_run_id"]

    asked = waiting(stack, run_id, f"Phê duyệt báo cáo TTHC tháng 11/2023: {name(APPROVES)}")
    # The office opens the draft from the Required Action's link, as the UI renders its Markdown.
    links = re.findall(r"\]\(([^)\s]*/tthc/[^)\s]+)\)", asked["body"] or "")
    assert links and all(link.startswith(f"{stack.base_url}/tthc/dags/{DAG_ID}/runs/") for link in links), asked["body"]
    drafts = {link.rsplit("/", 1)[1]: stack.session.get(link, timeout=30) for link in links}
    map_index = asked["task_instance"]["map_index"]
    response = answer_required_action(stack, run_id, "district.sign_off", map_index,
                                      {"chosen_options": ["Approve"], "params_input": {"comment": None}})

    # 874 rejects with a comment; its inputs form comes back, pre-filled with what the draft used (nothing).
    first = waiting(stack, run_id, f"Phê duyệt báo cáo TTHC tháng 11/2023: {name(REJECTS)}")
    rejected_draft = report_file(stack, REJECTS, ".docx").read_bytes()
    rejected = answer_required_action(stack, run_id, "district.sign_off", first["task_instance"]["map_index"],
                                      {"chosen_options": ["Reject"], "params_input": {"comment": COMMENT}})
    form = waiting(stack, run_id, f"Sửa đầu vào báo cáo TTHC tháng 11/2023: {name(REJECTS)}")
    revised = answer_required_action(stack, run_id, "district.revise_inputs", form["task_instance"]["map_index"],
                                     {"chosen_options": ["OK"], "params_input": REVISED})
    again = waiting(stack, run_id, f"Phê duyệt báo cáo TTHC tháng 11/2023 (đã sửa): {name(REJECTS)}")
    revised_draft = report_file(stack, REJECTS, ".docx").read_bytes()
    approved_again = answer_required_action(stack, run_id, "district.sign_off_revised",
                                            again["task_instance"]["map_index"],
                                            {"chosen_options": ["Approve"], "params_input": {"comment": None}})
    started = time.monotonic()
    tis = wait_run_end(stack, run_id, "the run to end")
    print(f"\n[sign-off] run ended {time.monotonic() - started:.0f} s after the last approval", flush=True)
    return {"run_id": run_id, "run": stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}"), "asked": asked,
            "drafts": drafts, "response": response, "sign_offs": sign_offs(stack, run_id), "tis": list(tis.values()),
            "loop": {"first": first, "rejected": rejected, "form": form, "revised": revised, "again": again,
                     "approved": approved_again, "rejected_draft": rejected_draft, "revised_draft": revised_draft}}


def report_file(stack: AirflowStack, code: str, suffix: str) -> Any:
    return stack.data_root / "reports" / PERIOD / f"bao-cao-tthc-{code}-{PERIOD}{suffix}"


def group_tis(month: dict[str, Any], code: str) -> dict[str, dict[str, Any]]:
    """The unit's group task instances by task id. By map index: a task skipped without running has no label."""
    index = next(ti["map_index"] for ti in month["tis"]
                 if ti["task_id"] == "district.write_report" and ti["rendered_map_index"] == LABELS[code])
    return {ti["task_id"].removeprefix("district."): ti for ti in month["tis"]
            if ti["task_id"].startswith("district.") and ti["map_index"] == index}


def states(month: dict[str, Any], code: str) -> dict[str, str]:
    """The unit's group tasks and their states."""
    return {task_id: ti["state"] for task_id, ti in group_tis(month, code).items()}


def delivered_to(inbox: tuple[_Inbox, int], office: str) -> list[tuple[list[str], Any]]:
    """The report mails the SMTP server received for ``office``."""
    return [(rcpt, message) for _, rcpt, message in inbox[0].messages
            if str(message["Subject"]).startswith("Báo cáo cải cách") and office in rcpt]


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
                                                                     "deliver_report", *REVISION_TASKS)} == {
        "sign_off": "success", "finalize_report": "success", "deliver_report": "success",
        **dict.fromkeys(REVISION_TASKS, "skipped")}
    evidence = json.loads(report_file(airflow_stack, APPROVES, ".evidence.json").read_text(encoding="utf-8"))
    final = evidence["final"]
    assert final["signed_off"] and final["approved_by"]["id"] == ADMIN and final["approved_at"]
    assert datetime.fromisoformat(final["approved_at"]) == datetime.fromisoformat(month["response"]["responded_at"])
    marker = json.loads(report_file(airflow_stack, APPROVES, ".final.json").read_text(encoding="utf-8"))
    assert marker == final

    delivered = delivered_to(inbox, OFFICE)
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
    # A timeout is no Reject: the inputs form does not come back.
    assert [mine[task_id] for task_id in REVISION_TASKS] == ["skipped"] * 3
    assert f"Sửa đầu vào báo cáo TTHC tháng 11/2023: {name(TIMES_OUT)}" not in required_actions(
        airflow_stack, month["run_id"])
    assert report_file(airflow_stack, TIMES_OUT, ".docx").is_file()
    assert not report_file(airflow_stack, TIMES_OUT, ".final.json").exists()
    assert "final" not in json.loads(report_file(airflow_stack, TIMES_OUT, ".evidence.json").read_text("utf-8"))
    province = next(ti for ti in month["tis"] if ti["task_id"] == "consolidate_province")
    assert province["state"] == "success"
    summary = json.loads((airflow_stack.data_root / "reports" / PERIOD / "run-summary.json").read_text("utf-8"))
    assert TIMES_OUT in summary["province"]["missing"] and APPROVES not in summary["province"]["missing"]


def test_rejected_the_inputs_form_comes_back_once_pre_filled_with_the_comment(month: dict[str, Any]) -> None:
    loop = month["loop"]
    assert loop["rejected"]["chosen_options"] == ["Reject"] and loop["rejected"]["params_input"]["comment"] == COMMENT
    form = loop["form"]
    assert form["assigned_users"] == [{"id": ADMIN, "name": ADMIN}] and form["options"] == ["OK"]
    assert f"> {COMMENT}" in form["body"] and f"đã bị {ADMIN} trả lại" in form["body"]
    # Pre-filled with what the rejected draft used: 874 has no inputs file and was not asked, so nothing.
    assert set(form["params"]) == set(REVISED)
    assert all(field["value"] is None for field in form["params"].values()), form["params"]
    assert form["params"]["office_resources"]["schema"]["title"].startswith("Nguồn lực")
    assert loop["revised"]["responded_by"]["id"] == ADMIN
    again = loop["again"]
    assert again["options"] == ["Approve", "Reject"] and "không trả lại biểu mẫu lần nữa" in again["body"]
    assert re.search(r"\]\([^)\s]*/tthc/[^)\s]+\.docx\)", again["body"]), again["body"]


def test_revised_and_approved_the_report_says_the_revised_inputs_and_is_final_and_mailed(
        airflow_stack: AirflowStack, month: dict[str, Any], inbox: tuple[_Inbox, int]) -> None:
    loop = month["loop"]
    assert month["run"]["state"] == "success"
    assert {task_id: state for task_id, state in states(month, REJECTS).items() if task_id in (
        "sign_off", *REVISION_TASKS, "finalize_report", "deliver_report")} == dict.fromkeys(
        ("sign_off", *REVISION_TASKS, "finalize_report", "deliver_report"), "success")
    docx = report_file(airflow_stack, REJECTS, ".docx")
    assert loop["revised_draft"] != loop["rejected_draft"] and docx.read_bytes() == loop["revised_draft"]
    with zipfile.ZipFile(docx) as document:
        text = document.read("word/document.xml").decode("utf-8")
    assert REVISED["office_resources"].removesuffix(".") in text and REVISED["office_assessment"] in text
    with zipfile.ZipFile(io.BytesIO(loop["rejected_draft"])) as document:
        assert REVISED["office_resources"].removesuffix(".") not in document.read("word/document.xml").decode("utf-8")

    evidence = json.loads(report_file(airflow_stack, REJECTS, ".evidence.json").read_text(encoding="utf-8"))
    revision = evidence["inputs"]["revision"]
    assert revision["comment"] == COMMENT and revision["rejected_by"]["id"] == ADMIN
    assert datetime.fromisoformat(revision["rejected_at"]) == datetime.fromisoformat(loop["rejected"]["responded_at"])
    assert evidence["inputs"]["source"] == "form" and evidence["inputs"]["answered_by"]["id"] == ADMIN
    final = evidence["final"]
    assert final["signed_off"] and final["approved_by"]["id"] == ADMIN
    assert datetime.fromisoformat(final["approved_at"]) == datetime.fromisoformat(loop["approved"]["responded_at"])
    marker = json.loads(report_file(airflow_stack, REJECTS, ".final.json").read_text(encoding="utf-8"))
    assert marker == final
    stored = json.loads((airflow_stack.data_root / "inputs" / PERIOD / f"{REJECTS}.json").read_text("utf-8"))
    assert stored["inputs"]["resources"] == REVISED["office_resources"] and stored["revision"]["comment"] == COMMENT
    with warehouse.connected(airflow_stack.warehouse_url) as engine:
        row = warehouse.office_inputs_row(engine, PERIOD, REJECTS)
    assert row is not None and row["source"] == "form" and row["answered_by"] == ADMIN

    delivered = delivered_to(inbox, REJECTING_OFFICE)
    assert len(delivered) == 1, [str(m["Subject"]) for _, _, m in inbox[0].messages]
    recipients, message = delivered[0]
    assert sorted(recipients) == sorted([REJECTING_OFFICE, PROVINCE])
    assert str(message["Subject"]) == f"Báo cáo cải cách thủ tục hành chính tháng 11/2023: {name(REJECTS)}"
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached == {path.name: path.read_bytes() for path in (docx, report_file(airflow_stack, REJECTS, ".pdf"))}
    summary = json.loads((airflow_stack.data_root / "reports" / PERIOD / "run-summary.json").read_text("utf-8"))
    assert REJECTS not in summary["province"]["missing"]  # the roll-up counts the approved revision


def test_without_sign_off_the_revision_tasks_never_start(month: dict[str, Any]) -> None:
    """The scheduler skips them (their upstream sign_off skipped): never queued, no try, no worker host."""
    tis = group_tis(month, NO_SIGN_OFF)
    assert tis["sign_off"]["state"] == "skipped" and tis["finalize_report"]["state"] == "success"
    for task_id in REVISION_TASKS:
        ti = tis[task_id]
        assert ti["state"] == "skipped" and ti["try_number"] == 0, ti
        assert ti["queued_when"] is None and not ti["hostname"] and not ti["pid"], ti
    gap = (datetime.fromisoformat(tis["finalize_report"]["start_date"])
           - datetime.fromisoformat(tis["sign_off"]["end_date"])).total_seconds()
    print(f"\n[sign-off] {NO_SIGN_OFF}: sign_off ended -> finalize_report started: {gap:.1f} s "
          f"(revision tasks: {[(t, tis[t]['try_number']) for t in REVISION_TASKS]})", flush=True)
