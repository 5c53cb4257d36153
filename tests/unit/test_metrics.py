"""Every metric of docs/metrics.md on hand-made records, including empty denominators and half-up rounding."""

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from tthc.landing import DOSSIER_TYPES, FEEDBACK_TYPES
from tthc.metrics import (
    DataError,
    dossier_flags,
    dossier_metrics,
    evidence_ids,
    feedback_flags,
    feedback_metrics,
    rate,
)
from tthc.periods import parse_period
from tthc.units import ReportingUnit, Unit

UNIT = ReportingUnit("872", "Huyện Tháp Mười", "Tháp Mười", "huyện",
                     children=(Unit("30037", "Thị trấn Mỹ An", "Mỹ An", "thị trấn"),
                               Unit("30040", "Xã Thạnh Lợi", "Thạnh Lợi", "xã")))
NOV = parse_period("2023-11")  # [2023-10-15, 2023-11-15)


def dossier(i: str, *, unit: str = "872", status: int = 10, channel: int = 1, received: str = "20231020090000",
            due: str | None = "20231030170000", ended: str | None = "20231025100000", digitized: bool = True,
            result_digitized: bool | None = True, fee: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"MaHoSo": i, "MaDonVi": unit, "TrangThaiHoSo": status, "KenhThucHien": channel,
            "NgayTiepNhan": received, "NgayHenTra": due, "NgayKetThucXuLy": ended, "SoHoaHoSo": digitized,
            "SoHoaKetQua": result_digitized, "LePhi_present": fee is not None,
            "LePhi_SoTien": (fee or {}).get("SoTien"),
            "LePhi_ThanhToanTrucTuyen": (fee or {}).get("ThanhToanTrucTuyen")}


def frame(records: list[dict[str, Any]], types: dict[str, str]) -> pd.DataFrame:
    dtype = {"string": "string", "int64": "Int64", "bool": "boolean"}
    df = pd.DataFrame(records, columns=list(types))
    return df.astype({name: dtype[kind] for name, kind in types.items()})


def metrics_of(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    rows = dossier_metrics(dossier_flags(frame(records, DOSSIER_TYPES), UNIT, NOV), UNIT, NOV)
    return {(r["level"], r["unit_code"]): r for r in rows}


@pytest.mark.parametrize(("num", "den", "expected"), [
    (71264, 100000, "71.26"), (71265, 100000, "71.27"), (1, 3, "33.33"), (2, 3, "66.67"), (1, 8, "12.50"),
    (5, 5, "100.00"), (0, 7, "0.00"), (1, 200000, "0.00"), (1, 40000, "0.00"), (1, 20000, "0.01"),
])
def test_rate_rounds_half_up_once_from_exact_counts(num: int, den: int, expected: str) -> None:
    assert rate(num, den) == Decimal(expected)


def test_rate_with_empty_denominator_is_absent_not_zero() -> None:
    assert rate(0, 0) is None


def test_received_excludes_unaccepted_and_counts_online_and_digitized() -> None:
    m = metrics_of([
        dossier("a", channel=2, ended=None, status=4),
        dossier("b", channel=1, digitized=False, ended=None, status=4),
        dossier("c", status=1, ended=None),  # registered online, not accepted
        dossier("d", status=3, ended="20231020100000"),  # refused at intake
        dossier("e", received="20231115000000", ended=None, status=2),  # received after the period
        dossier("f", received="20231014235959", ended=None, status=2),  # received before: carried over
    ])["huyen", "872"]
    assert (m["received"], m["received_online"], m["digitized_dossiers"]) == (2, 1, 1)
    assert m["online_rate"] == Decimal("50.00") and m["dossier_digitization_rate"] == Decimal("50.00")
    assert m["carried_over"] == 1
    assert m["pending"] == 3  # a, b, f open at the end; e was received after the end


def test_resolution_early_on_time_late_by_local_date_and_time() -> None:
    m = metrics_of([
        dossier("early", ended="20231029235959", due="20231030080000"),  # previous local date: early
        dossier("same_day", ended="20231030160000", due="20231030170000"),  # same date, before due: on time
        dossier("exact", ended="20231030170000", due="20231030170000"),  # equal: on time
        dossier("late", ended="20231030170001", due="20231030170000"),  # a second after due: late
        dossier("outside", ended="20231115000000", due="20231130000000"),  # ended after the period: not resolved
        dossier("withdrawn", status=7, ended="20231101000000"),
        dossier("stopped", status=8, ended="20231114235959"),
    ])["huyen", "872"]
    assert (m["resolved"], m["resolved_early"], m["resolved_on_time"], m["resolved_late"]) == (4, 1, 2, 1)
    assert m["withdrawn"] == 2
    assert m["on_time_rate"] == Decimal("75.00")
    assert m["pending"] == 1  # "outside" ended exactly at the end instant: still pending at the end


def test_pending_overdue_and_carried_over_boundaries() -> None:
    m = metrics_of([
        dossier("old_open", received="20230901080000", due="20230920170000", ended=None, status=4),
        dossier("ended_at_start", received="20230901080000", ended="20231015000000", status=10),
        dossier("ended_before", received="20230901080000", ended="20231014235959", status=10),
        dossier("due_at_end", received="20231101080000", due="20231115000000", ended=None, status=5),
        dossier("due_before_end", received="20231101080000", due="20231114235959", ended=None, status=6),
    ])["huyen", "872"]
    assert m["carried_over"] == 2  # old_open and ended_at_start (ended >= start)
    assert m["pending"] == 3 and m["pending_overdue"] == 2  # old_open, due_before_end; due_at_end is not < end
    assert m["resolved"] == 1  # ended_at_start, at the period's first instant


def test_fees_and_online_payment() -> None:
    m = metrics_of([
        dossier("free", fee=None),
        dossier("zero", fee={"SoTien": 0, "ThanhToanTrucTuyen": False}),
        dossier("paid_online", fee={"SoTien": 50000, "ThanhToanTrucTuyen": True}),
        dossier("paid_desk", fee={"SoTien": 50000, "ThanhToanTrucTuyen": False}),
        dossier("paid_desk2", fee={"SoTien": 15000, "ThanhToanTrucTuyen": False}),
    ])["huyen", "872"]
    assert (m["fee_dossiers"], m["paid_online"]) == (3, 1)
    assert m["online_payment_rate"] == Decimal("33.33")


def test_levels_sum_and_every_commune_has_a_row() -> None:
    m = metrics_of([
        dossier("h1"), dossier("x1", unit="30037", result_digitized=False), dossier("x2", unit="30037"),
    ])
    assert m["huyen", "872"]["resolved"] == 1 and m["xa", "872"]["resolved"] == 2
    assert m["tong", "872"]["resolved"] == 3
    assert m["commune", "30037"]["result_digitization_rate"] == Decimal("50.00")
    assert m["commune", "30040"]["resolved"] == 0 and m["commune", "30040"]["on_time_rate"] is None


def test_empty_month_gives_rows_with_absent_rates() -> None:
    m = metrics_of([])
    assert m["tong", "872"]["received"] == 0
    assert all(m["tong", "872"][r] is None for r in ("on_time_rate", "online_rate", "online_payment_rate"))


def test_resolved_without_due_date_is_a_data_error_naming_the_record() -> None:
    with pytest.raises(DataError, match=r"without NgayHenTra.*nodue"):
        metrics_of([dossier("nodue", due=None)])


def test_unit_outside_the_district_is_an_error() -> None:
    with pytest.raises(DataError, match=r"outside it.*29869"):
        metrics_of([dossier("x", unit="29869")])


def test_malformed_time_names_record_and_format() -> None:
    with pytest.raises(DataError, match=r"NgayTiepNhan that is not yyyyMMddHHmmss \(e.g. bad\)"):
        metrics_of([dossier("bad", received="2023-10-20 09:00:00")])


def test_evidence_ids_give_the_records_behind_each_count() -> None:
    import io

    import pyarrow.parquet as pq

    records = [dossier("c", unit="30037"), dossier("a"), dossier("b", unit="30040", status=4, ended=None)]
    flags = dossier_flags(frame(records, DOSSIER_TYPES), UNIT, NOV)
    data = evidence_ids(flags, "MaHoSo", ("received", "resolved", "pending"), group="unit_code")
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["MaHoSo", "unit_code", "received", "resolved", "pending"]
    assert table.to_pylist() == [
        {"MaHoSo": "a", "unit_code": "872", "received": True, "resolved": True, "pending": False},
        {"MaHoSo": "b", "unit_code": "30040", "received": True, "resolved": False, "pending": True},
        {"MaHoSo": "c", "unit_code": "30037", "received": True, "resolved": True, "pending": False}]
    # The same records in another order give the same bytes: the evidence's digest names the records, not the run.
    again = dossier_flags(frame(records[::-1], DOSSIER_TYPES), UNIT, NOV)
    assert evidence_ids(again, "MaHoSo", ("received", "resolved", "pending"), group="unit_code") == data
    items = feedback_flags(frame([], FEEDBACK_TYPES), NOV)
    empty = pq.read_table(io.BytesIO(evidence_ids(items, "id", ("feedback_received",))))
    assert empty.num_rows == 0 and empty.column_names == ["id", "feedback_received"]


def item(i: str, *, received: str = "2023-11-03T08:15:00+07:00", status: str = "answered",
         due: str = "2023-11-10T17:00:00+07:00", answered: str | None = "2023-11-08T10:00:00+07:00",
         category: str = "dat_dai") -> dict[str, Any]:
    return {"id": i, "received_at": received, "channel": "phone", "district_code": "872", "unit_code": "872",
            "category": category, "status": status, "due_at": due,
            "answered_at": answered if status == "answered" else None, "satisfaction": None}


def test_feedback_counts() -> None:
    items = [
        item("on_time", category="thu_tuc_hanh_chinh"),
        item("late", answered="2023-11-10T17:00:01+07:00"),
        item("overdue", status="processing", due="2023-11-14T23:59:59+07:00"),
        item("in_progress", status="new", due="2023-11-15T00:00:00+07:00"),
        item("rejected", status="rejected"),
        item("before", received="2023-10-14T23:59:59+07:00"),
        item("utc_inside", received="2023-10-14T17:00:00Z"),  # 2023-10-15 00:00 local: inside
        item("utc_after", received="2023-11-14T17:00:00Z"),  # 2023-11-15 00:00 local: outside
    ]
    row = feedback_metrics(feedback_flags(frame(items, FEEDBACK_TYPES), NOV), UNIT, NOV)
    assert row["feedback_received"] == 6
    assert row["feedback_about_procedures"] == 1
    assert (row["feedback_answered_on_time"], row["feedback_answered_late"]) == (2, 1)
    assert (row["feedback_overdue"], row["feedback_in_progress"], row["feedback_rejected"]) == (1, 1, 1)
    assert row["feedback_late"] == 2


def test_answered_feedback_without_answer_time_is_an_error() -> None:
    bad = item("x")
    bad["answered_at"] = None
    with pytest.raises(DataError, match="answered feedback without answered_at: x"):
        feedback_flags(frame([bad], FEEDBACK_TYPES), NOV)
