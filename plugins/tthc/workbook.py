"""The province workbook (.xlsx): every metric of every reporting unit and child unit, and the province total.

Why a workbook beside the consolidated report: the provincial office re-uses the figures (its own
tables, the Government Office's forms), and copying them out of a Word annex is where mistakes
came from. Numbers are written as numbers (counts as integers, rates as percentages with two
decimals), one sheet per level, with the metric's name under each Vietnamese heading so a formula
or a script can find its column. Written with openpyxl; like the reports, the same figures give the
same bytes (fixed document dates, fixed zip entry times).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tthc.metrics import DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS
from tthc.province import Consolidation

# Column headings, in the words of the report's annex (docs/report.md).
LABELS: dict[str, str] = {
    "carried_over": "Kỳ trước chuyển sang",
    "received": "Tiếp nhận mới",
    "received_online": "Trong đó trực tuyến",
    "resolved": "Đã giải quyết",
    "resolved_early": "Trước hạn",
    "resolved_on_time": "Đúng hạn",
    "resolved_late": "Trễ hạn",
    "withdrawn": "Rút hồ sơ",
    "pending": "Đang giải quyết",
    "pending_overdue": "Trong đó quá hạn",
    "digitized_dossiers": "Hồ sơ được số hóa",
    "digitized_results": "Kết quả được số hóa",
    "fee_dossiers": "Hồ sơ có phí, lệ phí",
    "paid_online": "Thanh toán trực tuyến",
    "on_time_rate": "Tỷ lệ đúng hạn (%)",
    "online_rate": "Tỷ lệ tiếp nhận trực tuyến (%)",
    "dossier_digitization_rate": "Tỷ lệ số hóa hồ sơ (%)",
    "result_digitization_rate": "Tỷ lệ số hóa kết quả (%)",
    "online_payment_rate": "Tỷ lệ thanh toán trực tuyến (%)",
    "feedback_received": "Phản ánh tiếp nhận",
    "feedback_about_procedures": "Trong đó về thủ tục hành chính",
    "feedback_answered_on_time": "Trả lời đúng hạn",
    "feedback_answered_late": "Trả lời trễ hạn",
    "feedback_overdue": "Chưa trả lời, quá hạn",
    "feedback_in_progress": "Đang giải quyết, trong hạn",
    "feedback_rejected": "Từ chối tiếp nhận",
    "feedback_late": "Chậm trả lời",
}
DOSSIER_COLUMNS = (*DOSSIER_COUNTS, *DOSSIER_RATES)
UNIT_SHEET = "Đơn vị báo cáo"
CHILD_SHEET = "Đơn vị cấp xã"
RATE_FORMAT = "0.00"
NO_DOSSIER = {**dict.fromkeys(DOSSIER_COUNTS, 0), **dict.fromkeys(DOSSIER_RATES)}


def _heading(sheet: Any, fixed: list[tuple[str, str]], metrics: tuple[str, ...]) -> None:
    """Two heading rows: the Vietnamese heading, and under it the metric's name (``docs/metrics.md``)."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet.append([label for label, _ in fixed] + [LABELS[name] for name in metrics])
    sheet.append([key for _, key in fixed] + list(metrics))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="666666")
    sheet.freeze_panes = f"{get_column_letter(len(fixed) + 1)}3"  # a name: sheet.cell() would create a row


def _values(row: Mapping[str, Any] | None, metrics: tuple[str, ...]) -> list[Any]:
    """Counts as int, rates as Decimal (a number in the sheet), a rate with no case as an empty cell."""
    if row is None:
        return [None] * len(metrics)
    return [int(row[name]) if name not in DOSSIER_RATES else row[name] for name in metrics]


def _format_rates(sheet: Any, first_column: int, metrics: tuple[str, ...]) -> None:
    for offset, name in enumerate(metrics):
        if name in DOSSIER_RATES:
            for (cell,) in sheet.iter_rows(min_row=3, min_col=first_column + offset, max_col=first_column + offset):
                cell.number_format = RATE_FORMAT


def _unit_sheet(sheet: Any, consolidation: Consolidation) -> None:
    metrics = (*DOSSIER_COLUMNS, *FEEDBACK_COUNTS)
    fixed = [("STT", "stt"), ("Mã đơn vị", "unit_code"), ("Tên đơn vị", "unit_name"), ("Có báo cáo", "reported")]
    _heading(sheet, fixed, metrics)
    months = {month.unit.code: month for month in consolidation.months}
    for i, unit in enumerate(consolidation.units, start=1):
        month = months.get(unit.code)
        row = {**month.levels["tong"], **month.feedback} if month else None
        sheet.append([i, unit.code, unit.name, "Có" if month else "Chưa", *_values(row, metrics)])
    total = {**consolidation.levels["tong"], **consolidation.feedback}
    label = f"Toàn {consolidation.province.kind}" + ("" if consolidation.complete else " (chưa đủ đơn vị)")
    reported = f"{len(months)}/{len(consolidation.units)}"
    sheet.append([None, consolidation.province.code, label, reported, *_values(total, metrics)])
    _format_rates(sheet, len(fixed) + 1, metrics)


def _child_sheet(sheet: Any, consolidation: Consolidation) -> None:
    fixed = [("Mã đơn vị báo cáo", "reporting_unit_code"), ("Đơn vị báo cáo", "reporting_unit_name"),
             ("Mã đơn vị", "unit_code"), ("Tên đơn vị", "unit_name")]
    _heading(sheet, fixed, DOSSIER_COLUMNS)
    for month in consolidation.months:
        rows = {str(row["unit_code"]): row for row in month.children}
        for child in month.unit.children:
            figures = _values(rows.get(child.code) or NO_DOSSIER, DOSSIER_COLUMNS)
            sheet.append([month.unit.code, month.unit.name, child.code, child.name, *figures])
    _format_rates(sheet, len(fixed) + 1, DOSSIER_COLUMNS)


def workbook_bytes(consolidation: Consolidation) -> bytes:
    """The workbook of ``consolidation``: the units' sheet, and the child units' sheet when units have children.

    A child unit without a row of its own (no dossier at its desk) is written with zero counts and no
    rate, as in the unit's report.
    """
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    from tthc.report.document import normalise_package

    book = Workbook()
    sheet = book.active
    sheet.title = UNIT_SHEET
    _unit_sheet(sheet, consolidation)
    if any(unit.children for unit in consolidation.units):
        _child_sheet(book.create_sheet(CHILD_SHEET), consolidation)
    moment = datetime.combine(consolidation.period.end_date, datetime.min.time())
    book.properties.created = book.properties.modified = moment
    book.properties.creator = book.properties.lastModifiedBy = f"Ủy ban nhân dân {consolidation.province.name}"
    book.properties.title = f"Tổng hợp kết quả giải quyết thủ tục hành chính tháng {consolidation.period.name}"
    buffer = io.BytesIO()
    # openpyxl's Workbook.save stamps the "modified" property with now; its writer, used directly, keeps ours.
    with ZipFile(buffer, "w", ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    return normalise_package(buffer.getvalue(), moment)
