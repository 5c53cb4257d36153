"""The month's metrics, exactly as ``docs/metrics.md`` defines them, from the landed records.

Why flags first, counts second: each count is the number of records for which one boolean
definition holds. Keeping those booleans per record (``dossier_flags``) lets the report's evidence
name the records behind every figure, and lets every level (district desk, communes, each commune,
total) be a plain sum of the same flags, so the levels can never disagree. Rates are computed from
the exact integer counts with integer arithmetic and rounded half-up once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tthc.periods import Period
from tthc.records import HOTLINE, ONE_STOP
from tthc.timeparse import parse_compact_column, parse_iso_column
from tthc.units import ReportingUnit

if TYPE_CHECKING:
    import pandas as pd

DOSSIER_COUNTS: tuple[str, ...] = (
    "received",
    "received_online",
    "carried_over",
    "resolved",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "withdrawn",
    "pending",
    "pending_overdue",
    "digitized_dossiers",
    "digitized_results",
    "fee_dossiers",
    "paid_online",
)
# rate -> (numerator counts, denominator count)
DOSSIER_RATES: dict[str, tuple[tuple[str, ...], str]] = {
    "on_time_rate": (("resolved_early", "resolved_on_time"), "resolved"),
    "online_rate": (("received_online",), "received"),
    "dossier_digitization_rate": (("digitized_dossiers",), "received"),
    "result_digitization_rate": (("digitized_results",), "resolved"),
    "online_payment_rate": (("paid_online",), "fee_dossiers"),
}
FEEDBACK_COUNTS: tuple[str, ...] = (
    "feedback_received",
    "feedback_about_procedures",
    "feedback_answered_on_time",
    "feedback_answered_late",
    "feedback_overdue",
    "feedback_in_progress",
    "feedback_rejected",
    "feedback_late",
)
LEVELS = ("huyen", "xa", "tong", "commune")
ACCEPTED_EXCLUDED = (1, 3)  # registered online but not accepted; refused at intake
RESOLVED_STATUSES = (9, 10)
WITHDRAWN_STATUSES = (7, 8)
PROCEDURE_CATEGORY = "thu_tuc_hanh_chinh"


class DataError(ValueError):
    """Source data that cannot give a true number: names the system, the records and what to fix."""


def rate(numerator: int, denominator: int) -> Decimal | None:
    """``numerator / denominator`` in percent, rounded half-up to two decimals; None when nothing arose.

    Integer arithmetic: ``round_half_up(n * 10000 / d)`` hundredths of a percent, exactly.
    """
    if denominator == 0:
        return None
    if numerator < 0 or numerator > denominator:
        raise DataError(f"rate {numerator}/{denominator}: a part cannot exceed its whole")
    hundredths = (2 * numerator * 10000 + denominator) // (2 * denominator)
    return Decimal(hundredths).scaleb(-2)


def _ids(frame: pd.DataFrame, mask: pd.Series, id_col: str, limit: int = 5) -> str:
    ids = frame.loc[mask, id_col].astype(str).tolist()
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _parse(frame: pd.DataFrame, column: str, id_column: str, system: str, parse: Any, fmt: str) -> pd.Series:
    """Parse one time column at once with the source's strict parser (``tthc.timeparse``); a malformed value
    is a DataError naming the records."""
    times, valid = parse(frame[column])
    if not valid.all():
        bad = frame.loc[~valid.to_numpy(), id_column].astype(str).tolist()
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DataError(f"{system}: {len(bad)} record(s) with a {column} that is not {fmt} "
                        f"(e.g. {', '.join(bad[:5])}{more}); correct them in the source system and rerun")
    return times


def _parse_compact(frame: pd.DataFrame, column: str) -> pd.Series:
    return _parse(frame, column, "MaHoSo", ONE_STOP, parse_compact_column, "yyyyMMddHHmmss")


def _parse_iso(frame: pd.DataFrame, column: str) -> pd.Series:
    return _parse(frame, column, "id", HOTLINE, parse_iso_column, "ISO 8601 with an offset")


def _flag(series: pd.Series) -> pd.Series:
    """A nullable boolean column as plain bool, null counting as false."""
    return series.astype("boolean").fillna(False).astype(bool)


def dossier_flags(dossiers: pd.DataFrame, unit: ReportingUnit, period: Period) -> pd.DataFrame:
    """One row per dossier: its id, level, handling unit, and one boolean column per count of docs/metrics.md."""
    import pandas as pd

    frame = dossiers.reset_index(drop=True)
    if frame["MaHoSo"].duplicated().any():
        dup = frame["MaHoSo"].duplicated(keep=False)
        raise DataError(f"{ONE_STOP}: dossier id(s) repeated after deduplication: {_ids(frame, dup, 'MaHoSo')}")
    level = frame["MaDonVi"].astype("string").fillna("").map(unit.level_of)
    foreign = level.isna()
    if foreign.any():
        raise DataError(
            f"{ONE_STOP}: {int(foreign.sum())} dossier(s) of district {unit.code} handled by a unit outside it "
            f"(MaDonVi {sorted(set(frame.loc[foreign, 'MaDonVi'].astype(str)))[:5]}; e.g. "
            f"{_ids(frame, foreign, 'MaHoSo')}); fix MaDonVi in the source or the units reference file"
        )
    start, end = period.start, period.end
    received_at = _parse_compact(frame, "NgayTiepNhan")
    due = _parse_compact(frame, "NgayHenTra")
    ended = _parse_compact(frame, "NgayKetThucXuLy")
    if received_at.isna().any():
        missing = received_at.isna()
        raise DataError(f"{ONE_STOP}: dossier(s) without NgayTiepNhan: {_ids(frame, missing, 'MaHoSo')}")
    status = pd.to_numeric(frame["TrangThaiHoSo"], errors="coerce")
    accepted = ~status.isin(ACCEPTED_EXCLUDED)
    ended_in_period = ended.notna() & (ended >= start) & (ended < end)

    flags = pd.DataFrame({"MaHoSo": frame["MaHoSo"], "level": level, "unit_code": frame["MaDonVi"]})
    flags["received"] = accepted & (received_at >= start) & (received_at < end)
    flags["received_online"] = flags["received"] & (pd.to_numeric(frame["KenhThucHien"], errors="coerce") == 2)
    flags["carried_over"] = accepted & (received_at < start) & (ended.isna() | (ended >= start))
    resolved = status.isin(RESOLVED_STATUSES) & ended_in_period
    no_due = resolved & due.isna()
    if no_due.any():
        raise DataError(
            f"{ONE_STOP}: {int(no_due.sum())} resolved dossier(s) without NgayHenTra (e.g. "
            f"{_ids(frame, no_due, 'MaHoSo')}): on-time status cannot be decided; correct them in the source"
        )
    flags["resolved"] = resolved
    flags["resolved_early"] = resolved & (ended.dt.normalize() < due.dt.normalize())
    flags["resolved_on_time"] = resolved & ~flags["resolved_early"] & (ended <= due)
    flags["resolved_late"] = resolved & (ended > due)
    flags["withdrawn"] = status.isin(WITHDRAWN_STATUSES) & ended_in_period
    flags["pending"] = accepted & (received_at < end) & (ended.isna() | (ended >= end))
    flags["pending_overdue"] = flags["pending"] & due.notna() & (due < end)
    flags["digitized_dossiers"] = flags["received"] & _flag(frame["SoHoaHoSo"])
    flags["digitized_results"] = resolved & _flag(frame["SoHoaKetQua"])
    fee = pd.to_numeric(frame["LePhi_SoTien"], errors="coerce").fillna(0)
    flags["fee_dossiers"] = flags["received"] & _flag(frame["LePhi_present"]) & (fee > 0)
    flags["paid_online"] = flags["fee_dossiers"] & _flag(frame["LePhi_ThanhToanTrucTuyen"])
    for column in DOSSIER_COUNTS:
        flags[column] = flags[column].astype(bool)
    return flags


def _dossier_row(period: Period, unit: ReportingUnit, level: str, unit_code: str, counts: dict[str, int]
                 ) -> dict[str, Any]:
    row: dict[str, Any] = {"period": period.name, "district_code": unit.code, "level": level, "unit_code": unit_code}
    row.update({name: int(counts.get(name, 0)) for name in DOSSIER_COUNTS})
    for name, (numerators, denominator) in DOSSIER_RATES.items():
        row[name] = rate(sum(row[n] for n in numerators), row[denominator])
    return row


def dossier_metrics(flags: pd.DataFrame, unit: ReportingUnit, period: Period) -> list[dict[str, Any]]:
    """Rows for levels huyen, xa, tong and one per commune (every child unit, zero when it had none)."""
    sums = flags.groupby("unit_code")[list(DOSSIER_COUNTS)].sum()
    by_unit = {str(code): {k: int(v) for k, v in row.items()} for code, row in sums.iterrows()}

    def total(codes: list[str]) -> dict[str, int]:
        return {name: sum(by_unit.get(code, {}).get(name, 0) for code in codes) for name in DOSSIER_COUNTS}

    children = [child.code for child in unit.children]
    rows = [
        _dossier_row(period, unit, "huyen", unit.code, total([unit.code])),
        _dossier_row(period, unit, "xa", unit.code, total(children)),
        _dossier_row(period, unit, "tong", unit.code, total([unit.code, *children])),
    ]
    rows += [_dossier_row(period, unit, "commune", code, total([code])) for code in children]
    return rows


def feedback_flags(feedback: pd.DataFrame, period: Period) -> pd.DataFrame:
    """One row per feedback item received in the period, with one boolean column per count."""
    import pandas as pd

    frame = feedback.reset_index(drop=True)
    if frame["id"].duplicated().any():
        raise DataError(f"{HOTLINE}: feedback id(s) repeated: {_ids(frame, frame['id'].duplicated(keep=False), 'id')}")
    received_at = _parse_iso(frame, "received_at")
    due = _parse_iso(frame, "due_at")
    answered_at = _parse_iso(frame, "answered_at")
    status = frame["status"].astype("string")
    answered = (status == "answered").fillna(False)
    bad = answered & answered_at.isna()
    if bad.any():
        raise DataError(f"{HOTLINE}: answered feedback without answered_at: {_ids(frame, bad, 'id')}")
    open_items = ~status.isin(["answered", "rejected"]).fillna(False)
    no_due = (answered | open_items) & due.isna()
    if no_due.any():
        raise DataError(f"{HOTLINE}: feedback without due_at: {_ids(frame, no_due, 'id')}")
    in_period = (received_at >= period.start) & (received_at < period.end)
    flags = pd.DataFrame({"id": frame["id"]})
    flags["feedback_received"] = in_period
    flags["feedback_about_procedures"] = in_period & (frame["category"] == PROCEDURE_CATEGORY).fillna(False)
    flags["feedback_answered_on_time"] = in_period & answered & (answered_at <= due)
    flags["feedback_answered_late"] = in_period & answered & (answered_at > due)
    flags["feedback_overdue"] = in_period & open_items & (due < period.end)
    flags["feedback_in_progress"] = in_period & open_items & (due >= period.end)
    flags["feedback_rejected"] = in_period & (status == "rejected").fillna(False)
    flags["feedback_late"] = flags["feedback_answered_late"] | flags["feedback_overdue"]
    for column in FEEDBACK_COUNTS:
        flags[column] = flags[column].fillna(False).astype(bool)
    return flags


def feedback_metrics(flags: pd.DataFrame, unit: ReportingUnit, period: Period) -> dict[str, Any]:
    """The one feedback row of a district and period."""
    row: dict[str, Any] = {"period": period.name, "district_code": unit.code}
    row.update({name: int(flags[name].sum()) for name in FEEDBACK_COUNTS})
    return row


def evidence_ids(flags: pd.DataFrame, id_column: str, counts: tuple[str, ...], group: str | None = None) -> bytes:
    """The ids behind every count as Parquet: one row per record (id, ``group`` when given, a flag per count).

    Sorted by id, so the same records give the same bytes. A count of a unit is the number of its rows whose
    flag is true; the figures of ``docs/metrics.md`` section 7 are sums over rows of this file.
    """
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [id_column, *([group] if group else []), *counts]
    frame = flags[columns].sort_values(id_column, kind="stable")
    fields = [pa.field(id_column, pa.string(), nullable=False)]
    fields += [pa.field(group, pa.string(), nullable=False)] if group else []
    fields += [pa.field(name, pa.bool_(), nullable=False) for name in counts]
    table = pa.table({name: frame[name].astype(str if name in (id_column, group) else bool).to_numpy()
                      for name in columns}, schema=pa.schema(fields))
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()
