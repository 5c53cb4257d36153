"""An office fills its month's inputs and approves its report in the Airflow UI, in Chromium, on real components.

On the scheduler tests' stack (API server, scheduler, DAG processor on PostgreSQL), Thanh Bình (874) is asked for
its inputs (``ask: true``) and signs its report off (``sign_off: true``), both assigned to the simple auth
manager's admin, with its office as the report's recipient. Debian's Chromium, driven by Playwright, opens the
run's *Required Actions* (``/dags/<dag>/runs/<run>/required_actions``), is sent to the UI's login form and back,
finds the form in the review drawer that view opens (its pending actions, the selected one's form, as
``airflow/ui`` 3.3.2 builds it), types into the labelled fields and presses *OK*; then, when the draft waits,
opens the view again and presses *Approve* under the sign-off, whose body links the draft. The final report says
what was typed, its evidence names the admin as who entered and who approved, and the mail with both files
reaches a real SMTP server in this process.

Each answer is given at least ten seconds after the action was seen waiting (see ``answer_required_action`` in
``conftest.py``: Airflow 3.3.2 loses an answer that lands before the scheduler has read the task's
``awaiting_input`` event). Screenshots of every step, and the page's HTML on a failure, are left under the test's
temporary folder (printed). Without Chromium or Playwright the test is skipped with the reason, except under
``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import _Inbox
from tests.scheduler.stack import ADMIN, DAG_ID, AirflowStack, StackOptions, bundled_config, smtp_connection, wait_for
from tthc import warehouse

pytestmark = [pytest.mark.scheduler, pytest.mark.services, pytest.mark.browser]

LOGICAL_DATE = "2023-11-01T03:00:00Z"  # inside 2023-11 [10-15, 11-15), nd09
PERIOD, UNIT, NAME = "2023-11", "874", "Huyện Thanh Bình"
OFFICE, PROVINCE = "vanphong@thanhbinh.example", "kstthc@dongthap.example"
FORM = f"Đầu vào báo cáo TTHC tháng 11/2023: {NAME}"
SIGN_OFF = f"Phê duyệt báo cáo TTHC tháng 11/2023: {NAME}"
# What the office types, by the field's label in the form (tthc.inputs.FORM_FIELDS).
TYPED = {
    "Số cuộc kiểm tra công vụ đã tiến hành": "2",
    "Số trường hợp vi phạm phát hiện": "0",
    "Nguồn lực cho công tác kiểm soát thủ tục hành chính":
        "Bố trí 06 công chức đầu mối kiểm soát thủ tục hành chính tại bộ phận một cửa huyện",
    "Đánh giá chung": "Tháng 11, huyện Thanh Bình đưa 100% hồ sơ đất đai lên cổng dịch vụ công.",
}
RUN_TIMEOUT = 420


@pytest.fixture(scope="module")
def stack_options(inbox: tuple[_Inbox, int], tmp_path_factory: pytest.TempPathFactory) -> StackOptions:
    admin = [{"id": ADMIN, "name": ADMIN}]
    units = {UNIT: {"ask": True, "response_timeout": "P1D", "sign_off": True, "sign_off_timeout": "P1D",
                    "assigned_users": admin, "deliver_to": [OFFICE]}}
    config = bundled_config(tmp_path_factory.mktemp("office-ui-config"), [  # JSON is YAML's flow style
        ("  units: {}   ", f"  units: {json.dumps(units)}   "),
        ("    deliver_cc: []   ", f"    deliver_cc: [{PROVINCE}]   ")])
    return StackOptions(env={"TTHC_CONFIG": str(config),
                             "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(inbox[1], "tthc@tinh.example")})


def field(drawer: Any, label: str) -> Any:
    """The form's control labelled ``label``.

    A number field's input is its label's control. A multiline text field's is not, in Airflow 3.3.2's UI: its
    textarea (``FieldMultilineText``, ``airflow/ui/dist/assets/index-*.js``: ``id: `element_${name}```) replaces
    the id that the field's ``<label for=...>`` points at, so the textarea has no accessible name. It is found as
    the text box of the field (``role=group``) whose label says ``label``.
    """
    labelled = drawer.get_by_label(label, exact=True)
    if labelled.count():
        return labelled
    group = drawer.get_by_role("group").filter(has=drawer.page.locator("label").get_by_text(label, exact=True))
    return group.get_by_role("textbox")


def action(stack: AirflowStack, run_id: str, subject: str) -> dict[str, Any] | None:
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    return next((detail for detail in listed if detail["subject"] == subject), None)


def waits(stack: AirflowStack, run_id: str, subject: str) -> dict[str, Any]:
    """The Required Action of ``subject`` once it waits, ten seconds later (the 3.3.2 race, module doc)."""
    def asked() -> dict[str, Any] | None:
        detail = action(stack, run_id, subject)
        return detail if detail and detail["task_instance"]["state"] == "awaiting_input" else None

    detail = wait_for(f"{subject!r} to wait", asked, timeout=RUN_TIMEOUT, interval=3, alive=stack.check_alive)
    time.sleep(10)
    return detail


def answered(stack: AirflowStack, run_id: str, subject: str) -> dict[str, Any]:
    def received() -> dict[str, Any] | None:
        detail = action(stack, run_id, subject)
        return detail if detail and detail["response_received"] else None

    return wait_for(f"the answer to {subject!r}", received, timeout=60, interval=1,
                    alive=stack.check_alive)


@pytest.fixture(scope="module")
def office_in_the_ui(airflow_stack: AirflowStack, browser: Any, tmp_path_factory: pytest.TempPathFactory
                     ) -> dict[str, Any]:
    """One run of 2023-11 for 874: the form filled and the draft approved in the UI; the run ended."""
    stack = airflow_stack
    shots = tmp_path_factory.mktemp("office-ui-screenshots")
    print(f"\n[office ui] screenshots in {shots}", flush=True)
    password = json.loads(Path(stack.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())[ADMIN]
    warehouse.engine_for(stack.warehouse_url).dispose()  # the warehouse's tables before the run
    run_id = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={
        "logical_date": LOGICAL_DATE, "conf": {"districts": [UNIT]}})["dag_run_id"]
    run_page = f"{stack.base_url}/dags/{DAG_ID}/runs/{run_id}"
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US")
    page = context.new_page()
    step = "start"

    def shot(name: str) -> None:
        nonlocal step
        step = name
        page.screenshot(path=str(shots / f"{len(list(shots.iterdir())):02d}-{name}.png"), full_page=True)

    try:
        form = waits(stack, run_id, FORM)
        # Logged out, the UI sends the office to its login form, then back.
        page.goto(f"{run_page}/required_actions")
        page.wait_for_url("**/auth/login**")
        shot("login")
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/dags/{DAG_ID}/runs/{run_id}/required_actions**")
        # The run's "Required Actions" opens its review drawer: the pending actions, the selected one's form.
        drawer = page.get_by_role("dialog").filter(has=page.get_by_role("heading", name="Required Actions"))
        drawer.get_by_text(FORM, exact=True).wait_for()
        drawer.get_by_label(next(iter(TYPED)), exact=True).wait_for()
        shot("form")
        for label, text in TYPED.items():
            field(drawer, label).fill(text)
        shot("form-filled")
        drawer.get_by_role("button", name="OK", exact=True).click()
        entered = answered(stack, run_id, FORM)
        shot("form-sent")

        approval = waits(stack, run_id, SIGN_OFF)
        page.goto(f"{run_page}/required_actions")
        drawer = page.get_by_role("dialog").filter(has=page.get_by_role("heading", name="Required Actions"))
        drawer.get_by_text(SIGN_OFF, exact=True).wait_for()
        approve = drawer.get_by_role("button", name="Approve", exact=True)
        approve.wait_for()
        draft = drawer.get_by_role("link", name=f"bao-cao-tthc-{UNIT}-{PERIOD}.docx", exact=True)
        draft_href = draft.get_attribute("href")  # the body's Markdown, rendered: the draft one click away
        shot("sign-off")
        approve.click()
        approved = answered(stack, run_id, SIGN_OFF)
        shot("approved")
    except BaseException:
        page.screenshot(path=str(shots / f"failed-at-{step}.png"), full_page=True)
        (shots / f"failed-at-{step}.html").write_text(page.content(), encoding="utf-8")
        raise
    finally:
        context.close()

    def ended() -> dict[str, Any] | None:
        run = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    run = wait_for("the run to end", ended, timeout=RUN_TIMEOUT, interval=3, alive=stack.check_alive)
    tis = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    return {"run": run, "form": form, "entered": entered, "approval": approval, "approved": approved,
            "draft_href": draft_href, "tis": tis["task_instances"]}


def report_file(stack: AirflowStack, suffix: str) -> Path:
    return stack.data_root / "reports" / PERIOD / f"bao-cao-tthc-{UNIT}-{PERIOD}{suffix}"


def test_the_form_typed_in_the_ui_is_what_the_office_answered(office_in_the_ui: dict[str, Any]) -> None:
    entered = office_in_the_ui["entered"]
    assert entered["responded_by_user"]["id"] == ADMIN and entered["chosen_options"] == ["OK"]
    given = entered["params_input"]
    assert given["office_resources"] == TYPED["Nguồn lực cho công tác kiểm soát thủ tục hành chính"]
    assert given["office_assessment"] == TYPED["Đánh giá chung"]
    assert given["office_inspections_count"] == 2 and given["office_violations"] == 0


def test_approved_in_the_ui_the_final_report_says_what_was_typed_and_reached_the_mailbox(
        airflow_stack: AirflowStack, office_in_the_ui: dict[str, Any], inbox: tuple[_Inbox, int]) -> None:
    stack, ui = airflow_stack, office_in_the_ui
    assert ui["run"]["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in ui["tis"]]
    assert ui["approved"]["chosen_options"] == ["Approve"] and ui["approved"]["responded_by_user"]["id"] == ADMIN
    assert ui["draft_href"].endswith(f"/tthc/dags/{DAG_ID}/runs/{quote(ui['run']['dag_run_id'], safe='')}"
                                     f"/reports/bao-cao-tthc-{UNIT}-{PERIOD}.docx"), ui["draft_href"]
    with zipfile.ZipFile(report_file(stack, ".docx")) as document:
        text = document.read("word/document.xml").decode("utf-8")
    assert TYPED["Nguồn lực cho công tác kiểm soát thủ tục hành chính"] in text
    assert TYPED["Đánh giá chung"] in text
    evidence = json.loads(report_file(stack, ".evidence.json").read_text(encoding="utf-8"))
    assert evidence["inputs"]["source"] == "form" and evidence["inputs"]["answered_by"]["id"] == ADMIN
    assert evidence["final"]["signed_off"] and evidence["final"]["approved_by"]["id"] == ADMIN
    assert report_file(stack, ".final.json").is_file()

    mails = [(rcpt, message) for _, rcpt, message in inbox[0].messages
             if str(message["Subject"]).startswith("Báo cáo cải cách") and OFFICE in rcpt]
    assert len(mails) == 1, [str(m["Subject"]) for _, _, m in inbox[0].messages]
    recipients, message = mails[0]
    assert sorted(recipients) == sorted([OFFICE, PROVINCE])
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached == {path.name: path.read_bytes() for path in (report_file(stack, ".docx"),
                                                                  report_file(stack, ".pdf"))}
