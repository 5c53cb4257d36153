"""The deadline alert, live: a run still unfinished ``deadline_hours`` after it was queued mails the operators.

Why on the real stack: the alert involves four processes. The DAG processor serializes the DAG's
``DeadlineAlert`` (only with recipients configured), the API server creates the run and its deadline,
the scheduler sees the deadline pass and queues the callback with a small context, and the triggerer
imports and awaits the callback, which sends the mail through the SMTP connection. A unit test of any
one of them says nothing about the others.

Here the deadline is 18 s (``deadline_hours: 0.005``) and the simulator answers every request slowly,
so the run of two districts is still going when the deadline passes. The SMTP server is a real one
(aiosmtpd) in this process; the triggerer reaches it through ``AIRFLOW_CONN_SMTP_DEFAULT`` in its
environment.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _Inbox
from tests.scheduler.stack import DAG_ID, AirflowStack, StackOptions, bundled_config, smtp_connection, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.services]

RECIPIENTS = ["ttpvhcc@tinh.example", "vanphong@tinh.example"]
SENDER = "tthc-pipeline@tinh.example"
DEADLINE_HOURS = 0.005  # 18 s
LOGICAL_DATE = "2023-11-01T03:00:00Z"  # inside 2023-11 [10-15, 11-15), nd09
MAIL_TIMEOUT = 240


@pytest.fixture(scope="module")
def stack_options(inbox: tuple[_Inbox, int], tmp_path_factory: pytest.TempPathFactory) -> StackOptions:
    """Operators to notify, an 18 s deadline, a triggerer, the SMTP connection, and a slow simulator."""
    config = bundled_config(tmp_path_factory.mktemp("deadline-config"), [
        ("  to: []", f"  to: [{', '.join(RECIPIENTS)}]"),
        ("  deadline_hours: 24", f"  deadline_hours: {DEADLINE_HOURS}")])
    smtp = smtp_connection(inbox[1], SENDER)
    return StackOptions(env={"TTHC_CONFIG": str(config), "AIRFLOW_CONN_SMTP_DEFAULT": smtp}, triggerer=True,
                        simulator={"fault_rate": 1.0, "faults": ["slow"], "slow_seconds": 1.5})


def deadline_rows(metadata_url: str, run_id: str) -> list[dict[str, Any]]:
    """The run's deadlines and their callbacks, as the scheduler and the triggerer left them."""
    from sqlalchemy import create_engine, text

    engine = create_engine(metadata_url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(
                "select d.deadline_time, d.missed, c.state as callback_state, c.output as callback_output "
                "from deadline d join dag_run r on r.id = d.dagrun_id join callback c on c.id = d.callback_id "
                "where r.dag_id = :dag_id and r.run_id = :run_id"), {"dag_id": DAG_ID, "run_id": run_id})]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def late_run(airflow_stack: AirflowStack, inbox: tuple[_Inbox, int],
             postgres_databases: tuple[str, str]) -> dict[str, Any]:
    """A run of two districts that cannot finish in 18 s; waits for the deadline's mail."""
    stack, received = airflow_stack, inbox[0]
    run = stack.api("POST", f"/dags/{DAG_ID}/dagRuns",
                    json={"logical_date": LOGICAL_DATE, "conf": {"districts": ["872", "866"]}})
    run_id = run["dag_run_id"]
    started = time.monotonic()
    wait_for("the deadline alert's mail", lambda: received.messages, timeout=MAIL_TIMEOUT, interval=2,
             alive=stack.check_alive)
    print(f"\n[deadline test] mail received {time.monotonic() - started:.0f} s after the run was created", flush=True)
    run = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
    # The triggerer records the callback's outcome just after sending: wait for it rather than race it.
    deadlines = wait_for("the callback's state to be recorded",
                         lambda: [d for d in deadline_rows(postgres_databases[0], run_id)
                                  if d["callback_state"] in ("success", "failed")],
                         timeout=60, interval=2, alive=stack.check_alive)
    return {"run": run, "messages": list(received.messages), "deadlines": deadlines}


def test_the_run_had_one_deadline_and_it_was_missed(late_run: dict[str, Any]) -> None:
    """The DAG processor parsed the configuration with recipients, so the run got the DAG's deadline."""
    assert len(late_run["deadlines"]) == 1, late_run["deadlines"]
    deadline = late_run["deadlines"][0]
    assert deadline["missed"] is True
    assert deadline["callback_state"] == "success", deadline["callback_output"]


def test_the_deadline_mail_reaches_the_configured_recipients(late_run: dict[str, Any]) -> None:
    assert len(late_run["messages"]) == 1, [m[2]["Subject"] for m in late_run["messages"]]
    sender, recipients, message = late_run["messages"][0]
    assert sender == SENDER
    assert sorted(recipients) == sorted(RECIPIENTS)
    assert message["Subject"] == "TTHC report: a run of tthc_monthly_report is not finished 0.005 h after it started"
    assert late_run["run"]["state"] in ("queued", "running"), "the run ended before its deadline: not a test"


def test_the_triggerer_ran_the_callback_without_an_error(airflow_stack: AirflowStack,
                                                         late_run: dict[str, Any]) -> None:
    log = Path(airflow_stack.components["triggerer"].log).read_text(encoding="utf-8", errors="replace")
    assert "Failed to" not in log and "An error occurred during execution of the callable" not in log, log[-3000:]
    for component in airflow_stack.components.values():
        assert component.alive(), f"{component.name} exited with {component.process.returncode}"
