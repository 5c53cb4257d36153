"""docs/metrics.md written again, independently and plainly, over the simulator's own records.

Why a second implementation: the end-to-end test must not check the pipeline's numbers against
the pipeline's own code. This one uses no pandas and none of ``tthc.metrics``, only the
definitions' words, applied to the full records the simulator generated.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _t(value: str | None) -> datetime | None:
    return None if value is None else datetime.strptime(value, "%Y%m%d%H%M%S")


def _pct(num: int, den: int) -> Decimal | None:
    if den == 0:
        return None
    return (Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def dossier_counts(records: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Any]:
    """Counts and rates over records (naive local start/end)."""
    c = dict.fromkeys(("received", "received_online", "carried_over", "resolved", "resolved_early",
                       "resolved_on_time", "resolved_late", "withdrawn", "pending", "pending_overdue",
                       "digitized_dossiers", "digitized_results", "fee_dossiers", "paid_online"), 0)
    for r in records:
        status, got = r["TrangThaiHoSo"], _t(r["NgayTiepNhan"])
        due, done = _t(r["NgayHenTra"]), _t(r["NgayKetThucXuLy"])
        accepted = status not in (1, 3)
        if accepted and start <= got < end:
            c["received"] += 1
            c["received_online"] += r["KenhThucHien"] == 2
            c["digitized_dossiers"] += r["SoHoaHoSo"] is True
            fee = r["LePhi"]
            if fee is not None and fee["SoTien"] > 0:
                c["fee_dossiers"] += 1
                c["paid_online"] += fee["ThanhToanTrucTuyen"] is True
        if accepted and got < start and (done is None or done >= start):
            c["carried_over"] += 1
        if status in (9, 10) and done is not None and start <= done < end:
            c["resolved"] += 1
            c["digitized_results"] += r["SoHoaKetQua"] is True
            if done.date() < due.date():
                c["resolved_early"] += 1
            elif done <= due:
                c["resolved_on_time"] += 1
            if done > due:
                c["resolved_late"] += 1
        if status in (7, 8) and done is not None and start <= done < end:
            c["withdrawn"] += 1
        if accepted and got < end and (done is None or done >= end):
            c["pending"] += 1
            c["pending_overdue"] += due is not None and due < end
    c["on_time_rate"] = _pct(c["resolved_early"] + c["resolved_on_time"], c["resolved"])
    c["online_rate"] = _pct(c["received_online"], c["received"])
    c["dossier_digitization_rate"] = _pct(c["digitized_dossiers"], c["received"])
    c["result_digitization_rate"] = _pct(c["digitized_results"], c["resolved"])
    c["online_payment_rate"] = _pct(c["paid_online"], c["fee_dossiers"])
    return c


def feedback_counts(items: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, int]:
    """Feedback counts over items (aware local start/end)."""
    c = dict.fromkeys(("feedback_received", "feedback_about_procedures", "feedback_answered_on_time",
                       "feedback_answered_late", "feedback_overdue", "feedback_in_progress", "feedback_rejected",
                       "feedback_late"), 0)
    for f in items:
        if not start <= datetime.fromisoformat(f["received_at"]) < end:
            continue
        due = datetime.fromisoformat(f["due_at"])
        c["feedback_received"] += 1
        c["feedback_about_procedures"] += f["category"] == "thu_tuc_hanh_chinh"
        if f["status"] == "answered":
            late = datetime.fromisoformat(f["answered_at"]) > due
            c["feedback_answered_late"] += late
            c["feedback_answered_on_time"] += not late
        elif f["status"] == "rejected":
            c["feedback_rejected"] += 1
        elif due < end:
            c["feedback_overdue"] += 1
        else:
            c["feedback_in_progress"] += 1
    c["feedback_late"] = c["feedback_answered_late"] + c["feedback_overdue"]
    return c


def expected_from_simulator(unit: Any, start: datetime, end: datetime) -> tuple[dict[tuple[str, str], dict[str, Any]],
                                                                                dict[str, int]]:
    """The unit's warehouse rows for the period ``[start, end)`` (aware, local), from the simulator's own records.

    Keys as the warehouse's: ``(level, unit code)`` with levels ``huyen``, ``xa``, ``tong`` (the unit's
    code) and ``commune`` (each child's code); the second value is the feedback counts.
    """
    from simulator.data import dossiers_in_window, feedback_in_window

    records = dossiers_in_window(unit.code, start.date(), end.date())
    naive_start, naive_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_unit.setdefault(record["MaDonVi"], []).append(record)
    children = [c.code for c in unit.children]
    rows = {
        ("huyen", unit.code): dossier_counts(by_unit.get(unit.code, []), naive_start, naive_end),
        ("xa", unit.code): dossier_counts([r for c in children for r in by_unit.get(c, [])], naive_start, naive_end),
        ("tong", unit.code): dossier_counts(records, naive_start, naive_end),
    }
    rows |= {("commune", c): dossier_counts(by_unit.get(c, []), naive_start, naive_end) for c in children}
    return rows, feedback_counts(feedback_in_window(unit.code, start.date(), end.date()), start, end)

