"""The expectation suites as code: one per source (dossiers, feedback, operator inputs) and the metrics'.

Each function returns ``(check name, expectation)`` pairs: a check of ``tthc.quality.checks`` may need
several GX expectations (one per column, say), and the runner tags each expectation with its check so
that results, findings and the configuration speak the same names. The suites run on the frames of
``tthc.quality.prepare``: derived columns are named ``q_...``.

Great Expectations is imported inside the functions: never when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tthc.landing import DOSSIER_TYPES, FEEDBACK_TYPES
from tthc.periods import Period
from tthc.quality.prepare import DOSSIER_TIMES, FEEDBACK_TIMES, naive_local
from tthc.timeparse import COMPACT_PATTERN, ISO_PATTERN
from tthc.units import ReportingUnit

Expectations = list[tuple[str, Any]]

DOSSIER_STATUSES = list(range(1, 11))
DOSSIER_CHANNELS = [1, 2, 3]
FINISHED_STATUSES = [9, 10]
ENDED_STATUSES = [7, 8, 9, 10]
FEEDBACK_CHANNELS = ["phone", "zalo", "web", "email", "app"]
FEEDBACK_CATEGORIES = ["thu_tuc_hanh_chinh", "dat_dai", "moi_truong", "giao_thong", "an_ninh_trat_tu", "y_te",
                       "giao_duc", "dien_nuoc", "khac"]
FEEDBACK_STATUSES = ["new", "processing", "answered", "rejected"]
# Landed dtypes as GX's pandas type check sees them (``dtype.type``): text, nullable ints, nullable bools.
_GX_TYPES = {"string": "str", "int64": "int64", "bool": "bool"}


@dataclass(frozen=True)
class VolumeBaseline:
    """Dossiers received in earlier periods (warehouse ``tong`` rows) and the smallest count accepted now."""

    periods: tuple[str, ...]
    mean_received: float
    min_received: float


def _schema(landed_types: dict[str, str], derived: Sequence[str]) -> Expectations:
    import great_expectations.expectations as gxe

    out: Expectations = [("schema", gxe.ExpectTableColumnsToMatchSet(
        column_set=[*landed_types, *derived], exact_match=True,
        description="the landed columns of the contract (plus the q_ columns derived for the checks), no others"))]
    out += [("schema", gxe.ExpectColumnValuesToBeOfType(column=name, type_=_GX_TYPES[kind]))
            for name, kind in landed_types.items()]
    return out


def _time_format(columns: Sequence[str], pattern: str) -> Expectations:
    """Each time column has its source's shape and is a time that exists (its ``q_ok_`` flag from prepare)."""
    import great_expectations.expectations as gxe

    out: Expectations = []
    for name in columns:
        out.append(("time_format", gxe.ExpectColumnValuesToMatchRegex(column=name, regex=pattern)))
        out.append(("time_format", gxe.ExpectColumnValuesToBeInSet(
            column=f"q_ok_{name}", value_set=[True], description=f"{name} is a time that exists (parses)")))
    return out


def dossier_suite(unit: ReportingUnit, period: Period, derived: Sequence[str],
                  volume: VolumeBaseline | None = None) -> Expectations:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    start, end = naive_local(period.start), naive_local(period.end)
    finished = Column("TrangThaiHoSo").is_in(FINISHED_STATUSES)
    out = _schema(DOSSIER_TYPES, derived)
    out.append(("id_unique", gxe.ExpectColumnValuesToBeUnique(column="MaHoSo")))
    for name in ("MaHoSo", "MaDonVi", "KenhThucHien", "NgayTiepNhan", "TrangThaiHoSo", "SoHoaHoSo", "NgayCapNhat"):
        out.append(("required_fields", gxe.ExpectColumnValuesToNotBeNull(column=name)))
    for name in ("LePhi_SoTien", "LePhi_ThanhToanTrucTuyen"):
        out.append(("required_fields", gxe.ExpectColumnValuesToNotBeNull(
            column=name, row_condition=Column("LePhi_present") == True)))  # noqa: E712 (a GX condition, not a test)
    out.append(("status_in_set", gxe.ExpectColumnValuesToBeInSet(column="TrangThaiHoSo", value_set=DOSSIER_STATUSES)))
    out.append(("channel_in_set", gxe.ExpectColumnValuesToBeInSet(column="KenhThucHien", value_set=DOSSIER_CHANNELS)))
    out.append(("unit_in_district", gxe.ExpectColumnValuesToBeInSet(
        column="MaDonVi", value_set=[unit.code, *sorted(unit.child_codes)])))
    out += _time_format(DOSSIER_TIMES, COMPACT_PATTERN)
    out.append(("received_before_finished", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="q_t_NgayKetThucXuLy", column_B="q_t_NgayTiepNhan", or_equal=True,
        ignore_row_if="either_value_is_missing", description="NgayTiepNhan <= NgayKetThucXuLy")))
    out.append(("received_before_due", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="q_t_NgayHenTra", column_B="q_t_NgayTiepNhan", or_equal=True,
        ignore_row_if="either_value_is_missing", description="NgayTiepNhan <= NgayHenTra")))
    out.append(("finished_has_due_date", gxe.ExpectColumnValuesToNotBeNull(column="NgayHenTra",
                                                                           row_condition=finished)))
    out.append(("finished_has_end_time", gxe.ExpectColumnValuesToNotBeNull(
        column="NgayKetThucXuLy", row_condition=Column("TrangThaiHoSo").is_in(ENDED_STATUSES))))
    out.append(("finished_has_digitization_flag", gxe.ExpectColumnValuesToNotBeNull(column="SoHoaKetQua",
                                                                                    row_condition=finished)))
    out.append(("fee_non_negative", gxe.ExpectColumnValuesToBeBetween(column="LePhi_SoTien", min_value=0)))
    out.append(("in_window", gxe.ExpectColumnValuesToBeBetween(
        column="q_t_NgayTiepNhan", max_value=end, strict_max=True,
        description=f"received before the window's end {end:%Y-%m-%d %H:%M}")))
    out.append(("in_window", gxe.ExpectColumnValuesToBeBetween(
        column="q_t_NgayKetThucXuLy", min_value=start,
        description=f"not finished before the window's start {start:%Y-%m-%d %H:%M}")))
    if volume is not None:
        out.append(("volume", gxe.ExpectColumnSumToBeBetween(
            column="q_received_in_period", min_value=volume.min_received,
            description=f"dossiers received in {period.name} >= {volume.min_received:.0f} (mean of "
                        f"{', '.join(volume.periods)}: {volume.mean_received:.0f})")))
    return out


def feedback_suite(unit: ReportingUnit, period: Period, derived: Sequence[str]) -> Expectations:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    start, end = naive_local(period.start), naive_local(period.end)
    out = _schema(FEEDBACK_TYPES, derived)
    out.append(("id_unique", gxe.ExpectColumnValuesToBeUnique(column="id")))
    for name in ("id", "received_at", "channel", "district_code", "unit_code", "category", "status"):
        out.append(("required_fields", gxe.ExpectColumnValuesToNotBeNull(column=name)))
    out.append(("required_fields", gxe.ExpectColumnValuesToNotBeNull(
        column="due_at", row_condition=Column("status").is_in(["new", "processing", "answered"]))))
    out.append(("channel_in_set", gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=FEEDBACK_CHANNELS)))
    out.append(("category_in_set", gxe.ExpectColumnValuesToBeInSet(column="category", value_set=FEEDBACK_CATEGORIES)))
    out.append(("status_in_set", gxe.ExpectColumnValuesToBeInSet(column="status", value_set=FEEDBACK_STATUSES)))
    out.append(("unit_in_district", gxe.ExpectColumnValuesToBeInSet(column="district_code", value_set=[unit.code])))
    out.append(("unit_in_district", gxe.ExpectColumnValuesToBeInSet(
        column="unit_code", value_set=[unit.code, *sorted(unit.child_codes)])))
    out += _time_format(FEEDBACK_TIMES, ISO_PATTERN)
    out.append(("answered_has_answered_at", gxe.ExpectColumnValuesToNotBeNull(
        column="answered_at", row_condition=Column("status") == "answered")))
    out.append(("satisfaction_in_range", gxe.ExpectColumnValuesToBeBetween(column="satisfaction", min_value=1,
                                                                           max_value=5)))
    out.append(("in_window", gxe.ExpectColumnValuesToBeBetween(
        column="q_t_received_at", min_value=start, max_value=end, strict_max=True,
        description=f"received in [{start:%Y-%m-%d}, {end:%Y-%m-%d})")))
    return out


def inputs_suite(unit: ReportingUnit, period: Period) -> Expectations:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return [
        ("counts_non_negative", gxe.ExpectColumnValuesToBeBetween(column="inspections_count", min_value=0)),
        ("counts_non_negative", gxe.ExpectColumnValuesToBeBetween(column="violations", min_value=0)),
        ("violations_within_count", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="inspections_count", column_B="violations", or_equal=True,
            ignore_row_if="either_value_is_missing")),
        ("findings_when_violations", gxe.ExpectColumnValuesToNotBeNull(
            column="findings", row_condition=Column("violations") > 0)),
        ("matches_unit_and_period", gxe.ExpectColumnValuesToBeInSet(column="unit_code", value_set=[unit.code])),
        ("matches_unit_and_period", gxe.ExpectColumnValuesToBeInSet(column="period", value_set=[period.name])),
    ]


def metrics_suite() -> Expectations:
    """The computed figures (``prepare.metrics_frame``): counts >= 0, parts <= wholes, partitions and levels add up,
    rates within 0..100, one row per level and unit."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    def kind(name: str) -> Any:
        return Column("kind") == name

    return [
        ("rows_unique", gxe.ExpectColumnValuesToBeUnique(column="key", description="one row per (level, unit_code)")),
        ("counts_non_negative", gxe.ExpectColumnValuesToNotBeNull(column="a", row_condition=kind("count"))),
        ("counts_non_negative", gxe.ExpectColumnValuesToBeBetween(column="a", min_value=0, row_condition=kind("count"),
                                                                  description="every count >= 0")),
        ("parts_within_whole", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="a", column_B="b", or_equal=True, row_condition=kind("part"),
            description="every part <= its whole")),
        ("partitions_add_up", gxe.ExpectColumnPairValuesToBeEqual(
            column_A="a", column_B="b", row_condition=kind("sum"), description="every total = the sum of its parts")),
        ("levels_add_up", gxe.ExpectColumnPairValuesToBeEqual(
            column_A="a", column_B="b", row_condition=kind("level"),
            description="tong = huyen + xa and xa = the sum of the communes")),
        ("rates_in_range", gxe.ExpectColumnValuesToBeBetween(column="a", min_value=0, max_value=100,
                                                             row_condition=kind("rate"),
                                                             description="every rate within 0..100")),
    ]
