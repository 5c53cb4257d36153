"""Reject loops once: the office that rejects its draft gets its inputs form once more, the report is rendered again
with what it entered (its evidence says so, with the rejection's comment), and the last decision makes it final.

The decisions are ``tthc.inputs.settle`` / ``tthc.pipeline.record_inputs`` on a revision (the answer carrying the
rejection), ``tthc_airflow.sign_off.revise`` (the re-rendering), ``OfficeRevisionForm`` (asked only after a person's
Reject, pre-filled with what the report used) and ``finalize`` (the last decision), with the tasks' XComs given as
plain values. The same loop on real components: ``tests/scheduler/test_sign_off_live.py``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from model_data import PERIOD

from tests.report.test_office_inputs import (
    ANSWER,
    CLERK,
    PREFIX,
    answered,
    document_text,
    month_of,
    with_office,
    write_file,
)
from tthc import inputs, pipeline, report
from tthc.inputs import OperatorInputs

REJECTED = {"approved": False, "timed_out": False, "by": CLERK, "at": "2023-11-20T10:00:00+00:00",
            "comment": "Phần nguồn lực ghi sai số công chức."}
APPROVED = {"approved": True, "timed_out": False, "by": CLERK, "at": "2023-11-20T11:00:00+00:00", "comment": None}
REVISED = {**ANSWER, "office_resources": "Bố trí 04 công chức đầu mối kiểm soát thủ tục hành chính."}


def revision(values: dict[str, Any] = REVISED, user: dict[str, str] | None = CLERK) -> dict[str, Any]:
    """``revise_inputs``'s result: the form's answer, whether it timed out, and the rejection it answers."""
    return {**answered(values, user), "timed_out": user is None, "rejection": REJECTED}


@pytest.fixture
def xcoms(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The results of this map index's sibling tasks, by task id (absent: the task was skipped)."""
    from tthc_airflow import sign_off

    results: dict[str, Any] = {}
    monkeypatch.setattr(sign_off, "sibling_result", lambda task_id: results.get(task_id))
    return results


# --------------------------------------------------------------------------------------- the revised inputs, kept


def test_a_revision_is_kept_as_the_period_s_inputs_with_the_rejection(config, unit, tmp_path: Path) -> None:
    month = month_of(with_office(config, tmp_path, ask=True, sign_off=True), unit, tmp_path)
    pipeline.record_inputs(month, None, answered(), "run-1", PREFIX)
    out = pipeline.record_inputs(month, None, revision(), "run-1", PREFIX)
    assert out["source"] == "form" and not out["reused"]
    used, record, _ = pipeline.month_inputs(month)
    assert used is not None and used.resources == REVISED["office_resources"]
    assert record.revision == {"rejected_by": CLERK, "rejected_at": REJECTED["at"], "comment": REJECTED["comment"]}
    assert "revised after the report was rejected by Văn phòng UBND huyện Tháp Mười" in record.describe()
    assert REJECTED["comment"] in record.describe()
    kept = json.loads(month.files.office_inputs.read_text(encoding="utf-8"))
    assert kept["revision"]["comment"] == REJECTED["comment"]
    # A first answer has no revision; an answer without the rejection is no revision either.
    assert pipeline.record_inputs(month, None, answered(), "run-2", PREFIX) and \
        pipeline.month_inputs(month)[1].revision is None


def test_a_revision_stands_where_the_period_s_file_replaces_the_form(config, unit, tmp_path: Path) -> None:
    """The office entered it about the report that file gave: the file does not undo it on the rendering."""
    replacing = with_office(config, tmp_path, ask=False, sign_off=True, file_replaces_form=True)
    write_file(replacing, PERIOD.name, unit.code, "resources: Theo tệp.\n")
    month = month_of(replacing, unit, tmp_path)
    pipeline.record_inputs(month, None, None, "run-1", PREFIX)
    assert pipeline.month_inputs(month)[0] == OperatorInputs(resources="Theo tệp.")
    pipeline.record_inputs(month, None, revision(), "run-1", PREFIX)
    assert pipeline.month_inputs(month)[0].resources == REVISED["office_resources"]


# ----------------------------------------------------------------------------------------- the report again


def test_revise_renders_the_same_report_with_the_revised_inputs_and_says_so(config, unit, tmp_path: Path,
                                                                           stored_metrics, monkeypatch) -> None:
    from tthc_airflow.sign_off import revise

    monkeypatch.setattr(report.pdf, "find_soffice", lambda: None)
    month = month_of(with_office(config, tmp_path, ask=True, sign_off=True), unit, tmp_path)
    pipeline.record_inputs(month, None, answered(), "run-1", PREFIX)
    first = pipeline.write_report(month)
    assert ANSWER["office_resources"].removesuffix(".") in document_text(Path(first["path"]))
    checked: list[Any] = []

    def validate(month: Any, input_params: Any = None) -> dict[str, Any]:  # the checks see the revised inputs
        checked.append(pipeline.month_inputs(month, input_params)[0])
        return {"results_page": "quality/index.html", "warnings": []}

    monkeypatch.setattr(pipeline, "validate_sources", validate)
    out = revise(month, revision(), None, "run-1")
    assert [used.resources for used in checked] == [REVISED["office_resources"]]
    assert out["path"] == first["path"] and out["inputs"]["source"] == "form"
    text = document_text(Path(out["path"]))
    assert REVISED["office_resources"].removesuffix(".") in text and ANSWER["office_resources"] not in text
    evidence = json.loads(Path(out["evidence"]).read_text(encoding="utf-8"))
    assert evidence["inputs"]["revision"] == {"rejected_by": CLERK, "rejected_at": REJECTED["at"],
                                              "comment": REJECTED["comment"]}
    assert evidence["inputs"]["answered_by"] == CLERK and "final" not in evidence
    assert pipeline.final_record(month) is None  # a draft until approved again


@pytest.mark.parametrize(("answer", "why"), [
    (None, "not asked again"),
    (revision(user=None), "not answered in time after the rejection: the report stays a draft"),
])
def test_revise_skips_without_a_revision(config, unit, tmp_path: Path, answer: Any, why: str, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc_airflow.sign_off import revise

    month = month_of(with_office(config, tmp_path, ask=True, sign_off=True), unit, tmp_path)
    pipeline.record_inputs(month, None, answered(), "run-1", PREFIX)
    monkeypatch.setattr(pipeline, "write_report", lambda *a: pytest.fail("rendered without a revision"))
    with pytest.raises(AirflowSkipException, match=why):
        revise(month, answer, None, "run-1")
    assert pipeline.month_inputs(month)[0].resources == ANSWER["office_resources"]  # the first answer kept


def test_an_invalid_revision_fails_naming_the_form_to_clear_and_is_not_kept(config, unit, tmp_path: Path) -> None:
    from tthc_airflow.sign_off import revise

    month = month_of(with_office(config, tmp_path, ask=True, sign_off=True), unit, tmp_path)
    pipeline.record_inputs(month, None, answered(), "run-1", PREFIX)
    with pytest.raises(inputs.InputsError, match=r"violations.*Clear task district\.revise_inputs"):
        revise(month, revision({**REVISED, "office_findings": None}), None, "run-1")
    assert pipeline.month_inputs(month)[1].revision is None


# --------------------------------------------------------------------- the Required Actions, without Airflow's DB


def unit_dict(unit: Any) -> dict[str, str]:
    return {"code": unit.code, "label": f"{unit.name} ({unit.code})", "period": PERIOD.name}


@pytest.mark.parametrize(("decision", "why"), [
    (None, "no sign-off"),
    (APPROVED, "approved"),
    ({**REJECTED, "timed_out": True, "by": None, "comment": None}, "not approved in time"),
])
def test_the_form_is_not_asked_again_unless_a_person_rejected(config, unit, data_root: Path, xcoms, decision,
                                                              why) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc_airflow.sign_off import revise_inputs

    if decision is not None:
        xcoms["sign_off"] = decision
    with pytest.raises(AirflowSkipException, match=why):
        revise_inputs(with_office(config, data_root.parent, sign_off=True), unit_dict(unit)).execute({
            "params": {}})


def test_after_a_reject_the_form_is_asked_pre_filled_with_the_comment(config, unit, data_root: Path, xcoms,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.standard.operators.hitl import HITLOperator

    from tthc_airflow.sign_off import revise_inputs

    signing = with_office(config, data_root.parent, ask=False, sign_off=True, assigned_users=[CLERK],
                          response_timeout=timedelta(hours=8))
    pipeline.record_inputs(month_of(signing, unit, data_root.parent), None, answered(), "run-1", PREFIX)
    xcoms["sign_off"] = REJECTED
    monkeypatch.setattr(HITLOperator, "execute", lambda self, context: "awaiting input")
    task = revise_inputs(signing, unit_dict(unit))
    assert task.execute({"params": {}}) == "awaiting input"
    assert task.subject == f"Sửa đầu vào báo cáo TTHC tháng 11/2023: {unit.name}"
    assert f"> {REJECTED['comment']}" in task.body and "Văn phòng UBND huyện Tháp Mười trả lại" in task.body
    assert "lần cuối" in task.body
    assert task.params["office_resources"] == ANSWER["office_resources"]  # what the rejected report used
    assert task.params["office_inspections_count"] == ANSWER["office_inspections_count"]
    assert task.assigned_users == [CLERK] and task.response_timeout == timedelta(hours=8)

    from datetime import UTC, datetime

    at = datetime(2023, 11, 20, 10, 30, tzinfo=UTC)
    params = {key: task.params[key] for key in task.params}
    result = task.execute_complete({}, {"chosen_options": ["OK"], "params_input": params, "responded_at": at,
                                        "responded_by_user": CLERK, "timedout": False})
    assert result["rejection"] == REJECTED and not result["timed_out"] and result["responded_at"] == at.isoformat()
    json.dumps(result)  # an XCom


def test_a_reject_is_left_to_the_tasks_after_not_skipped_by_the_operator(config, unit, monkeypatch) -> None:
    """ApprovalOperator skips the next task on Reject; here that task is revise_inputs, where Reject leads."""
    from datetime import UTC, datetime

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from airflow.sdk.bases.skipmixin import SkipMixin

    from tthc_airflow.sign_off import sign_off

    skipped: list[Any] = []
    monkeypatch.setattr(SkipMixin, "skip", lambda self, ti, tasks: skipped.append(list(tasks)))
    with DAG("reject_test", schedule=None):
        task = sign_off(config, unit_dict(unit))
        task >> EmptyOperator(task_id="revise_inputs")
    event = {"chosen_options": ["Reject"], "params_input": {"comment": REJECTED["comment"]},
             "responded_at": datetime(2023, 11, 20, 10, tzinfo=UTC), "responded_by_user": CLERK, "timedout": False}
    decision = task.execute_complete({"task": task, "ti": None}, event)
    assert not decision["approved"] and decision["comment"] == REJECTED["comment"] and not decision["revised"]
    assert skipped == []


def test_the_revised_draft_is_asked_once_more_and_says_a_reject_is_final(config, unit, data_root: Path, xcoms,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from airflow.providers.standard.operators.hitl import HITLOperator
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc_airflow.sign_off import sign_off_revised

    signing = with_office(config, data_root.parent, sign_off=True)
    context = {"run_id": "manual__2023-11", "dag_run": SimpleNamespace(dag_id="tthc_monthly_report")}
    with pytest.raises(AirflowSkipException, match="not rendered again"):
        sign_off_revised(signing, unit_dict(unit)).execute(context)
    xcoms["revise_report"] = {"path": "..."}
    monkeypatch.setattr(HITLOperator, "execute", lambda self, context: "awaiting input")
    task = sign_off_revised(signing, unit_dict(unit))
    assert task.execute(context) == "awaiting input"
    assert task.subject == f"Phê duyệt báo cáo TTHC tháng 11/2023 (đã sửa): {unit.name}"
    assert "không trả lại biểu mẫu lần nữa" in task.body


# ---------------------------------------------------------------------------------------- the last decision


def test_finalize_decides_from_the_last_decision(config, unit, tmp_path: Path, xcoms) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from tthc_airflow import sign_off

    month = month_of(with_office(config, tmp_path, sign_off=True), unit, tmp_path)
    pipeline.publish_report(month, b"PK docx", b"%PDF", json.dumps({"inputs": {"source": "form"}}).encode())
    xcoms["sign_off"] = REJECTED  # rejected, and the inputs form not answered in time after it
    with pytest.raises(AirflowSkipException,
                       match=r"rejected by vpub.thapmuoi: Phần nguồn lực.*stays a draft.*not revised in time"):
        sign_off.finalize(month, "run-1")
    xcoms["sign_off_revised"] = {**REJECTED, "comment": "Vẫn sai.", "revised": True}  # the second Reject: final
    with pytest.raises(AirflowSkipException, match=r"rejected by vpub.thapmuoi: Vẫn sai.; the report stays a draft"):
        sign_off.finalize(month, "run-1")
    xcoms["sign_off_revised"] = {**REJECTED, "timed_out": True, "by": None, "revised": True}
    with pytest.raises(AirflowSkipException, match="not approved in time"):
        sign_off.finalize(month, "run-1")
    assert pipeline.final_record(month) is None
    xcoms["sign_off_revised"] = APPROVED
    final = sign_off.finalize(month, "run-1")
    assert final["approved_by"] == CLERK and final["approved_at"] == APPROVED["at"]
    assert pipeline.final_record(month) is not None
