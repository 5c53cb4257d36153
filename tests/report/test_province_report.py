"""The province's consolidated report: sums of the units' rows, rates from the sums, missing units named."""

from __future__ import annotations

import time
from decimal import Decimal

import docx
import pytest
from model_data import MODEL_FEEDBACK, PERIOD, ROOT, make_row
from test_report_wording import OFFERED_UNUSED, context_paths, template_paths

from tthc.config import Targets
from tthc.metrics import DOSSIER_COUNTS, FEEDBACK_COUNTS, rate
from tthc.province import consolidate, summed_row, unit_month
from tthc.report import render_report
from tthc.report.province import build_province_context
from tthc.units import ReportingUnit

PROVINCE_TEMPLATE = ROOT / "include" / "templates" / "tong-hop-thang.docx"


def counts(i: int) -> dict[str, int]:
    """Different sizes per unit, so that the mean of the units' rates is not the province's rate."""
    resolved = 20 + 30 * i
    late = i % 3
    return {"received": 40 + 25 * i, "received_online": 10 + 12 * i, "carried_over": i, "resolved": resolved,
            "resolved_early": resolved // 2, "resolved_on_time": resolved - resolved // 2 - late,
            "resolved_late": late, "withdrawn": 0, "pending": 5 + i, "pending_overdue": 1 if i == 4 else 0,
            "digitized_dossiers": 40 + 25 * i, "digitized_results": resolved - i, "fee_dossiers": 10 + i,
            "paid_online": 2 + (i * 7) % 9}


def months_for(units, skip=()):
    months = {}
    for i, unit in enumerate(units):
        if unit.code in skip:
            continue
        own, communes = counts(i), counts(i + 3)
        tong = {k: own[k] + communes[k] for k in DOSSIER_COUNTS}
        rows = [make_row("huyen", unit.code, own, unit.code), make_row("xa", unit.code, communes, unit.code),
                make_row("tong", unit.code, tong, unit.code)]
        feedback = dict(MODEL_FEEDBACK, district_code=unit.code, feedback_received=i, feedback_answered_on_time=i,
                        feedback_about_procedures=i // 2)
        months[unit.code] = unit_month(unit, rows, feedback)
    return months


@pytest.fixture(scope="module")
def units(config):
    return config.hierarchy_for("2023-11").reporting_units


def test_the_province_figures_are_sums_and_rates_come_from_the_sums(config, units):
    months = months_for(units)
    result = consolidate(config.hierarchy_for("2023-11").province, PERIOD, units, months)
    for level in ("huyen", "xa", "tong"):
        for name in DOSSIER_COUNTS:
            assert result.levels[level][name] == sum(m.levels[level][name] for m in months.values())
    total = result.levels["tong"]
    assert total["on_time_rate"] == rate(total["resolved_early"] + total["resolved_on_time"], total["resolved"])
    mean = sum(m.levels["tong"]["on_time_rate"] for m in months.values()) / len(months)
    assert total["on_time_rate"] != mean.quantize(Decimal("0.01")), "the fixture must tell a sum from a mean"
    for name in FEEDBACK_COUNTS:
        assert result.feedback[name] == sum(m.feedback[name] for m in months.values())
    assert result.complete and result.missing == ()


def test_a_unit_of_another_hierarchy_is_refused(config, units):
    stranger = ReportingUnit(code="30280", name="Phường An Bình", short_name="An Bình", kind="phường")
    with pytest.raises(ValueError, match="30280 are not reporting units"):
        consolidate(config.hierarchy_for("2023-11").province, PERIOD, units, months_for([stranger]))


def text_of(path) -> tuple[str, str]:
    """(the letter's paragraphs, the annex and every table), as a reader sees them."""
    document = docx.Document(str(path))
    paragraphs = "\n".join(p.text for p in document.paragraphs)
    tables = "\n".join(p.text for t in document.tables for row in t.rows for c in row.cells for p in c.paragraphs)
    letter, annex = paragraphs.split("\nPhụ lục\n")
    return letter, annex + "\n" + tables


def test_a_partial_province_names_its_missing_units_and_leaves_them_out(config, units, tmp_path):
    missing = units[3]
    months = months_for(units, skip={missing.code})
    result = consolidate(config.hierarchy_for("2023-11").province, PERIOD, units, months)
    assert result.missing == (missing,)
    context, warnings = build_province_context(result, config.province_report_settings(PERIOD.name), config.targets)
    assert any(missing.code in w for w in warnings)
    letter, annex = text_of(render_report(PROVINCE_TEMPLATE, context, tmp_path / "p.docx"))
    assert "của 11/12 đơn vị (huyện, thành phố) đã có báo cáo trên địa bàn tỉnh" in letter
    assert f"Đến thời điểm tổng hợp, 01 đơn vị chưa có báo cáo tháng 11/2023: {missing.name}" in letter
    assert f"{missing.name} (chưa có báo cáo)" in annex
    received = sum(m.levels["tong"]["received"] for m in months.values())
    assert f"các đơn vị tiếp nhận mới {received:,}".replace(",", ".") in letter


def test_the_consolidated_report_reads_as_the_province_s(config, units, tmp_path):
    result = consolidate(config.hierarchy_for("2023-11").province, PERIOD, units, months_for(units))
    context, _ = build_province_context(result, config.province_report_settings(PERIOD.name), config.targets)
    letter, annex = text_of(render_report(PROVINCE_TEMPLATE, context, tmp_path / "p.docx"))
    assert letter.startswith("BÁO CÁO\nTổng hợp kết quả triển khai thực hiện Công điện 644/CĐ-TTg")
    assert "Kính gửi: Văn phòng Chính phủ" in letter
    assert "của 12 đơn vị (huyện, thành phố) trên địa bàn tỉnh" in letter
    assert "- Tỷ lệ số hóa hồ sơ trong giải quyết thủ tục hành chính cấp huyện, cấp xã đạt tỷ lệ 100%" in letter
    assert "Trên đây là Báo cáo tổng hợp kết quả thực hiện" in letter and "Ủy ban nhân dân tỉnh Đồng Tháp./." in letter
    assert "chưa có báo cáo" not in letter + annex
    for unit in units:
        assert unit.name in annex
    assert "Tổng cộng" in annex and "TỈNH ĐỒNG THÁP" in annex  # the issuing body, in the header table
    below = [u.name for u, m in zip(units, months_for(units).values(), strict=True)
             if m.levels["tong"]["online_payment_rate"] < Decimal(50)]
    assert below and f"thấp hơn chỉ tiêu 50% tại {len(below):02d} đơn vị: {below[0]} (" in letter


def test_units_reporting_for_themselves_give_one_level(config, tmp_path):
    wards = tuple(ReportingUnit(code=f"3028{i}", name=f"Phường {i}", short_name=str(i), kind="phường")
                  for i in range(3))
    months = months_for(wards)
    result = consolidate(config.hierarchy_for("2023-11").province, PERIOD, wards, months)
    context, _ = build_province_context(result, config.province_report_settings(PERIOD.name), config.targets)
    letter, _ = text_of(render_report(PROVINCE_TEMPLATE, context, tmp_path / "p.docx"))
    assert "của 03 đơn vị (phường) trên địa bàn tỉnh" in letter
    assert "- Tỷ lệ số hóa hồ sơ trong giải quyết thủ tục hành chính đạt 100%;" in letter
    assert "cấp huyện" not in letter


def test_province_template_and_context_agree_at_every_depth(config, units):
    months = months_for(units, skip={units[0].code})
    late = months[units[1].code]
    months[units[1].code] = unit_month(late.unit, late.levels.values(), dict(late.feedback, feedback_late=1))
    context, _ = build_province_context(consolidate(config.hierarchy_for("2023-11").province, PERIOD, units, months),
                                        config.province_report_settings(PERIOD.name),
                                        Targets(on_time_rate=100, online_payment_rate=100))
    assert all(context["shortcomings"][key] for key in ("on_time", "online_payment", "pending_overdue",
                                                          "feedback_late")), "every shortcoming must be exercised"
    used = template_paths(PROVINCE_TEMPLATE)
    paths, leaves = context_paths(context)
    assert used - paths == set()
    # Every province figure is offered (``total.*``) though the bundled sentences write only some.
    assert {leaf for leaf in leaves - used if not OFFERED_UNUSED.match(leaf) and not leaf.startswith("total.")} \
        == set()


def test_summed_row_of_nothing_has_no_rate():
    row = summed_row([])
    assert row["received"] == 0 and row["on_time_rate"] is None


def read_sheet(data: bytes, title: str) -> list[dict]:
    """A sheet as dicts keyed by the metric names of its second heading row."""
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data))[title]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[1], values, strict=True)) for values in rows[2:]]


def test_the_workbook_reads_back_as_the_warehouse_rows(config, units):
    from tthc.workbook import CHILD_SHEET, UNIT_SHEET, workbook_bytes

    missing = units[5]
    months = months_for(units, skip={missing.code})
    commune = units[0].children[0]
    first = months[units[0].code]
    months[units[0].code] = unit_month(first.unit, [*first.levels.values(),
                                                    make_row("commune", commune.code, counts(7), units[0].code)],
                                       first.feedback)
    result = consolidate(config.hierarchy_for("2023-11").province, PERIOD, units, months)
    data = workbook_bytes(result)
    time.sleep(1.1)  # a timestamp of "now" would differ by then
    assert data == workbook_bytes(result), "the same figures must give the same bytes"
    rows = read_sheet(data, UNIT_SHEET)
    assert [r["unit_code"] for r in rows] == [u.code for u in units] + [config.hierarchy_for("2023-11").province.code]
    for row in rows[:-1]:
        month = months.get(row["unit_code"])
        if month is None:
            assert row["reported"] == "Chưa" and row["received"] is None
            continue
        for name in DOSSIER_COUNTS:
            assert row[name] == month.levels["tong"][name] and isinstance(row[name], int)
        assert row["on_time_rate"] == pytest.approx(float(month.levels["tong"]["on_time_rate"]))
        for name in FEEDBACK_COUNTS:
            assert row[name] == month.feedback[name]
    total = rows[-1]
    assert total["unit_name"] == "Toàn tỉnh (chưa đủ đơn vị)" and total["reported"] == "11/12"
    for name in DOSSIER_COUNTS:
        assert total[name] == sum(m.levels["tong"][name] for m in months.values())
    children = read_sheet(data, CHILD_SHEET)
    assert len(children) == sum(len(m.unit.children) for m in months.values())
    mine = next(r for r in children if r["unit_code"] == commune.code)
    assert mine["received"] == counts(7)["received"] and mine["reporting_unit_code"] == units[0].code
    other = next(r for r in children if r["unit_code"] == units[0].children[1].code)
    assert other["received"] == 0 and other["on_time_rate"] is None  # no row: no dossier, no rate
