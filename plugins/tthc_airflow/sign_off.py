"""The office's sign-off of its rendered report (Required Actions), its one return to the inputs form on Reject,
and the delivery of a final report by mail.

Why the standard provider's ``ApprovalOperator``: Airflow 3.3 lists it under "Required Actions" with the
buttons Approve and Reject, assigns it to users, and its scheduler resolves it when ``response_timeout``
passes. What this adds, per unit (mapped with the task group ``district``):

- whether to ask (``office_inputs.units.<code>.sign_off``; the bundled configuration signs off nobody, so
  ``make run`` never waits): not asked, the task is skipped and ``finalize_report`` (trigger rule
  ``none_failed``) makes the report final as written; a rendering approved before is not asked again;
- the body, in Vietnamese, with links to the draft .docx and .pdf on the run's outputs pages (``/tthc``);
- the assignees, the deadline (``sign_off_timeout``) and the announcing mail (``notify``) of the unit;
- a timeout takes Reject (``defaults``): an unapproved report stays a draft, is not mailed and the
  province's roll-up leaves it out; the run goes on.

**Reject loops once.** An office that rejects its draft (a person's Reject, with its comment in «Ý kiến») gets
the inputs form once more, then the report is rendered again and waits for approval again::

    write_report >> sign_off >> revise_inputs >> revise_report >> sign_off_revised >> finalize_report >> deliver

- ``revise_inputs`` (``OfficeRevisionForm``): the inputs form, pre-filled with what the report used, the
  rejection's comment in its body; asked only after a person's Reject, skipped itself otherwise;
- ``revise_report`` (``revise``): keeps the revised inputs (their evidence says they were revised after
  the rejection, by whom, with the comment), validates them as the first ones were, renders the same files;
- ``sign_off_revised``: the same approval of the revised draft; there is no second loop: Reject or a
  timeout there leaves the report a draft, as a timeout of ``revise_inputs`` does;
- ``finalize_report`` decides from the last decision (``sign_off_decision``).

Why this shape, three tasks in the chain rather than a branch or one task doing everything: a unit without
sign-off pays nothing but three task instances that the *scheduler* marks skipped (their upstream
``sign_off`` skipped, trigger rule ``all_success``): no worker process starts, no Required Action is
written, and ``finalize_report`` (``none_failed``) runs as before. An approval at the first ask costs one
task start (``revise_inputs`` skips itself) and two more skipped by the scheduler. A branch would not do:
``HITLBranchOperator`` and ``ApprovalOperator`` skip through ``SkipMixin``, which on Airflow 3.3.2 records a
mapped task instance's skips in an XCom that ``NotPreviouslySkippedDep`` then reads at map index -1 (the
operator of a mapped group is not itself mapped), so nothing is skipped (see ``finalize``). For the same
reason ``ReportSignOff`` does not run ``ApprovalOperator``'s skip at all: the decision is its XCom and the
tasks after it act on it; were the skip one day to reach a mapped group, it would skip ``revise_inputs``,
the very task Reject leads to. One task holding the form, the rendering and the second approval would need
two Required Actions on one task instance (``HITLDetail`` is one per task instance) and would hide the
re-rendering's log and failure inside an approval.

Who approved and when goes to the report's evidence and its final marker (``tthc.pipeline.finalize_report``).
Delivery (``deliver``) mails a final report to the unit's ``deliver_to``, ``deliver_cc`` in copy, through the
smtp provider's ``SmtpHook`` on ``notifications.smtp_conn_id``; a unit without ``deliver_to`` sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param

from tthc_airflow.district_task import MAP_INDEX_KEY, sibling_result
from tthc_airflow.office_inputs import OfficeAction, OfficeInputsForm
from tthc_airflow.params import OFFICE_FORM_PREFIX, office_form_params

if TYPE_CHECKING:
    from tthc.config import OfficeInputs, PipelineConfig
    from tthc.delivery import ReportMail
    from tthc.district_month import DistrictMonth

SIGN_OFF_TASK_ID = "sign_off"  # in the group "district": district.sign_off
REVISE_INPUTS_TASK_ID = "revise_inputs"  # the inputs form once more, after a Reject
REVISE_REPORT_TASK_ID = "revise_report"  # the revised inputs kept, checked, the report rendered again
REVISED_SIGN_OFF_TASK_ID = "sign_off_revised"  # the approval of the revised draft: the last one
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


def rejected_by_a_person(decision: dict[str, Any] | None) -> bool:
    """Whether ``decision`` (a sign-off's XCom) is a Reject chosen by a user, not a timeout's default."""
    if not decision:
        return False
    return not decision.get("approved") and not decision.get("timed_out") and bool(decision.get("by"))


class ReportSignOff(OfficeAction, ApprovalOperator):
    """A unit's rendered report, waiting for its office's approval (``revised``: the draft rendered again after a
    Reject, whose own Reject is final)."""

    template_fields = OfficeAction.template_fields
    revised = False

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
        if self.revised and sibling_result(REVISE_REPORT_TASK_ID) is None:
            raise AirflowSkipException(f"{self.unit['label']}, {month.period.name}: the report was not rendered "
                                       "again after its rejection: nothing to approve again")
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
        hours = settings.sign_off_timeout.total_seconds() / 3600
        links = "\n".join(f"- [{name}]({url})" for name, url in report_links(dag_id, run_id, month))
        sent = (f" và gửi đến {', '.join(settings.deliver_to)}" if settings.deliver_to else "")
        if self.revised:
            self.subject = f"Phê duyệt báo cáo TTHC {month_text} (đã sửa): {unit.name}"
            self.mail_text = (f"Dự thảo báo cáo {month_text} của {unit.name} ({window}) đã được lập lại với đầu vào "
                              f"đã sửa; đề nghị xem và phê duyệt trong vòng {hours:g} giờ.")
            reject = ("**Reject** (trả lại): báo cáo giữ nguyên là dự thảo, không trả lại biểu mẫu lần nữa; ghi ý "
                      "kiến vào ô «Ý kiến».")
        else:
            self.subject = f"Phê duyệt báo cáo TTHC {month_text}: {unit.name}"
            self.mail_text = (f"Dự thảo báo cáo {month_text} của {unit.name} ({window}) đã được lập; đề nghị xem "
                              f"và phê duyệt trong vòng {hours:g} giờ.")
            reject = ("**Reject** (trả lại): ghi ý kiến vào ô «Ý kiến»; biểu mẫu đầu vào được gửi lại một lần để "
                      "sửa, báo cáo được lập lại và trình phê duyệt lần nữa.")
        self.body = (
            f"{self.mail_text}\n\n{links}\n\n"
            f"**Approve** (phê duyệt): báo cáo trở thành bản chính thức, được tính vào báo cáo tổng hợp của tỉnh"
            f"{sent}. {reject} Quá hạn không phê duyệt, báo cáo giữ nguyên là dự thảo.")
        self.assign(settings, settings.sign_off_timeout)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        context[MAP_INDEX_KEY] = self.unit["label"]
        # HITLOperator's, not ApprovalOperator's: no skip on Reject (module doc); the tasks after act on the XCom.
        result = HITLOperator.execute_complete(self, context, event)
        at: Any = result.get("responded_at")
        timed_out = bool(event.get("timedout")) or not result.get("responded_by_user")
        decision = {"approved": result["chosen_options"] == [self.APPROVE] and not timed_out,
                    "timed_out": timed_out, "by": result.get("responded_by_user"),
                    "at": at.isoformat() if isinstance(at, datetime) else at,
                    "comment": (result.get("params_input") or {}).get(COMMENT), "revised": self.revised}
        if timed_out:
            self.log.warning("%s: not approved in time: the report stays a draft (not final, not sent)",
                             self.unit["label"])
        elif decision["approved"]:
            self.log.info("%s: approved by %s at %s", self.unit["label"], decision["by"], decision["at"])
        else:
            after = ("the report stays a draft" if self.revised else
                     "the office gets its inputs form once more, then the report is rendered again")
            self.log.warning("%s: rejected by %s: %s; %s", self.unit["label"], decision["by"],
                             decision["comment"] or "(no comment)", after)
        return decision


class RevisedReportSignOff(ReportSignOff):
    """The report rendered again after its office rejected it, waiting for its approval: the last one."""

    template_fields = ReportSignOff.template_fields
    revised = True


class OfficeRevisionForm(OfficeInputsForm):
    """The inputs form once more, after the office rejected the report: pre-filled with what the report used,
    the rejection's comment in its body. Asked only after a person's Reject; otherwise skipped at once."""

    template_fields = OfficeInputsForm.template_fields

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        from tthc import inputs, pipeline
        from tthc.delivery import month_words
        from tthc_airflow.errors import fail_fast
        from tthc_airflow.params import inputs_from_run

        month = self.unit_month(context)
        decision = sibling_result(SIGN_OFF_TASK_ID)
        if not rejected_by_a_person(decision):
            why = ("approved" if decision and decision.get("approved") else
                   "not approved in time: the report stays a draft" if decision else "no sign-off")
            raise AirflowSkipException(f"{self.unit['label']}, {month.period.name}: {why}; the inputs are not "
                                       "asked again")
        assert decision is not None
        settings = self.config.office_inputs.for_unit(month.unit.code)
        with fail_fast():
            used = pipeline.month_inputs(month, inputs_from_run(context["params"]))[0]
        for key, value in inputs.form_values(used, OFFICE_FORM_PREFIX).items():
            self.params[key] = value
        (month_text, window), unit = month_words(month.period), month.unit
        who = (decision.get("by") or {}).get("name") or (decision.get("by") or {}).get("id")
        hours = settings.response_timeout.total_seconds() / 3600
        self.subject = f"Sửa đầu vào báo cáo TTHC {month_text}: {unit.name}"
        self.mail_text = (f"Dự thảo báo cáo {month_text} của {unit.name} ({window}) đã bị {who} trả lại; đề nghị "
                          f"sửa thông tin báo cáo trong vòng {hours:g} giờ.")
        comment = (decision.get("comment") or "").strip()
        quoted = "\n".join(f"> {line}" for line in comment.splitlines()) if comment else "> (không ghi ý kiến)"
        self.body = (
            f"{self.mail_text}\n\nÝ kiến khi trả lại ({decision.get('at')}):\n\n{quoted}\n\n"
            "Các trường dưới đây là đầu vào báo cáo đã dùng; sửa rồi bấm OK: báo cáo được lập lại với đầu vào đã "
            "sửa và trình phê duyệt lần nữa (lần cuối). Quá hạn không gửi, báo cáo giữ nguyên là dự thảo.")
        self.assign(settings, settings.response_timeout)
        self.log.info("%s, %s: rejected by %s; asking the office for its inputs once more; waiting at most %s",
                      self.unit["label"], month.period.name, who, settings.response_timeout)
        return HITLOperator.execute(self, context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        context[MAP_INDEX_KEY] = self.unit["label"]
        result = dict(HITLOperator.execute_complete(self, context, event))
        at: Any = result.get("responded_at")
        result["responded_at"] = at.isoformat() if isinstance(at, datetime) else at
        result["timed_out"] = bool(event.get("timedout")) or not result.get("responded_by_user")
        result["rejection"] = sibling_result(SIGN_OFF_TASK_ID)  # what the revision answers (its evidence)
        if result["timed_out"]:
            self.log.warning("%s: the inputs were not revised in time: the rejected report stays a draft",
                             self.unit["label"])
        else:
            self.log.info("%s: inputs revised by %s; the report is rendered again", self.unit["label"],
                          result.get("responded_by_user"))
        return result


def _comment() -> Param:
    return Param(None, type=["null", "string"], format="multiline", maxLength=4000, title="Ý kiến",
                 description="Khi trả lại (Reject): nội dung cần sửa trong báo cáo.")


def sign_off(config: PipelineConfig, unit: Any) -> ReportSignOff:
    """The sign-off task of the group ``district`` for ``unit`` (mapped with the group)."""
    return ReportSignOff(task_id=SIGN_OFF_TASK_ID, config=config, unit=unit, params={COMMENT: _comment()},
                         doc_md="The office approves its rendered report (Required Action, links to the draft "
                                ".docx/.pdf); skipped when the unit has no sign-off (office_inputs in "
                                "include/config/pipeline.yaml). Reject: the inputs form once more (revise_inputs), "
                                "then the report again (revise_report, sign_off_revised). No answer in time: the "
                                "report stays a draft.")


def revise_inputs(config: PipelineConfig, unit: Any) -> OfficeRevisionForm:
    """The inputs form once more after a Reject, in the group ``district`` for ``unit`` (mapped with the group)."""
    return OfficeRevisionForm(task_id=REVISE_INPUTS_TASK_ID, config=config, unit=unit, params=office_form_params(),
                              doc_md="After the office rejected its report (sign_off): its inputs form once more, "
                                     "pre-filled with what the report used, the rejection's comment in the body. "
                                     "Skipped when the report was approved, not signed off, or nobody answered.")


def sign_off_revised(config: PipelineConfig, unit: Any) -> RevisedReportSignOff:
    """The approval of the report rendered again after a Reject (mapped with the group ``district``)."""
    return RevisedReportSignOff(task_id=REVISED_SIGN_OFF_TASK_ID, config=config, unit=unit,
                                params={COMMENT: _comment()},
                                doc_md="The office approves its report rendered again with its revised inputs; "
                                       "the last ask: Reject or no answer in time leaves the report a draft. "
                                       "Skipped unless the report was rejected and its inputs revised.")


def revision_answer() -> dict[str, Any] | None:
    """The answer of this map index's ``revise_inputs`` (its XCom), None when it was skipped."""
    return sibling_result(REVISE_INPUTS_TASK_ID)


def sign_off_decision() -> dict[str, Any] | None:
    """The last decision of this map index's office on its report: the revised draft's (``sign_off_revised``)
    when it was asked, else the first (``sign_off``); None when neither was asked (no sign-off)."""
    revised = sibling_result(REVISED_SIGN_OFF_TASK_ID)
    return revised if revised is not None else sibling_result(SIGN_OFF_TASK_ID)


def revise(month: DistrictMonth, answer: dict[str, Any] | None, input_params: dict[str, Any] | None,
           run_id: str) -> dict[str, Any]:
    """The report rendered again with the inputs its office entered after rejecting it (``answer``: the result
    of ``revise_inputs``, None when it was skipped).

    The revision is kept as the period's inputs (``tthc.pipeline.record_inputs``: data root and warehouse; its
    record says it followed the rejection, with the comment), checked as the first inputs were
    (``validate_sources``: a blocking finding fails here, as it would have before), and the same report files are
    written again (``write_report``: a draft until approved; their evidence's ``inputs.revision``). Skipped when
    the form was not asked or not answered in time: the rejected draft stays a draft.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc import inputs, pipeline

    unit, period = month.unit, month.period
    if answer is None:
        raise AirflowSkipException(f"{unit.code}, {period.name}: the inputs were not asked again (the report was "
                                   "not rejected by its office): nothing to render again")
    if answer.get("timed_out") or not answer.get("responded_by_user"):
        raise AirflowSkipException(f"{unit.code}, {period.name}: the inputs form was not answered in time after the "
                                   "rejection: the report stays a draft (not final, not mailed)")
    try:
        kept = pipeline.record_inputs(month, input_params, answer, run_id, OFFICE_FORM_PREFIX)
    except inputs.InputsError as exc:
        raise inputs.InputsError(f"{str(exc).split('. Clear task', 1)[0]}. Clear task district.revise_inputs of this "
                                 "unit (and the tasks after it) to ask the office again") from None
    checked = pipeline.validate_sources(month, input_params)
    written = pipeline.write_report(month, input_params)
    return {**written, "inputs": kept, "quality": checked["results_page"],
            "warnings": kept["warnings"] + checked["warnings"] + written["warnings"]}


def finalize(month: DistrictMonth, run_id: str) -> dict[str, Any]:
    """Make the unit's report final (``tthc.pipeline.finalize_report``), or skip when its office did not approve.

    Why this task decides rather than trusting the skip ``ApprovalOperator`` does on Reject: inside a mapped
    task group that skip does not happen on Airflow 3.3.2. ``SkipMixin`` only records the tasks to skip in an
    XCom for a mapped task instance, and ``NotPreviouslySkippedDep`` reads it at map index -1 because the
    sign-off operator itself is not mapped (its group is), so finds nothing and the next task runs. Seen live
    in ``tests/scheduler/test_sign_off_live.py``. Skipped here, the delivery after it is skipped too. The decision
    is the last one (``sign_off_decision``): the revised draft's after a Reject, else the first.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc import pipeline

    decision = sign_off_decision()
    if decision is not None and not decision.get("approved"):
        why = ("not approved in time" if decision.get("timed_out") else
               f"rejected by {(decision.get('by') or {}).get('id')}: {decision.get('comment') or '(no comment)'}")
        after = ("; its inputs were not revised in time after the rejection"
                 if rejected_by_a_person(decision) and not decision.get("revised") else "")
        raise AirflowSkipException(f"{month.unit.code}, {month.period.name}: {why}; the report stays a draft "
                                   f"(not final, not mailed, left out of the province's roll-up){after}")
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
