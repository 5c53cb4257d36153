"""Every run shown as its month: the note the scheduler writes when a run starts, on real Airflow components.

Why on the real stack: the note is written by our listener inside the scheduler's own transaction
(``tthc_airflow.listeners``), for runs whose ids Airflow makes without asking our timetable
(``backfill__<run after>``). Only a real scheduler, starting runs created by the API server, shows that the
label lands, that it is committed with the run's start, that a person's note survives, and that the
scheduler's loop stays up.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.scheduler.stack import ADMIN, DAG_ID, ROOT, AirflowStack, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.services]

# Backfill matches logical dates, i.e. period starts: only 2023-09's (2023-08-14T17:00Z) lies in these bounds.
BACKFILL = {"dag_id": DAG_ID, "from_date": "2023-08-14T00:00:00Z", "to_date": "2023-08-15T00:00:00Z",
            "dag_run_conf": {"districts": ["872"]}, "max_active_runs": 1}
BACKFILL_LABEL = "Báo cáo tháng 09/2023 (kỳ 15/08/2023 – 14/09/2023)"
MANUAL_LOGICAL_DATE = "2023-11-01T03:00:00Z"  # 10:00 on 1 November, Vietnam time: inside 2023-11 [10-15, 11-15)
MANUAL_LABEL = "Báo cáo tháng 11/2023 (kỳ 15/10/2023 – 14/11/2023)"
USER_LOGICAL_DATE = "2023-07-20T03:00:00Z"  # inside 2023-08 [07-15, 08-15)
USER_NOTE = "Chạy lại sau khi Văn phòng bổ sung số liệu (anh Minh)"
RUNS_TIMEOUT = 360
TERMINAL = ("success", "failed")
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def runs(airflow_stack: AirflowStack) -> dict[str, dict[str, Any]]:
    """A backfill of one period, a run from the form/REST, and one a person started with a note; all ended."""
    stack = airflow_stack
    started = time.monotonic()
    stack.api("POST", "/backfills", json=BACKFILL)
    manual = stack.api("POST", f"/dags/{DAG_ID}/dagRuns",
                       json={"logical_date": MANUAL_LOGICAL_DATE, "conf": {"districts": ["866"]}})
    noted = stack.api("POST", f"/dags/{DAG_ID}/dagRuns",
                      json={"logical_date": USER_LOGICAL_DATE, "conf": {"districts": ["872"]}, "note": USER_NOTE})

    def all_ended() -> dict[str, dict[str, Any]] | None:
        listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
        backfill = [r for r in listed if r["run_type"] == "backfill"]
        by_id = {r["dag_run_id"]: r for r in listed}
        ours = [*backfill, by_id.get(manual["dag_run_id"]), by_id.get(noted["dag_run_id"])]
        if len(backfill) != 1 or not all(r and r["state"] in TERMINAL for r in ours):
            return None
        return {"backfill": backfill[0], "manual": by_id[manual["dag_run_id"]], "noted": by_id[noted["dag_run_id"]]}

    ended = wait_for("the backfill's run and both manual runs to end", all_ended, timeout=RUNS_TIMEOUT, interval=5,
                     alive=stack.check_alive)
    print(f"\n[run note test] three runs ended {time.monotonic() - started:.0f} s after the backfill was created")
    # What an operator's client reads: the run itself, one at a time.
    return {name: stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}") for name, run in ended.items()}


def test_a_backfill_run_is_labelled_with_its_month(runs: dict[str, dict[str, Any]]) -> None:
    run = runs["backfill"]
    assert run["dag_run_id"].startswith("backfill__2023-09-16T17:00:00"), run["dag_run_id"]  # Airflow's id
    assert run["state"] == "success", run
    assert run["note"] == BACKFILL_LABEL


def test_a_run_from_the_form_or_rest_is_labelled_with_its_month(runs: dict[str, dict[str, Any]]) -> None:
    run = runs["manual"]
    assert run["dag_run_id"].startswith("manual__2023-11__"), run["dag_run_id"]
    assert run["state"] == "success", run
    assert run["note"] == MANUAL_LABEL


def test_a_note_the_person_wrote_is_kept(runs: dict[str, dict[str, Any]]) -> None:
    run = runs["noted"]
    assert run["dag_run_id"].startswith("manual__2023-08__"), run["dag_run_id"]
    assert run["state"] == "success", run
    assert run["note"] == USER_NOTE


def test_a_person_may_replace_the_label_and_it_is_not_written_again(airflow_stack: AirflowStack,
                                                                    runs: dict[str, dict[str, Any]]) -> None:
    """The label is a default: a person's edit wins, and clearing the run (it starts again) keeps the edit."""
    stack, run_id = airflow_stack, runs["manual"]["dag_run_id"]
    edited = stack.api("PATCH", f"/dags/{DAG_ID}/dagRuns/{run_id}", params={"update_mask": "note"},
                       json={"note": "Kiểm tra lại số liệu quận 866"})
    assert edited["note"] == "Kiểm tra lại số liệu quận 866"
    stack.api("POST", f"/dags/{DAG_ID}/dagRuns/{run_id}/clear", json={"dry_run": False, "only_failed": False})

    def ended_again() -> dict[str, Any] | None:
        run = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        plan = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/plan_run")
        return run if run["state"] in TERMINAL and plan["try_number"] == 2 else None

    run = wait_for("the cleared run to run again", ended_again, timeout=RUNS_TIMEOUT, interval=5,
                   alive=stack.check_alive)
    assert run["note"] == "Kiểm tra lại số liệu quận 866"


def test_the_scheduler_wrote_the_labels_without_an_error(airflow_stack: AirflowStack,
                                                         runs: dict[str, dict[str, Any]]) -> None:
    log = airflow_stack.components["scheduler"].log.read_text(encoding="utf-8", errors="replace")
    assert "could not write the month label" not in log
    assert "Error while calling listener" not in log
    assert "UNEXPECTED COMMIT" not in log
    assert "Exception when executing SchedulerJob._run_scheduler_loop" not in log
    assert airflow_stack.components["scheduler"].alive()


def test_the_ui_shows_the_label_on_the_backfill_run(airflow_stack: AirflowStack, runs: dict[str, dict[str, Any]],
                                                    browser: Any) -> None:
    """What an operator sees in Chromium: the run page of ``backfill__<run after>`` names its month."""
    stack, run_id = airflow_stack, runs["backfill"]["dag_run_id"]
    password = json.loads(Path(stack.home / "passwords.json").read_text(encoding="utf-8"))[ADMIN]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{stack.base_url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}")
        page.wait_for_url("**/auth/login**")
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/dags/{DAG_ID}/runs/**")
        page.get_by_text(BACKFILL_LABEL).first.wait_for(timeout=30_000)
        # The note sits under the run's header (its id and logical date); the 3.3.2 run list shows no notes.
        page.screenshot(path=str(ARTIFACTS / "ui-run-note.png"))
    finally:
        context.close()
