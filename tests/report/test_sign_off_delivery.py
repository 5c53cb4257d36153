"""The office's sign-off and the delivery of a final report: configuration, the final marker and its evidence,
the province's roll-up of drafts, the mail (both attachments, the province in copy), and a real SMTP server.

The decisions are ``tthc.pipeline.finalize_report`` / ``final_record`` and ``tthc.delivery.report_mail`` on plain
values, the sign-off's decision in the shape ``tthc_airflow.sign_off.ReportSignOff`` returns it; the sending is
``tthc_airflow.sign_off.send_report`` through the smtp provider's hook, against ``tests.conftest.local_smtp``.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from model_data import MODEL_FEEDBACK, PERIOD, model_rows

from tests.report.test_office_inputs import CLERK, configured, month_of
from tests.scheduler.stack import smtp_connection
from tthc import pipeline, report, warehouse
from tthc.config import ConfigError, OfficeInputs, OfficeInputsConfig, load_config
from tthc.delivery import DeliveryError, report_mail
from tthc.pipeline import SignOffError

OFFICE, PROVINCE = "vanphong@thapmuoi.example", "kstthc@dongthap.example"
APPROVED = {"approved": True, "timed_out": False, "by": CLERK, "at": "2023-11-20T09:30:00+00:00", "comment": None}
DOCX, PDF = b"PK docx bytes of the letter", b"%PDF-1.7 the letter"


def office(config: Any, **settings: Any) -> Any:
    return config.model_copy(update={"office_inputs": OfficeInputsConfig(defaults=OfficeInputs(**settings))})


def published(config: Any, unit: Any, tmp_path: Path, pdf: bytes | None = PDF) -> Any:
    """The unit's month with a report set written as write_report publishes it (the evidence of run-1)."""
    month = month_of(config, unit, tmp_path)
    evidence = json.dumps({"run_id": "run-1", "inputs": {"source": "file"}}).encode("utf-8")
    pipeline.publish_report(month, DOCX, pdf, evidence)
    return month


def evidence_of(month: Any) -> dict[str, Any]:
    return json.loads(month.files.report_set["evidence"].read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------- configuration


def test_the_bundled_configuration_signs_off_and_mails_nothing(config) -> None:
    """`make run` never waits for an approval nor needs a mail server."""
    for unit in config.all_reporting_units():
        settings = config.office_inputs.for_unit(unit.code)
        assert not settings.sign_off and settings.deliver_to == [] and settings.deliver_cc == []
    assert config.office_inputs.defaults.sign_off_timeout == timedelta(days=3)


def test_sign_off_and_recipients_per_unit_over_the_province_s_copy(tmp_path: Path) -> None:
    config = load_config(configured(tmp_path, (
        f"office_inputs:\n  defaults: {{deliver_cc: [{PROVINCE}]}}\n"
        f"  units:\n    872: {{sign_off: true, sign_off_timeout: PT36H, deliver_to: [{OFFICE}]}}")))
    mine = config.office_inputs.for_unit("872")
    assert mine.sign_off and mine.sign_off_timeout == timedelta(hours=36)
    assert mine.deliver_to == [OFFICE] and mine.deliver_cc == [PROVINCE]
    other = config.office_inputs.for_unit("874")
    assert not other.sign_off and other.deliver_to == [] and other.deliver_cc == [PROVINCE]


@pytest.mark.parametrize(("block", "message"), [
    ("office_inputs:\n  units:\n    872: {deliver_to: [văn phòng]}", r"872\.deliver_to.*not e-mail addresses"),
    ("office_inputs:\n  defaults: {deliver_cc: [kstthc]}", "not e-mail addresses: kstthc"),
    ("office_inputs:\n  units:\n    872: {sign_off_timeout: PT0S}", r"872\.sign_off_timeout.*positive duration"),
    ("office_inputs:\n  units:\n    872: {sign_off: maybe}", r"872\.sign_off"),
    ("office_inputs:\n  defaults: {signoff: true}", r"office_inputs\.defaults\.signoff"),
])
def test_invalid_sign_off_or_delivery_settings_fail_at_load_naming_the_field(tmp_path: Path, block: str,
                                                                            message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(configured(tmp_path, block))


# ------------------------------------------------------------------------------------- final, or a draft


def test_without_sign_off_the_report_is_final_as_written(config, unit, tmp_path: Path) -> None:
    month = published(config, unit, tmp_path)
    assert pipeline.final_record(month) is None  # written, not yet final
    out = pipeline.finalize_report(month, None, "run-1")
    assert out["final"] and not out["signed_off"] and out["approved_by"] is None and not out["reused"]
    kept = pipeline.final_record(month)
    assert kept is not None and kept["run_id"] == "run-1"
    assert month.files.report_final.name == f"bao-cao-tthc-{unit.code}-{PERIOD.name}.final.json"
    final = evidence_of(month)["final"]
    assert final == kept and evidence_of(month)["inputs"] == {"source": "file"}  # the rest of the evidence kept


def test_a_signing_office_must_approve_and_its_approval_is_kept_with_the_evidence(config, unit, tmp_path) -> None:
    month = published(office(config, sign_off=True), unit, tmp_path)
    rejected = {**APPROVED, "approved": False, "comment": "Sửa số liệu phần 2."}
    for decision in (None, rejected, {**rejected, "timed_out": True, "by": None}):
        with pytest.raises(SignOffError, match=rf"district {unit.code}.*has not approved.*stays a draft"):
            pipeline.finalize_report(month, decision, "run-1")
        assert pipeline.final_record(month) is None and "final" not in evidence_of(month)

    out = pipeline.finalize_report(month, APPROVED, "run-1")
    assert out["signed_off"] and out["approved_by"] == CLERK and out["approved_at"] == APPROVED["at"]
    assert evidence_of(month)["final"]["approved_by"] == CLERK
    assert pipeline.final_record(month)["approved_at"] == APPROVED["at"]
    # The sign-off skipped on a rerun of the same rendering: the approval stands.
    again = pipeline.finalize_report(month, None, "run-2")
    assert again["reused"] and again["run_id"] == "run-1"


def test_a_new_rendering_is_a_draft_again(config, unit, tmp_path: Path) -> None:
    signing = office(config, sign_off=True)
    month = published(signing, unit, tmp_path)
    pipeline.finalize_report(month, APPROVED, "run-1")
    pipeline.publish_report(month, DOCX + b" re-rendered", PDF, b"{}")
    assert not month.files.report_final.exists() and pipeline.final_record(month) is None
    # A marker left beside another rendering (a process killed between the two writes) does not count.
    pipeline.finalize_report(month, APPROVED, "run-2")
    month.files.report_set["docx"].write_bytes(DOCX + b" changed by hand")
    assert pipeline.final_record(month) is None


def test_the_province_roll_up_leaves_out_a_draft_its_office_has_not_approved(config, unit, tmp_path: Path,
                                                                            monkeypatch) -> None:
    monkeypatch.setattr(report.pdf, "find_soffice", lambda: None)
    signing = office(config, sign_off=True)
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with warehouse.connected(url) as engine:
        warehouse.replace_period(engine, PERIOD.name, unit.code, model_rows(config), dict(MODEL_FEEDBACK), "run-1")
    month = published(signing, unit, tmp_path)
    draft = pipeline.write_province_outputs(signing, PERIOD, month.root, url)
    assert draft["reported"] == 0 and unit.code in draft["missing"]
    pipeline.finalize_report(month, APPROVED, "run-1")
    counted = pipeline.write_province_outputs(signing, PERIOD, month.root, url)
    assert counted["reported"] == 1 and unit.code not in counted["missing"]
    # Without sign-off a written report counts, as before.
    assert pipeline.write_province_outputs(config, PERIOD, month.root, url)["reported"] == 1


# ------------------------------------------------------------------------------------------------ the mail


def test_no_recipients_no_mail(config, unit, tmp_path: Path) -> None:
    month = published(office(config, deliver_cc=[PROVINCE]), unit, tmp_path)
    assert report_mail(month, pipeline.finalize_report(month, None, "run-1")) is None


def test_the_mail_carries_both_files_to_the_office_with_the_province_in_copy(config, unit, tmp_path) -> None:
    month = published(office(config, sign_off=True, deliver_to=[OFFICE], deliver_cc=[PROVINCE]), unit, tmp_path)
    with pytest.raises(DeliveryError, match=rf"district {unit.code}.*not final"):
        report_mail(month, pipeline.final_record(month))
    pipeline.finalize_report(month, APPROVED, "run-1")
    mail = report_mail(month, pipeline.final_record(month))
    assert mail is not None and mail.to == [OFFICE] and mail.cc == [PROVINCE] and mail.warnings == []
    assert mail.attachments == [(f"bao-cao-tthc-{unit.code}-{PERIOD.name}.docx", DOCX),
                                (f"bao-cao-tthc-{unit.code}-{PERIOD.name}.pdf", PDF)]
    assert mail.subject == f"Báo cáo cải cách thủ tục hành chính tháng 11/2023: {unit.name}"
    assert "phê duyệt" in mail.html and CLERK["name"] in mail.html and "14/11/2023" in mail.html
    for text in (mail.subject, mail.html):
        assert unicodedata.is_normalized("NFC", text)


def test_without_a_pdf_the_mail_carries_the_docx_and_says_so(config, unit, tmp_path: Path) -> None:
    month = published(office(config, deliver_to=[OFFICE]), unit, tmp_path, pdf=None)
    mail = report_mail(month, pipeline.finalize_report(month, None, "run-1"))
    assert mail is not None and [name for name, _ in mail.attachments] == [month.files.report_set["docx"].name]
    assert mail.warnings and "Chưa có bản PDF" in mail.html


# ---------------------------------------------------------------------------------- a real SMTP server


def test_a_real_smtp_server_receives_the_report_with_both_attachments(config, unit, tmp_path: Path,
                                                                      monkeypatch) -> None:
    from tests.conftest import local_smtp
    from tthc_airflow.sign_off import deliver

    month = published(office(config, deliver_to=[OFFICE], deliver_cc=[PROVINCE]), unit, tmp_path)
    pipeline.finalize_report(month, None, "run-1")
    with local_smtp() as (inbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(port, "tthc@tinh.example"))
        out = deliver(month)
    assert out["to"] == [OFFICE] and out["cc"] == [PROVINCE]
    [(sender, recipients, message)] = inbox.messages
    assert sender == "tthc@tinh.example" and sorted(recipients) == sorted([OFFICE, PROVINCE])
    assert message["To"] == OFFICE and message["Cc"] == PROVINCE
    assert str(message["Subject"]) == f"Báo cáo cải cách thủ tục hành chính tháng 11/2023: {unit.name}"
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached == {f"bao-cao-tthc-{unit.code}-{PERIOD.name}.docx": DOCX,
                        f"bao-cao-tthc-{unit.code}-{PERIOD.name}.pdf": PDF}


def test_a_mail_that_cannot_be_sent_fails_naming_the_unit_and_the_connection(config, unit, tmp_path: Path,
                                                                             monkeypatch) -> None:
    from tests.scheduler.stack import free_port
    from tthc_airflow.sign_off import MailNotSent, deliver

    month = published(office(config, deliver_to=[OFFICE]), unit, tmp_path)
    pipeline.finalize_report(month, None, "run-1")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(free_port(), "tthc@tinh.example"))
    with pytest.raises(MailNotSent, match=rf"district {unit.code}: .*not sent to {OFFICE} over SMTP connection "
                                          r"'smtp_default'"):
        deliver(month)
    assert pipeline.final_record(month) is not None  # the report stays final and in place


# ------------------------------------------------------------------------ the Required Action, without Airflow's DB


def sign_off_task(config: Any, unit: Any) -> Any:
    from tthc_airflow.sign_off import sign_off

    return sign_off(config, {"code": unit.code, "label": f"{unit.name} ({unit.code})", "period": PERIOD.name})


def test_the_sign_off_is_skipped_for_a_unit_without_it(config, unit, data_root: Path) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    context: dict[str, Any] = {"run_id": "manual__2023-11", "dag_run": None}
    with pytest.raises(AirflowSkipException, match=r"no sign-off configured.*final as written"):
        sign_off_task(config, unit).execute(context)
    assert context["district_label"] == f"{unit.name} ({unit.code})"


def test_the_sign_off_asks_the_unit_s_users_with_links_to_the_draft(config, unit, data_root: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from airflow.providers.standard.operators.hitl import HITLOperator

    signing = office(config, sign_off=True, sign_off_timeout=timedelta(hours=36), assigned_users=[CLERK],
                     deliver_to=[OFFICE], notify=[OFFICE])
    published(signing, unit, data_root.parent)
    monkeypatch.setattr(HITLOperator, "execute", lambda self, context: "awaiting input")
    task = sign_off_task(signing, unit)
    context = {"run_id": "manual__2023-11-01T03:00:00+00:00", "dag_run": SimpleNamespace(dag_id="tthc_monthly_report")}
    assert task.execute(context) == "awaiting input"
    assert task.subject == f"Phê duyệt báo cáo TTHC tháng 11/2023: {unit.name}"
    assert task.assigned_users == [CLERK] and task.response_timeout == timedelta(hours=36)
    assert [type(n).__name__ for n in task.notifiers] == ["OfficeFormMail"]
    runs = "/tthc/dags/tthc_monthly_report/runs/manual__2023-11-01T03%3A00%3A00%2B00%3A00/reports/"
    for kind in ("docx", "pdf"):
        assert f"({runs}bao-cao-tthc-{unit.code}-{PERIOD.name}.{kind})" in task.body
    assert "kỳ 15/10/2023 – 14/11/2023" in task.body and OFFICE in task.body
    assert unicodedata.is_normalized("NFC", task.body)

    # A rendering approved before is not asked again.
    month = month_of(signing, unit, data_root.parent)
    pipeline.finalize_report(month, APPROVED, "run-1")
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match=f"approved by {CLERK['id']}"):
        sign_off_task(signing, unit).execute(context)


@pytest.mark.parametrize(("chosen", "user", "timedout", "approved"), [
    (["Approve"], CLERK, False, True),
    (["Reject"], CLERK, False, False),
    (["Reject"], None, True, False),  # the scheduler's timeout took the default
])
def test_the_decision_says_who_approved_when_or_that_nobody_did(config, unit, chosen, user, timedout,
                                                                approved) -> None:
    from datetime import UTC, datetime

    at = datetime(2023, 11, 20, 9, 30, tzinfo=UTC)
    event = {"chosen_options": chosen, "params_input": {"comment": "Sửa phần 2." if not approved else None},
             "responded_at": at, "responded_by_user": user, "timedout": timedout}
    decision = sign_off_task(config, unit).execute_complete({}, event)
    assert decision == {"approved": approved, "timed_out": timedout, "by": user, "at": at.isoformat(),
                        "comment": None if approved else "Sửa phần 2.", "revised": False}
    json.dumps(decision)  # an XCom


def test_finalize_skips_a_rejected_or_unanswered_draft_and_makes_an_approved_one_final(
        config, unit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The task decides from the decision: on Airflow 3.3.2 ApprovalOperator's skip does not reach a task of a
    mapped group (tthc_airflow.sign_off.finalize)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc_airflow import sign_off

    month = published(office(config, sign_off=True), unit, tmp_path)
    for decision, why in (({**APPROVED, "approved": False, "comment": "Sửa phần 2."}, "rejected by vpub.thapmuoi: "
                                                                                      "Sửa phần 2."),
                          ({**APPROVED, "approved": False, "timed_out": True, "by": None}, "not approved in time")):
        monkeypatch.setattr(sign_off, "sign_off_decision", lambda decision=decision: decision)
        with pytest.raises(AirflowSkipException, match=f"{why}; the report stays a draft"):
            sign_off.finalize(month, "run-1")
        assert pipeline.final_record(month) is None
    monkeypatch.setattr(sign_off, "sign_off_decision", lambda: APPROVED)
    assert sign_off.finalize(month, "run-1")["approved_by"] == CLERK
