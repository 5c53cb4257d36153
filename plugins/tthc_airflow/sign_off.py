"""The office's sign-off of its rendered report (a Required Action), and the delivery of a final report by mail.

Why the standard provider's ``ApprovalOperator``: Airflow 3.3 lists it under "Required Actions" with the
buttons Approve and Reject, assigns it to users, and its scheduler resolves it when ``response_timeout``
passes. On Reject the next task, ``finalize_report``, skips itself (``finalize``: the operator's own skip
does not reach a task of a mapped group), and with it the delivery. What this adds, per unit (mapped with
the task group ``district``):

- whether to ask (``office_inputs.units.<code>.sign_off``; the bundled configuration signs off nobody, so
  ``make run`` never waits): not asked, the task is skipped and ``finalize_report`` (trigger rule
  ``none_failed``) makes the report final as written; a rendering approved before is not asked again;
- the body, in Vietnamese, with links to the draft .docx and .pdf on the run's outputs pages (``/tthc``);
- the assignees, the deadline (``sign_off_timeout``) and the announcing mail (``notify``) of the unit;
- a timeout takes Reject (``defaults``): an unapproved report stays a draft, is not mailed and the
  province's roll-up leaves it out; the run goes on.

Who approved and when goes to the report's evidence and its final marker (``tthc.pipeline.finalize_report``).
Delivery (``deliver``) mails a final report to the unit's ``deliver_to``, ``deliver_cc`` in copy, through the
smtp provider's ``SmtpHook`` on ``notifications.smtp_conn_id``; a unit without ``deliver_to`` sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param

from tthc_airflow.district_task import MAP_INDEX_KEY
from tthc_airflow.office_inputs import OfficeAction

if TYPE_CHECKING:
    from tthc.config import OfficeInputs, PipelineConfig
    from tthc.delivery import ReportMail
    from tthc.district_month import DistrictMonth

SIGN_OFF_TASK_ID = "sign_off"  # in the group "district": district.sign_off
COMMENT = "comment"


def outputs_base() -> str:
    """Where the run's outputs pages are: under ``api.base_url`` when set, else relative to the UI's host."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "").rstrip("/") + "/tthc"


def report_links(dag_id: str, run_id: str, month: DistrictMonth) -> list[tuple[str, str]]:
    """(file name, URL) of the unit's report .docx and .pdf as the outputs pages serve them (those that exist)."""
    base = f"{outputs_base()}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/reports"
    files = month.files.report_set
    return [(files[kind].name, f"{base}/{quote(files[kind].name)}") for kind in ("docx", "pdf")
            if files[kind].exists()]


class ReportSignOff(OfficeAction, ApprovalOperator):
    """A unit's rendered report, waiting for its office's approval."""

    template_fields = OfficeAction.template_fields

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(subject="Phê duyệt báo cáo cải cách thủ tục hành chính tháng",
                         defaults=ApprovalOperator.REJECT,  # a timeout leaves the report a draft
                         response_timeout=kwargs["config"].office_inputs.defaults.sign_off_timeout, **kwargs)

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        from tthc import pipeline

        month = self.unit_month(context)
        settings = self.config.office_inputs.for_unit(month.unit.code)
        if not settings.sign_off:
            raise AirflowSkipException(f"{self.unit['label']}, {month.period.name}: no sign-off configured "
                                       f"(office_inputs.units.{month.unit.code}.sign_off): the report is final as "
                                       "written")
        kept = pipeline.final_record(month)
        if kept is not None and kept.get("signed_off"):
            raise AirflowSkipException(f"{self.unit['label']}, {month.period.name}: this rendering was approved by "
                                       f"{(kept.get('approved_by') or {}).get('id')} at {kept.get('approved_at')}: "
                                       "not asked again")
        self._address(month, settings, context["dag_run"].dag_id, context["run_id"])
        self.log.info("%s, %s: asking the office to approve its report; waiting at most %s", self.unit["label"],
                      month.period.name, settings.sign_off_timeout)
        return super().execute(context)

    def _address(self, month: DistrictMonth, settings: OfficeInputs, dag_id: str, run_id: str) -> None:
        """Subject, body (links to the draft), assignees, deadline and mail of this unit's sign-off."""
        from tthc.delivery import month_words

        (month_text, window), unit = month_words(month.period), month.unit
        self.subject = f"Phê duyệt báo cáo TTHC {month_text}: {unit.name}"
        hours = settings.sign_off_timeout.total_seconds() / 3600
        self.mail_text = (f"Dự thảo báo cáo {month_text} của {unit.name} ({window}) đã được lập; đề nghị xem và "
                          f"phê duyệt trong vòng {hours:g} giờ.")
        links = "\n".join(f"- [{name}]({url})" for name, url in report_links(dag_id, run_id, month))
        sent = (f" và gửi đến {', '.join(settings.deliver_to)}" if settings.deliver_to else "")
        self.body = (
            f"{self.mail_text}\n\n{links}\n\n"
            f"**Approve** (phê duyệt): báo cáo trở thành bản chính thức, được tính vào báo cáo tổng hợp của tỉnh"
            f"{sent}. **Reject** (trả lại): báo cáo giữ nguyên là dự thảo; ghi ý kiến vào ô «Ý kiến». "
            "Quá hạn không phê duyệt, báo cáo giữ nguyên là dự thảo.")
        self.assign(settings, settings.sign_off_timeout)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        context[MAP_INDEX_KEY] = self.unit["label"]
        result = super().execute_complete(context, event)  # on Reject, finalize_report is skipped
        at: Any = result.get("responded_at")
        timed_out = bool(event.get("timedout")) or not result.get("responded_by_user")
        decision = {"approved": result["chosen_options"] == [self.APPROVE] and not timed_out,
                    "timed_out": timed_out, "by": result.get("responded_by_user"),
                    "at": at.isoformat() if isinstance(at, datetime) else at,
                    "comment": (result.get("params_input") or {}).get(COMMENT)}
        if timed_out:
            self.log.warning("%s: not approved in time: the report stays a draft (not final, not sent)",
                             self.unit["label"])
        elif decision["approved"]:
            self.log.info("%s: approved by %s at %s", self.unit["label"], decision["by"], decision["at"])
        else:
            self.log.warning("%s: rejected by %s: %s; the report stays a draft", self.unit["label"], decision["by"],
                             decision["comment"] or "(no comment)")
        return decision


def sign_off(config: PipelineConfig, unit: Any) -> ReportSignOff:
    """The sign-off task of the group ``district`` for ``unit`` (mapped with the group)."""
    comment = Param(None, type=["null", "string"], format="multiline", maxLength=4000, title="Ý kiến",
                    description="Khi trả lại (Reject): nội dung cần sửa trong báo cáo.")
    return ReportSignOff(task_id=SIGN_OFF_TASK_ID, config=config, unit=unit, params={COMMENT: comment},
                         doc_md="The office approves its rendered report (Required Action, links to the draft "
                                ".docx/.pdf); skipped when the unit has no sign-off (office_inputs in "
                                "include/config/pipeline.yaml). Reject or no answer in time: the report stays a draft.")


def sign_off_decision() -> dict[str, Any] | None:
    """The decision of this map index's sign-off (its XCom), None when it was skipped."""
    from tthc_airflow.district_task import sibling_result

    return sibling_result(SIGN_OFF_TASK_ID)


def finalize(month: DistrictMonth, run_id: str) -> dict[str, Any]:
    """Make the unit's report final (``tthc.pipeline.finalize_report``), or skip when its office did not approve.

    Why this task decides rather than trusting the skip ``ApprovalOperator`` does on Reject: inside a mapped
    task group that skip does not happen on Airflow 3.3.2. ``SkipMixin`` only records the tasks to skip in an
    XCom for a mapped task instance, and ``NotPreviouslySkippedDep`` reads it at map index -1 because the
    sign-off operator itself is not mapped (its group is), so finds nothing and the next task runs. Seen live
    in ``tests/scheduler/test_sign_off_delivery.py``. Skipped here, the delivery after it is skipped too.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc import pipeline

    decision = sign_off_decision()
    if decision is not None and not decision.get("approved"):
        why = ("not approved in time" if decision.get("timed_out") else
               f"rejected by {(decision.get('by') or {}).get('id')}: {decision.get('comment') or '(no comment)'}")
        raise AirflowSkipException(f"{month.unit.code}, {month.period.name}: {why}; the report stays a draft "
                                   "(not final, not mailed, left out of the province's roll-up)")
    return pipeline.finalize_report(month, decision, run_id)


def deliver(month: DistrictMonth) -> dict[str, Any]:
    """Mail the unit's final report (``tthc.delivery.report_mail``); skipped when the unit has no ``deliver_to``."""
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc import pipeline
    from tthc.delivery import report_mail

    mail = report_mail(month, pipeline.final_record(month))
    if mail is None:
        raise AirflowSkipException(f"{month.unit.code}: no deliver_to configured (office_inputs.units."
                                   f"{month.unit.code}.deliver_to): the report is not mailed")
    notify = month.config.notifications
    send_report(mail, notify.smtp_conn_id, notify.from_email)
    return {"to": mail.to, "cc": mail.cc, "subject": mail.subject,
            "attachments": [name for name, _ in mail.attachments],
            "warnings": [f"{mail.unit_code}: {w}" for w in mail.warnings]}


class MailNotSent(RuntimeError):
    """The SMTP connection did not take the mail (retried as the task's retries say)."""


def send_report(mail: ReportMail, smtp_conn_id: str, from_email: str | None = None) -> None:
    """Send ``mail`` through the smtp provider's ``SmtpHook`` on ``smtp_conn_id``, attachments as files.

    Any failure (no such connection, server refused or unreachable) raises ``MailNotSent`` naming the unit,
    the connection and the recipients; the report itself stays final and in place.
    """
    import tempfile
    from pathlib import Path

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with tempfile.TemporaryDirectory(prefix="tthc-mail-") as folder:
        paths = []
        for name, content in mail.attachments:
            path = Path(folder) / name
            path.write_bytes(content)
            paths.append(str(path))
        try:
            with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
                hook.send_email_smtp(to=mail.to, cc=mail.cc or None, subject=mail.subject, html_content=mail.html,
                                     from_email=from_email, files=paths)
        except Exception as exc:
            raise MailNotSent(f"district {mail.unit_code}: the final report was not sent to {', '.join(mail.to)} "
                              f"over SMTP connection {smtp_conn_id!r} (notifications.smtp_conn_id): "
                              f"{type(exc).__name__}: {exc}. The report is final and in place; fix the connection "
                              "and clear task district.deliver_report of this unit") from exc
