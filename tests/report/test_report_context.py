"""Wording that follows the data, the unit and the inputs; warnings; rows that must not be mixed up."""

from __future__ import annotations

import copy
from decimal import Decimal

import docx
import pytest
from model_data import MODEL_FEEDBACK, PERIOD, TEMPLATE, make_row, model_rows

from tthc.inputs import OperatorInputs, load_inputs
from tthc.report import build_context, render_report
from tthc.units import ReportingUnit


def _counts(row: dict) -> dict:
    return {k: v for k, v in row.items() if isinstance(v, int) and not isinstance(v, bool)}


def context_for(config, code="872", rows=None, feedback=None, inputs="file", history=None, settings=None,
                targets=None):  # fmt: skip
    unit = config.hierarchy_for("2023-11").get(code)
    if inputs == "file":
        inputs, _ = load_inputs(config.inputs_path, PERIOD.name, "872")
    if rows is None:
        rows = [dict(r, district_code=code, unit_code=code if r["level"] != "commune" else r["unit_code"])
                for r in model_rows(config) if r["level"] != "commune"]
        rows += [make_row("commune", child.code, _counts(model_rows(config)[3]), district=code)
                 for child in unit.children]
    return build_context(
        unit=unit,
        province=config.hierarchy_for("2023-11").province,
        settings=settings or config.report_settings(code, PERIOD.name),
        targets=targets or config.targets,
        period=PERIOD,
        dossier_rows=rows,
        feedback=dict(feedback or MODEL_FEEDBACK, district_code=code),
        inputs=inputs,
        history=history,
    )


def body_text(context, tmp_path) -> str:
    out = render_report(TEMPLATE, context, tmp_path / "r.docx")
    document = docx.Document(out)
    return "\n".join(p.text for p in document.paragraphs) + "\n" + "\n".join(
        p.text for t in document.tables for row in t.rows for c in row.cells for p in c.paragraphs
    )


def with_rates(rows, level, **rates):
    rows = copy.deepcopy(rows)
    for row in rows:
        if row["level"] == level:
            row.update({k: None if v is None else Decimal(v) for k, v in rates.items()})
    return rows


def test_city_wording_follows_the_unit_and_its_children(config, tmp_path):
    context, _ = context_for(config, code="866", inputs=None)  # Thành phố Cao Lãnh: phường and xã
    assert context["unit"]["children_kinds"] == "phường, xã"
    assert context["digitization"]["dossier"].startswith("cấp thành phố")
    text = body_text(context, tmp_path)
    assert "THÀNH PHỐ CAO LÃNH" in text and "Cao Lãnh, ngày" in text
    assert "UBND thành phố thường xuyên chỉ đạo Bộ phận Một cửa thành phố và các phường, xã" in text
    assert "Ủy ban nhân dân thành phố Cao Lãnh./." in text
    assert "- CT, các PCT.UBND thành phố;" in text
    assert "huyện" not in text.split("Phụ lục")[0]  # no district wording left


def test_rates_absent_or_equal(config, tmp_path):
    rows = with_rates(model_rows(config), "huyen", result_digitization_rate=None)
    rows = with_rates(rows, "xa", dossier_digitization_rate="98.5")
    context, _ = context_for(config, rows=rows)
    text = body_text(context, tmp_path)
    assert ("tỷ lệ số hóa hồ sơ trong giải quyết thủ tục hành chính cấp huyện đạt 100%, cấp xã đạt 98,50%; "
            "tỷ lệ số hóa kết quả giải quyết thủ tục hành chính cấp huyện không phát sinh, cấp xã đạt 55,49%.") in text
    rows = with_rates(model_rows(config), "xa", result_digitization_rate="71.26")
    context, _ = context_for(config, rows=rows)
    assert "tỷ lệ số hóa kết quả giải quyết thủ tục hành chính cấp huyện, cấp xã đạt tỷ lệ 71,26%." in body_text(
        context, tmp_path
    )


def test_shortcomings_from_the_data_in_order(config, tmp_path):
    rows = with_rates(model_rows(config), "tong", on_time_rate="90.12", online_payment_rate="60",
                      dossier_digitization_rate="99.5")  # fmt: skip
    for row in rows:
        if row["level"] == "tong":
            row["pending_overdue"] = 3
    feedback = dict(MODEL_FEEDBACK, feedback_answered_late=1, feedback_overdue=1, feedback_late=2,
                    feedback_about_procedures=2)  # fmt: skip
    inputs = OperatorInputs(shortcomings=["Một số xã chưa bố trí đủ máy quét"])
    context, _ = context_for(config, rows=rows, feedback=feedback, inputs=inputs)
    shortcomings = context["shortcomings"]
    assert shortcomings["first"] == "on_time" and shortcomings["online_payment"] is None
    text = body_text(context, tmp_path)
    assert "Tuy nhiên, tỷ lệ hồ sơ giải quyết đúng hạn đạt 90,12%, thấp hơn chỉ tiêu 95%; trong tháng còn 07 hồ sơ" in (
        text
    )
    assert "\nTỷ lệ số hóa hồ sơ trong giải quyết thủ tục hành chính đạt 99,50%, chưa đạt chỉ tiêu 100%." in text
    assert "\nCòn 02 phản ánh, kiến nghị qua Tổng đài 1022 chậm trả lời." in text
    assert "\nCòn 03 hồ sơ đang giải quyết đã quá hạn" in text
    assert "\nMột số xã chưa bố trí đủ máy quét." in text
    assert "thanh toán phí, lệ phí trực tuyến" not in text
    assert "đạt kết quả cao" not in text  # digitization below its target
    assert "được UBND huyện quan tâm giải quyết." in text
    assert ("(có 02 phản ánh về thực hiện thủ tục hành chính), các ngành huyện đã chủ động phối hợp tham mưu UBND "
            "huyện giải quyết, còn 02 trường hợp chậm trễ trong việc trả lời phản ánh, kiến nghị.") in text


def test_no_shortcoming_without_target(config):
    targets = config.targets.model_copy(update={"online_payment_rate": None})
    context, _ = context_for(config, targets=targets)
    assert context["shortcomings"]["first"] is None


def test_no_feedback_received(config, tmp_path):
    feedback = dict(MODEL_FEEDBACK, feedback_received=0, feedback_answered_on_time=0)
    text = body_text(context_for(config, feedback=feedback)[0], tmp_path)
    assert "Trong tháng, không tiếp nhận phản ánh nào qua Tổng đài 1022." in text


def test_violations_found(config, tmp_path):
    inputs = OperatorInputs.model_validate(
        {"inspections": {"count": 3, "violations": 1, "findings": "đã nhắc nhở, chấn chỉnh 01 công chức xã"}}
    )
    text = body_text(context_for(config, inputs=inputs)[0], tmp_path)
    assert ("Trong tháng, đã tiến hành 03 cuộc kiểm tra. Qua kiểm tra, phát hiện 01 trường hợp nhũng nhiễu hoặc tự "
            "đặt thêm quy định trong giải quyết thủ tục hành chính: đã nhắc nhở, chấn chỉnh 01 công chức xã.") in text
    assert "chưa phát hiện" not in text


def test_without_inputs_or_signer_the_report_is_a_neutral_draft(config, tmp_path):
    settings = config.report_settings("873", PERIOD.name)  # no signer name configured
    rows = [dict(r, district_code="873", unit_code="873") for r in model_rows(config) if r["level"] != "commune"]
    context, warnings = context_for(config, code="873", rows=rows, inputs=None, settings=settings)
    assert any("no operator inputs" in w for w in warnings)
    assert any("no signer" in w for w in warnings)
    assert any("no dossier rows for communes" in w for w in warnings)
    text = body_text(context, tmp_path)
    assert "chưa phát hiện" not in text  # nothing is claimed about inspections without inputs
    assert "- Các nguồn lực cho công tác kiểm soát thủ tục hành chính tại các cơ quan, đơn vị tiếp tục" in text
    assert "kết quả tiếp nhận, giải quyết thủ tục hành chính được tổng hợp tại Phụ lục kèm theo." in text
    assert context["signer"]["name"] == ""
    assert context["annex"]["communes"][0]["received"] == "00"
    assert context["annex"]["communes"][0]["on_time_rate"] == "—"


def test_partial_inputs_warn_field_by_field(config):
    _, warnings = context_for(config, inputs=OperatorInputs(resources="Đủ."))
    assert any("no inspections" in w for w in warnings) and any("no general assessment" in w for w in warnings)


def test_month_over_month_change_and_trend_chart(config, tmp_path):
    rows = model_rows(config)
    total = next(r for r in rows if r["level"] == "tong")
    history = []
    for back in range(13, 0, -1):
        earlier = PERIOD.previous(back)
        counts = dict(_counts(total), received=total["received"] - 10 * back)
        history.append(make_row("tong", "872", counts, period=earlier.name))
    history[-1]["on_time_rate"] = Decimal("99.70")
    history[-1]["result_digitization_rate"] = Decimal("60.00")
    context, warnings = context_for(config, rows=rows, history=history)
    assert warnings == []
    text = body_text(context, tmp_path)
    assert ("So với tháng 10/2023, số hồ sơ tiếp nhận tăng 10 hồ sơ (từ 2.430 lên 2.440); tỷ lệ giải quyết đúng hạn "
            "không thay đổi (99,70%); tỷ lệ số hóa kết quả giải quyết giảm 1,55 điểm phần trăm (từ 60% xuống "
            "58,45%).") in text
    plain, _ = context_for(config, rows=rows)
    assert context["chart"] != plain["chart"]  # the trend panel is drawn


def test_history_without_previous_period_warns(config):
    total = next(r for r in model_rows(config) if r["level"] == "tong")
    old = make_row("tong", "872", _counts(total), period=PERIOD.previous(3).name)
    context, warnings = context_for(config, history=[old])
    assert context["change"] is None and any("2023-10" in w for w in warnings)


def test_rows_of_another_district_or_period_or_missing_level_fail(config):
    rows = model_rows(config)
    with pytest.raises(ValueError, match="belongs to district 873"):
        context_for(config, rows=[*rows[:-1], dict(rows[-1], district_code="873")])
    with pytest.raises(ValueError, match="period 2023-10"):
        context_for(config, rows=[*rows[:-1], dict(rows[-1], period="2023-10")])
    with pytest.raises(ValueError, match="no dossier rows of level xa"):
        context_for(config, rows=[r for r in rows if r["level"] != "xa"])
    with pytest.raises(ValueError, match="two dossier rows"):
        context_for(config, rows=[*rows, rows[0]])
    with pytest.raises(ValueError, match="feedback metrics lack"):
        context_for(config, feedback={k: v for k, v in MODEL_FEEDBACK.items() if k != "feedback_late"})


def test_unknown_commune_rows_are_ignored_with_a_warning(config):
    rows = [*model_rows(config), make_row("commune", "99999", _counts(model_rows(config)[3]))]
    context, warnings = context_for(config, rows=rows)
    assert any("99999" in w for w in warnings)
    assert len(context["annex"]["communes"]) == len(config.hierarchy_for("2023-11").get("872").children)


def ward_context(config, history=None):
    """A ward reporting for itself (no unit under it, as after the 2025 reform), with the model's district figures."""
    ward = ReportingUnit(code="30280", name="Phường An Bình", short_name="An Bình", kind="phường")
    own = _counts(model_rows(config)[0])  # the model district's own desk
    rows = [make_row("huyen", ward.code, own, district=ward.code),
            make_row("xa", ward.code, dict.fromkeys(own, 0), district=ward.code),
            make_row("tong", ward.code, own, district=ward.code)]
    settings = config.report_settings("872", PERIOD.name).model_copy(
        update={"inspection_lead": "Văn phòng HĐND và UBND phường", "distribution": ["Như trên"]})
    return build_context(unit=ward, province=config.hierarchy_for(PERIOD).province, settings=settings,
                         targets=config.targets,
                         period=PERIOD, dossier_rows=rows, feedback=dict(MODEL_FEEDBACK, district_code=ward.code),
                         inputs=None, history=history)


def test_a_unit_reporting_for_itself_speaks_of_its_own_desk_only(config, tmp_path):
    context, _ = ward_context(config)
    text = body_text(context, tmp_path)
    assert "UBND phường thường xuyên chỉ đạo Bộ phận Một cửa phường thực hiện nghiêm quy trình" in text
    assert "tỷ lệ số hóa hồ sơ trong giải quyết thủ tục hành chính đạt 100%; tỷ lệ số hóa kết quả giải quyết thủ " \
           "tục hành chính đạt 71,26%." in text
    assert "Giao Văn phòng HĐND và UBND phường làm Trưởng đoàn kiểm tra công vụ tại các bộ phận thuộc Ủy ban " \
           "nhân dân phường và thường xuyên" in text
    assert "các bộ phận chuyên môn của Ủy ban nhân dân phường đã chủ động phối hợp" in text
    letter, annex = text.split("\nPhụ lục\n")  # the annex heading; its tables are read after every paragraph
    assert "xã" not in letter, "commune wording in a ward's own report"
    assert "Phường An Bình" in annex and "Cấp xã" not in annex and "Tổng cộng" not in annex
    assert context["chart"] is None and "Biểu đồ" not in annex  # no commune to draw, no earlier month


def test_a_unit_reporting_for_itself_charts_its_trend_alone(config, tmp_path):
    earlier = make_row("tong", "30280", _counts(model_rows(config)[0]), district="30280",
                       period=PERIOD.previous().name)
    context, _ = ward_context(config, history=[earlier])
    assert context["chart"] and context["change"]
    assert "Biểu đồ" in body_text(context, tmp_path).split("\nPhụ lục\n")[1]
