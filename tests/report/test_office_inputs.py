"""The month's inputs as the office's form: configuration, when it is asked, what it is pre-filled with, what is
kept (data root and warehouse) and reused, and a month nobody answered in the report's evidence.

No Airflow here: the decisions are ``tthc.pipeline.office_form`` / ``record_inputs`` on plain values, with the
form's answer in the shape ``HITLEntryOperator`` returns it (``chosen_options``, ``params_input``,
``responded_at``, ``responded_by_user``; no user when the scheduler took the defaults at the timeout).
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from model_data import PERIOD

from tthc import inputs, pipeline, report, warehouse
from tthc.config import ConfigError, OfficeInputs, OfficeInputsConfig, load_config
from tthc.district_month import DistrictMonth
from tthc.inputs import InputsError, OperatorInputs

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "office_"
CLERK = {"id": "vpub.thapmuoi", "name": "Văn phòng UBND huyện Tháp Mười"}
ANSWER = {
    "office_inspections_count": 2, "office_violations": 1,
    "office_findings": "Phát hiện 01 công chức yêu cầu bổ sung giấy tờ ngoài quy định; đã kiểm điểm, nhắc nhở.",
    "office_resources": "Bố trí 02 công chức đầu mối kiểm soát thủ tục hành chính.",
    "office_assessment": "Công tác cải cách được chỉ đạo quyết liệt.\n\nKết quả giải quyết hồ sơ ổn định.",
    "office_shortcomings": None,
}


def answered(values: dict[str, Any] = ANSWER, user: dict[str, str] | None = CLERK) -> dict[str, Any]:
    """The form's result as HITLEntryOperator returns it (``user`` None: the timeout took the defaults)."""
    return {"chosen_options": ["OK"], "params_input": dict(values),
            "responded_at": datetime(2023, 11, 20, 9, 30, tzinfo=UTC), "responded_by_user": user}


def with_office(config: Any, tmp_path: Path, **settings: Any) -> Any:
    """``config`` with an empty inputs folder of its own and the office of every unit set as given."""
    folder = tmp_path / "include-inputs"
    folder.mkdir(exist_ok=True)
    return config.model_copy(update={"inputs_dir": str(folder),
                                     "office_inputs": OfficeInputsConfig(defaults=OfficeInputs(**settings))})


def month_of(config: Any, unit: Any, tmp_path: Path, period: Any = PERIOD) -> DistrictMonth:
    return DistrictMonth(config, period, unit, tmp_path / "data", f"sqlite:///{tmp_path / 'warehouse.db'}")


def write_file(config: Any, period: str, code: str, text: str) -> None:
    path = Path(config.inputs_path) / period / f"{code}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------------------- configuration


def test_the_bundled_configuration_asks_nobody(config) -> None:
    """`make run` and the unattended tests run `airflow dags test`, where nothing ends a wait for an answer."""
    assert not config.office_inputs.defaults.ask
    assert all(not config.office_inputs.for_unit(unit.code).ask for unit in config.all_reporting_units())
    assert config.office_inputs.defaults.response_timeout == timedelta(days=3)


def configured(tmp_path: Path, block: str) -> Path:
    text = (ROOT / "include" / "config" / "pipeline.yaml").read_text("utf-8")
    text = text.replace("include_dir: ..", f"include_dir: {ROOT / 'include'}")
    start = text.index("office_inputs:\n")
    end = text.index("\n\n", start)
    path = tmp_path / "pipeline.yaml"
    path.write_text(text[:start] + block + text[end:], "utf-8")
    return path


def test_a_unit_s_office_settings_overlay_the_defaults(tmp_path: Path) -> None:
    config = load_config(configured(tmp_path, (
        "office_inputs:\n  defaults: {response_timeout: PT12H, notify: [hcc@dongthap.gov.vn]}\n"
        "  units:\n    872: {ask: true, file_replaces_form: false, "
        "assigned_users: [{id: vpub.thapmuoi, name: Văn phòng UBND huyện Tháp Mười}]}")))
    mine = config.office_inputs.for_unit("872")
    assert mine.ask and not mine.file_replaces_form and mine.response_timeout == timedelta(hours=12)
    assert [user.model_dump() for user in mine.assigned_users] == [CLERK]
    assert mine.notify == ["hcc@dongthap.gov.vn"]
    assert not config.office_inputs.for_unit("874").ask


@pytest.mark.parametrize(("block", "message"), [
    ("office_inputs:\n  units:\n    999: {ask: true}", "office_inputs.units has 999"),
    ("office_inputs:\n  units:\n    872: {response_timeout: soon}", r"office_inputs\.units\.872.*response_timeout"),
    ("office_inputs:\n  defaults: {response_timeout: PT0S}", "positive duration"),
    ("office_inputs:\n  units:\n    872: {assigned_users: [{id: a}]}", r"872.*assigned_users\.0\.name"),
    ("office_inputs:\n  defaults: {notify: [not an address]}", "not e-mail addresses"),
    ("office_inputs:\n  defaults: {ask: true, asked: true}", r"office_inputs\.defaults\.asked"),
])
def test_invalid_office_settings_fail_at_load_naming_the_field(tmp_path: Path, block: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(configured(tmp_path, block))


# -------------------------------------------------------------------------------- asked or not, pre-filled


def test_not_asked_by_default_and_the_month_is_as_before(config, unit, tmp_path: Path) -> None:
    month = month_of(config, unit, tmp_path)
    plan = pipeline.office_form(month, None, PREFIX)
    assert plan == {"ask": False, "reason": plan["reason"], "prefill": None} and "ask: false" in plan["reason"]
    out = pipeline.record_inputs(month, None, None, "run-1", PREFIX)
    assert out["source"] == "file" and out["defaulted"] == ["shortcomings"] and not out["reused"]
    file_inputs, _ = inputs.load_inputs(config.inputs_path, PERIOD.name, unit.code)
    assert pipeline.month_inputs(month)[0] == file_inputs


def test_a_file_replaces_the_form_unless_configured_to_fill_it(config, unit, tmp_path: Path) -> None:
    replacing = with_office(config, tmp_path, ask=True)
    write_file(replacing, PERIOD.name, unit.code, "resources: Đủ nguồn lực.\n")
    plan = pipeline.office_form(month_of(replacing, unit, tmp_path), None, PREFIX)
    assert not plan["ask"] and "replace the form" in plan["reason"]

    filling = replacing.model_copy(update={"office_inputs": OfficeInputsConfig(
        defaults=OfficeInputs(ask=True, file_replaces_form=False))})
    plan = pipeline.office_form(month_of(filling, unit, tmp_path), {"assessment": "Tốt."}, PREFIX)
    assert plan["ask"] and plan["reason"] == "pre-filled from the file and run parameters"
    assert plan["prefill"]["office_resources"] == "Đủ nguồn lực." and plan["prefill"]["office_assessment"] == "Tốt."
    assert plan["prefill"]["office_inspections_count"] is None


def test_the_form_is_pre_filled_from_the_previous_month_as_entered(config, unit, tmp_path: Path) -> None:
    asking = with_office(config, tmp_path, ask=True)
    october = month_of(asking, unit, tmp_path, PERIOD.previous(1))
    assert pipeline.office_form(october, None, PREFIX) == {"ask": True, "prefill": inputs.form_values(None, PREFIX),
                                                           "reason": "empty: no inputs of the previous month"}
    pipeline.record_inputs(october, None, answered(), "run-oct", PREFIX)

    plan = pipeline.office_form(month_of(asking, unit, tmp_path), None, PREFIX)
    assert plan["ask"] and plan["reason"] == "pre-filled from the unit's previous month"
    assert plan["prefill"] == ANSWER  # the assessment's two paragraphs come back as typed


def test_without_a_stored_month_the_previous_month_s_file_pre_fills(config, unit, tmp_path: Path) -> None:
    asking = with_office(config, tmp_path, ask=True)
    write_file(asking, PERIOD.previous(1).name, unit.code, "inspections:\n  count: 3\nresources: Như tháng trước.\n")
    plan = pipeline.office_form(month_of(asking, unit, tmp_path), None, PREFIX)
    assert plan["prefill"]["office_inspections_count"] == 3 and plan["prefill"]["office_violations"] == 0
    assert plan["prefill"]["office_resources"] == "Như tháng trước."


# ------------------------------------------------------------------------------------------ kept, reused


def test_an_answer_is_validated_kept_in_the_data_root_and_the_warehouse_and_reused(config, unit, tmp_path) -> None:
    asking = with_office(config, tmp_path, ask=True)
    month = month_of(asking, unit, tmp_path)
    out = pipeline.record_inputs(month, None, answered(), "run-1", PREFIX,
                                 now=datetime(2023, 11, 20, 10, tzinfo=UTC))
    assert out["source"] == "form" and out["defaulted"] == [] and out["answered_by"] == CLERK
    assert out["path"] == str(tmp_path / "data" / "inputs" / "2023-11" / "872.json")

    stored = inputs.read_stored(month.files.office_inputs)
    assert stored.inputs == OperatorInputs.model_validate({
        "inspections": {"count": 2, "violations": 1, "findings": ANSWER["office_findings"]},
        "resources": ANSWER["office_resources"],
        "assessment": ["Công tác cải cách được chỉ đạo quyết liệt.", "Kết quả giải quyết hồ sơ ổn định."]})
    assert (stored.source, stored.run_id, stored.answered_at) == ("form", "run-1", "2023-11-20T09:30:00+00:00")
    with warehouse.connected(month.warehouse_url) as engine:
        row = warehouse.office_inputs_row(engine, "2023-11", "872")
    assert row["source"] == "form" and row["answered_by"] == "vpub.thapmuoi" and row["defaulted"] == ""
    assert OperatorInputs.model_validate_json(row["inputs"]) == stored.inputs and row["run_id"] == "run-1"

    # A rerun (or a backfill) does not ask again, and uses what was entered, even with a file written since.
    write_file(asking.model_copy(update={"office_inputs": OfficeInputsConfig(
        defaults=OfficeInputs(ask=True, file_replaces_form=False))}), "2023-11", "872", "resources: Khác.\n")
    filling = asking.model_copy(update={"office_inputs": OfficeInputsConfig(
        defaults=OfficeInputs(ask=True, file_replaces_form=False))})
    again = month_of(filling, unit, tmp_path)
    plan = pipeline.office_form(again, None, PREFIX)
    assert not plan["ask"] and "asked by an earlier run" in plan["reason"]
    rerun = pipeline.record_inputs(again, None, None, "run-2", PREFIX)
    assert rerun["reused"] and rerun["source"] == "form"
    assert inputs.read_stored(month.files.office_inputs).run_id == "run-1"
    assert pipeline.month_inputs(again)[0] == stored.inputs


def test_an_invalid_answer_names_the_unit_and_field_and_is_not_kept(config, unit, tmp_path: Path) -> None:
    month = month_of(with_office(config, tmp_path, ask=True), unit, tmp_path)
    wrong = {**ANSWER, "office_violations": 2, "office_findings": None}
    with pytest.raises(InputsError, match=r"unit 872, period 2023-11 .*field inspections \('Kết quả kiểm tra "
                                          r"và biện pháp xử lý'\).*'findings' must say.*Clear task district"):
        pipeline.record_inputs(month, None, answered(wrong), "run-1", PREFIX)
    assert not month.files.office_inputs.exists()
    assert pipeline.office_form(month, None, PREFIX)["ask"]  # cleared, the form asks again


# ------------------------------------------------------------------------------- nobody answered in time


def document_text(path: Path) -> str:
    with zipfile.ZipFile(path) as docx:
        return docx.read("word/document.xml").decode("utf-8")


def test_a_timed_out_form_goes_on_with_neutral_sentences_and_says_so(config, unit, tmp_path, stored_metrics,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr(report.pdf, "find_soffice", lambda: None)
    asking = with_office(config, tmp_path, ask=True, response_timeout=timedelta(hours=1))
    month = month_of(asking, unit, tmp_path)
    pipeline.record_inputs(month_of(asking, unit, tmp_path, PERIOD.previous(1)), None, answered(), "run-oct", PREFIX)
    # The scheduler took the defaults: the form's values, pre-filled from October. They are not this month's words.
    prefilled = pipeline.office_form(month, None, PREFIX)["prefill"]
    out = pipeline.record_inputs(month, None, answered(prefilled, user=None), "run-1", PREFIX)
    assert out["source"] == "timeout" and out["defaulted"] == list(inputs.REPORT_FIELDS)
    assert any("did not answer the inputs form in time" in w for w in out["warnings"])
    assert pipeline.month_inputs(month)[0] is None

    written = pipeline.write_report(month)
    evidence = json.loads(Path(written["evidence"]).read_text(encoding="utf-8"))
    assert evidence["inputs"]["source"] == "timeout" and evidence["inputs"]["answered_by"] is None
    assert set(evidence["inputs"]["defaulted"]) == set(inputs.REPORT_FIELDS)
    assert evidence["inputs"]["defaulted"]["resources"] == "the template's neutral sentence on resources"
    assert evidence["dossier_metrics"] and evidence["run_id"] == "run-1"  # the metrics evidence, unchanged
    assert any("872: the office did not answer the inputs form in time" in w for w in written["warnings"])
    text = document_text(Path(written["path"]))
    assert ANSWER["office_resources"] not in text and "kiểm điểm, nhắc nhở" not in text

    # A rerun keeps the timeout (not asked again) and the report still says which inputs were defaulted.
    assert not pipeline.office_form(month, None, PREFIX)["ask"]
    assert pipeline.record_inputs(month, None, None, "run-2", PREFIX)["source"] == "timeout"


def test_a_timeout_keeps_what_the_file_gave(config, unit, tmp_path: Path) -> None:
    filling = with_office(config, tmp_path, ask=True, file_replaces_form=False)
    write_file(filling, PERIOD.name, unit.code, "resources: Đủ nguồn lực.\n")
    month = month_of(filling, unit, tmp_path)
    out = pipeline.record_inputs(month, None, answered(pipeline.office_form(month, None, PREFIX)["prefill"], None),
                                 "run-1", PREFIX)
    assert out["source"] == "timeout" and out["defaulted"] == ["inspections", "assessment", "shortcomings"]
    assert pipeline.month_inputs(month)[0] == OperatorInputs(resources="Đủ nguồn lực.")


def test_the_report_of_an_answered_form_says_what_the_office_entered(config, unit, tmp_path, stored_metrics,
                                                                     monkeypatch) -> None:
    monkeypatch.setattr(report.pdf, "find_soffice", lambda: None)
    month = month_of(with_office(config, tmp_path, ask=True), unit, tmp_path)
    pipeline.record_inputs(month, None, answered(), "run-1", PREFIX)
    written = pipeline.write_report(month)
    text = document_text(Path(written["path"]))
    assert ANSWER["office_resources"].removesuffix(".") in text and "kiểm điểm, nhắc nhở" in text
    evidence = json.loads(Path(written["evidence"]).read_text(encoding="utf-8"))
    assert evidence["inputs"]["source"] == "form" and evidence["inputs"]["defaulted"] == {}
    assert evidence["inputs"]["answered_by"] == CLERK
