"""The month's inputs of a unit's office as a Required Action: a form in Airflow's UI, with a deadline.

Why the standard provider's ``HITLEntryOperator``: Airflow 3.3 shows its form under "Required Actions",
assigns it to users, validates what is entered against the fields' schema, and its scheduler takes the
``defaults`` when ``response_timeout`` passes, so a month nobody answers still finishes. What this adds,
per unit (the operator is mapped over the units with the task group ``district``), when the form is asked:

- whether to ask at all (``tthc.pipeline.office_form``): a unit whose office is not asked, a period whose
  inputs file or run parameters replace the form, a period an earlier run asked already (a rerun, a
  backfill): the task is skipped at once and never waits, and ``record_inputs`` (trigger rule
  ``none_failed``) settles the inputs without it;
- the fields' values, pre-filled from the period's file or parameters, else from the unit's previous month;
- the unit's ``assigned_users``, ``response_timeout`` and the mail announcing the form
  (``office_inputs`` in ``include/config/pipeline.yaml``).

Under ``airflow dags test`` nothing enforces ``response_timeout``: a run meant to finish unattended must
not ask (the bundled configuration asks nobody).
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.providers.standard.operators.hitl import HITLEntryOperator, HITLOperator

from tthc_airflow.district_task import MAP_INDEX_KEY, MAP_INDEX_TEMPLATE
from tthc_airflow.params import OFFICE_FORM_PREFIX, office_form_params

if TYPE_CHECKING:
    from tthc.config import OfficeInputs, PipelineConfig
    from tthc.district_month import DistrictMonth

FORM_TASK_ID = "office_inputs"  # in the group "district": district.office_inputs


class OfficeFormMail(SmtpNotifier):
    """The mail that tells a unit's office its form waits: the unit, the month, the deadline, the link.

    A mail that cannot be sent is logged, never a failure: the form is in the UI either way.
    """

    def __init__(self, to: list[str], from_email: str | None, smtp_conn_id: str) -> None:
        super().__init__(to=list(to), from_email=from_email, subject="", html_content="", smtp_conn_id=smtp_conn_id)

    def notify(self, context: Any) -> None:
        task = context["task"]
        try:
            link = task.generate_link_to_ui_from_context(context=context, base_url=_base_url())
        except ValueError:
            link = _base_url() + "/required_actions"
        self.subject = task.subject
        self.html_content = (f"<p><b>{html.escape(task.subject)}</b></p>"
                             f"<p>{html.escape(getattr(task, 'mail_text', ''))}</p>"
                             f'<p><a href="{html.escape(link, quote=True)}">Mở biểu mẫu trong Airflow</a></p>')
        try:
            super().notify(context)
        except Exception as exc:  # the form waits in the UI whether or not the mail went out
            self.log.warning("the mail announcing the office inputs form was not sent: %s", exc)


def _base_url() -> str:
    from tthc_airflow.notify import _base_url as base_url

    return base_url()


class OfficeAction(HITLOperator):
    """What a unit office's Required Actions share (the inputs form, the sign-off of the report): the unit
    (``unit``: the dict of ``plan_run``, mapped by the group) shown on the map index, its month, and its
    assignees, deadline and announcing mail (``office_inputs`` settings of the unit)."""

    template_fields = (*HITLOperator.template_fields, "unit")

    def __init__(self, *, config: PipelineConfig, unit: Any, **kwargs: Any) -> None:
        super().__init__(map_index_template=MAP_INDEX_TEMPLATE, **kwargs)
        self.config = config
        self.unit = unit
        self.mail_text = ""  # the announcing mail's sentence (OfficeFormMail)

    def unit_month(self, context: Any) -> DistrictMonth:
        """The unit's month, its name put on the map index (a permanent error fails at once)."""
        from tthc_airflow.district_task import district_month
        from tthc_airflow.errors import fail_fast

        context[MAP_INDEX_KEY] = self.unit["label"]
        with fail_fast():
            return district_month(self.config, self.unit)

    def assign(self, settings: OfficeInputs, timeout: timedelta) -> None:
        """The unit's users, the time they have to answer, and the mail telling ``settings.notify``."""
        self.assigned_users = [{"id": user.id, "name": user.name} for user in settings.assigned_users] or None
        self.response_timeout = timeout
        notify = self.config.notifications
        self.notifiers = ([OfficeFormMail(settings.notify, notify.from_email, notify.smtp_conn_id)]
                          if settings.notify else [])


class OfficeInputsForm(OfficeAction, HITLEntryOperator):
    """A unit's month inputs, asked of its office."""

    template_fields = OfficeAction.template_fields

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(subject="Đầu vào báo cáo cải cách thủ tục hành chính tháng",
                         response_timeout=kwargs["config"].office_inputs.defaults.response_timeout, **kwargs)

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException, ParamValidationError

        from tthc import pipeline
        from tthc_airflow.errors import fail_fast
        from tthc_airflow.params import inputs_from_run

        month = self.unit_month(context)
        with fail_fast():
            plan = pipeline.office_form(month, inputs_from_run(context["params"]), OFFICE_FORM_PREFIX)
        if not plan["ask"]:
            raise AirflowSkipException(f"{self.unit['label']}, {month.period.name}: the office is not asked: "
                                       f"{plan['reason']}")
        settings = self.config.office_inputs.for_unit(month.unit.code)
        for key, value in (plan["prefill"] or {}).items():
            try:
                self.params[key] = value
            except ParamValidationError as exc:  # a value the form refuses (too long) is left for the office to type
                self.log.warning("field %s not pre-filled: %s", key, exc)
        self._address(month, settings, plan["reason"])
        self.log.info("%s, %s: asking the office for the month's inputs (%s); waiting at most %s",
                      self.unit["label"], month.period.name, plan["reason"], settings.response_timeout)
        return super().execute(context)

    def _address(self, month: Any, settings: OfficeInputs, reason: str) -> None:
        """Subject, body, assignees, deadline and mail of this unit's form."""
        from tthc.delivery import month_words

        (month_text, window), unit = month_words(month.period), month.unit
        self.subject = f"Đầu vào báo cáo TTHC {month_text}: {unit.name}"
        hours = settings.response_timeout.total_seconds() / 3600
        self.mail_text = f"Đề nghị {unit.name} nhập thông tin báo cáo {month_text} ({window}) trong vòng {hours:g} giờ."
        self.body = (
            f"{self.mail_text} Quá hạn, báo cáo vẫn được lập với các câu trung tính cho những nội dung chưa nhập "
            "và hồ sơ minh chứng ghi rõ nội dung nào chưa nhập.\n\n"
            "Các trường để trống: báo cáo dùng câu trung tính. Mỗi đoạn văn cách nhau một dòng trống.\n\n"
            f"*({reason})*")
        self.assign(settings, settings.response_timeout)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        context[MAP_INDEX_KEY] = self.unit["label"]
        result = dict(super().execute_complete(context, event))
        at: Any = result.get("responded_at")
        result["responded_at"] = at.isoformat() if isinstance(at, datetime) else at
        result["timed_out"] = bool(event.get("timedout")) or not result.get("responded_by_user")
        if result["timed_out"]:
            self.log.warning("%s: the form was not answered in time: the month goes on with the inputs file and "
                             "the trigger form only, neutral sentences for the rest", self.unit["label"])
        else:
            self.log.info("%s: answered by %s", self.unit["label"], result.get("responded_by_user"))
        return result


def office_form(config: PipelineConfig, unit: Any) -> OfficeInputsForm:
    """The form task of the group ``district`` for ``unit`` (mapped with the group)."""
    return OfficeInputsForm(task_id=FORM_TASK_ID, config=config, unit=unit, params=office_form_params(),
                            doc_md="The month's inputs (inspections, resources, assessment) asked of the unit's "
                                   "office as a Required Action; skipped when the office is not asked "
                                   "(office_inputs in include/config/pipeline.yaml), when a file or the run's "
                                   "parameters replace it, or when an earlier run asked already.")


def form_answer() -> dict[str, Any] | None:
    """The answer of this map index's form (its XCom), None when the form was skipped."""
    from tthc_airflow.district_task import sibling_result

    return sibling_result(FORM_TASK_ID)
