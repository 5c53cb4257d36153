"""Failures are heard: e-mail through Airflow's SMTP notifier, saying what failed, why and where to look.

Why a subclass of the smtp provider's ``SmtpNotifier`` rather than its default template: the default
mail shows a run id, a try number and a host; an operator needs the district, the period, our error
message (which already says what to fix) and the links, and nothing of the source data beyond what
the message holds, escaped. Sending stays the provider's: connection ``smtp_default`` (or the one
configured), its TLS and authentication settings, its retries.

Three mails, all configured under ``notifications`` in ``include/config/pipeline.yaml``:

- a task failed for good (after its retries): a district's step, or the run's plan or summary;
- the run ended with districts without a report (the ``summarize`` task fails with their list);
- the run is still unfinished ``deadline_hours`` after it started (an Airflow deadline alert,
  sent by the triggerer).
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

RERUN = ("After fixing the cause, clear this district's five tasks together: in the run's Task Instances tab, "
         "filter on its map index, select them all and Clear. Both sources are read again and its report is "
         "rewritten (the Grid's Clear of the group 'district' would rerun every district).")


def _base_url() -> str:
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


def _period_name(context: Any) -> str:
    from tthc.periods import PeriodError, period_from_interval

    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    try:
        return period_from_interval(start, end).name if start and end and start != end else "?"
    except PeriodError:
        return "?"


def compose(context: Any) -> tuple[str, str]:
    """(subject, HTML body) of the mail for a task that failed; every value escaped."""
    ti = context["ti"]
    task_id = ti.task_id
    dag_id, run_id = ti.dag_id, ti.run_id
    period = _period_name(context)
    unit = context.get("district_label") or (f"map index {ti.map_index}" if ti.map_index >= 0 else "")
    reason = str(context.get("exception") or "see the task's log")
    if task_id == "summarize":
        subject = f"TTHC report {period}: the run ended with districts without a report"
    elif unit:
        subject = f"TTHC report {period}: {unit} failed at {task_id.removeprefix('district.')}"
    else:
        subject = f"TTHC report {period}: {task_id} failed"
    base = _base_url()
    links = [("The run in Airflow", f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}"),
             ("The run's outputs", f"{base}/tthc/dags/{dag_id}/runs/{quote(run_id, safe='')}/")]
    log_url = getattr(ti, "log_url", None)
    if log_url:
        links.insert(1, ("The task's log", str(log_url)))
    items = "".join(f'<li><a href="{html.escape(url, quote=True)}">{html.escape(name)}</a></li>' for name, url in links)
    advice = RERUN if task_id.startswith("district.") else ""
    body = (
        f"<p><b>{html.escape(subject)}</b></p>"
        f"<p>Run <code>{html.escape(run_id)}</code>, task <code>{html.escape(task_id)}</code>"
        f"{' (' + html.escape(unit) + ')' if unit else ''}.</p>"
        f"<pre style=\"white-space: pre-wrap\">{html.escape(reason)}</pre>"
        f"{'<p>' + html.escape(advice) + '</p>' if advice else ''}<ul>{items}</ul>"
    )
    return subject, body


class FailureMail(SmtpNotifier):
    """The mail of a task that failed for good (``on_failure_callback``), composed from its context."""

    def __init__(self, to: list[str], from_email: str | None = None, smtp_conn_id: str = "smtp_default") -> None:
        super().__init__(to=list(to), from_email=from_email, subject="", html_content="", smtp_conn_id=smtp_conn_id)

    def notify(self, context: Any) -> None:
        self.subject, self.html_content = compose(context)
        super().notify(context)


def failure_callbacks(settings: Any) -> list[FailureMail]:
    """``on_failure_callback`` for every task, or none when nobody is to be told."""
    if not settings.to:
        return []
    return [FailureMail(settings.to, settings.from_email, settings.smtp_conn_id)]


def deadline_alert(settings: Any, dag_id: str) -> Any:
    """A deadline alert: a mail when a run is still unfinished ``deadline_hours`` after it was queued."""
    if not settings.to or not settings.deadline_hours:
        return None
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    hours = settings.deadline_hours
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=hours),
        callback=AsyncCallback(SmtpNotifier, kwargs={
            "to": list(settings.to), "from_email": settings.from_email, "smtp_conn_id": settings.smtp_conn_id,
            "subject": f"TTHC report: a run of {dag_id} is not finished {hours:g} h after it started",
            "html_content": (f"<p>A run of <code>{html.escape(dag_id)}</code> has been running for {hours:g} hours "
                             f"without finishing. Open it in Airflow ({html.escape(_base_url())}/dags/"
                             f"{html.escape(dag_id)}) to see which districts are still waiting or retrying.</p>"),
        }),
        name="tthc-run-late",
    )
