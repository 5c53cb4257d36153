"""The catalog of checks: names the configuration uses, what each means, what to fix, which severities it allows.

Why a catalog apart from the suites: the configuration is validated when it loads (a typo in a check
name or a severity a check cannot have must stop the run there), and that must not import Great
Expectations. The suites (``tthc.quality.suites``) build one or more GX expectations per check and tag
each with the check's name, so every GX result maps back to a line of this catalog. One check has no
expectation: ``field_types`` is decided at extraction (a record with a field of the wrong JSON type is
never landed, its value never kept), and the validation turns the extract's ``<source>.rejected.json``
into its finding, so the policy quarantines or blocks those records like any other.

Allowed severities follow from what a failing record would do downstream:

- ``critical`` checks guard what the metrics cannot do without (a parseable time, a due date on a
  resolved dossier, a unit inside the district...): such a record may be quarantined or block the
  district, never merely warned about, since it would stop or falsify the computation.
- table-level checks (schema, volume) have no records to set aside: ``block`` or ``warn`` only.
- the metrics checks guard the numbers themselves: they always block.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tthc.quality import BLOCK, QUARANTINE, SEVERITIES, WARN
from tthc.records import HOTLINE, ONE_STOP

DOSSIERS, FEEDBACK, INPUTS, METRICS = "dossiers", "feedback", "inputs", "metrics"
SOURCES = (DOSSIERS, FEEDBACK, INPUTS, METRICS)
SYSTEMS = {
    DOSSIERS: ONE_STOP,
    FEEDBACK: HOTLINE,
    INPUTS: "operator inputs (include/inputs/<YYYY-MM>/<unit>.yaml or the office inputs of the trigger form)",
    METRICS: "computed metrics (tthc.metrics)",
}
ID_COLUMNS = {DOSSIERS: "MaHoSo", FEEDBACK: "id", INPUTS: "unit", METRICS: "id"}

_RECORD_ALLOWED = (BLOCK, WARN, QUARANTINE)
_CRITICAL_ALLOWED = (BLOCK, QUARANTINE)
_TABLE_ALLOWED = (BLOCK, WARN)
# Clearing validate alone would check the same extract again, and the Grid's Clear of the group 'district' clears
# every district of the run (Airflow 3.3): the district's five task instances are cleared together.
RERUN = ("clear this district's five tasks together so that the sources are read again: in the run's Task Instances "
         "tab, filter on its map index, select them all and Clear")
_FIX_SOURCE = f"correct these records in the source system, then {RERUN}"


@dataclass(frozen=True)
class Check:
    source: str
    name: str
    rule: str  # what must hold, in one line
    fix: str  # what an operator does about a failure
    default: str
    allowed: tuple[str, ...]
    record_level: bool = True

    @property
    def key(self) -> str:
        return f"{self.source}.{self.name}"


def _record(source: str, name: str, rule: str, default: str = QUARANTINE, critical: bool = True,
            fix: str = _FIX_SOURCE) -> Check:
    return Check(source, name, rule, fix, default, _CRITICAL_ALLOWED if critical else _RECORD_ALLOWED)


def _table(source: str, name: str, rule: str, fix: str, default: str = BLOCK,
           allowed: tuple[str, ...] = _TABLE_ALLOWED) -> Check:
    return Check(source, name, rule, fix, default, allowed, record_level=False)


_FIELD_TYPES_FIX = ("the source system sends a field with the wrong type: have its operator correct these records "
                    f"(ids and fields in the quality results; the values are never kept), then {RERUN}")
_SCHEMA_FIX = f"the landing step writes a fixed schema: {RERUN}; if it persists, the code is at fault"
_METRIC_FIX = ("a computed figure breaks its definition: nothing was stored; report it as a bug with this "
               "district and period (the validated extracts are under quality/<period>/<unit>/)")

CHECKS: tuple[Check, ...] = (
    # ---- one-stop dossier system ----------------------------------------------------------------
    _table(DOSSIERS, "schema", "the landed extract has exactly the contract's columns, with their types",
           _SCHEMA_FIX, allowed=(BLOCK,)),
    _record(DOSSIERS, "field_types", "every allow-listed field has the JSON type of docs/sources.md "
            "(tthc.records.DOSSIER_JSON_TYPES); records that break it are set aside at extraction",
            fix=_FIELD_TYPES_FIX),
    _record(DOSSIERS, "id_unique", "MaHoSo is unique after deduplication", default=BLOCK,
            fix="the connector merges repeats by MaHoSo: a repeat here is a bug of the extract; rerun it"),
    _record(DOSSIERS, "required_fields", "MaHoSo, MaDonVi, KenhThucHien, NgayTiepNhan, TrangThaiHoSo, SoHoaHoSo, "
            "NgayCapNhat are present; LePhi has SoTien and ThanhToanTrucTuyen when present"),
    _record(DOSSIERS, "status_in_set", "TrangThaiHoSo is one of 1..10"),
    _record(DOSSIERS, "channel_in_set", "KenhThucHien is 1 (in person), 2 (online) or 3 (postal)"),
    _record(DOSSIERS, "unit_in_district", "MaDonVi is the requested district or one of its communes "
            "(units reference file)", fix="correct MaDonVi in the source system, or the units reference file "
            "(include/reference) when the commune list changed; then rerun the district"),
    _record(DOSSIERS, "time_format", "NgayTiepNhan, NgayHenTra, NgayKetThucXuLy, NgayTra and NgayCapNhat are "
            "yyyyMMddHHmmss times that exist"),
    _record(DOSSIERS, "received_before_finished", "NgayTiepNhan <= NgayKetThucXuLy"),
    _record(DOSSIERS, "received_before_due", "NgayTiepNhan <= NgayHenTra"),
    _record(DOSSIERS, "finished_has_due_date", "a finished dossier (TrangThaiHoSo 9 or 10) has NgayHenTra"),
    _record(DOSSIERS, "finished_has_end_time", "a finished, withdrawn or stopped dossier (TrangThaiHoSo 7..10) "
            "has NgayKetThucXuLy"),
    _record(DOSSIERS, "finished_has_digitization_flag", "a finished dossier (TrangThaiHoSo 9 or 10) has "
            "SoHoaKetQua", critical=False),
    _record(DOSSIERS, "fee_non_negative", "LePhi.SoTien >= 0", critical=False),
    _record(DOSSIERS, "in_window", "the dossier was open during the requested window: NgayTiepNhan < end and "
            "(NgayKetThucXuLy null or >= start)", critical=False,
            fix="the source answered outside the requested window: report it to the system's operator"),
    _table(DOSSIERS, "volume", "dossiers received in the period did not fall by more than quality."
           "volume_drop_max_share below the mean of the previous periods in the warehouse",
           "check that the extract is complete (source outage, district code change); if the fall is real, "
           "rerun with this check set to warn", default=WARN),
    # ---- hotline 1022 ---------------------------------------------------------------------------
    _table(FEEDBACK, "schema", "the landed extract has exactly the contract's columns, with their types",
           _SCHEMA_FIX, allowed=(BLOCK,)),
    _record(FEEDBACK, "field_types", "every allow-listed field has the JSON type of docs/sources.md "
            "(tthc.records.FEEDBACK_JSON_TYPES); records that break it are set aside at extraction",
            fix=_FIELD_TYPES_FIX),
    _record(FEEDBACK, "id_unique", "id is unique after deduplication", default=BLOCK,
            fix="the connector merges repeats by id: a repeat here is a bug of the extract; rerun it"),
    _record(FEEDBACK, "required_fields", "id, received_at, channel, district_code, unit_code, category and status "
            "are present; due_at too unless the item was rejected"),
    _record(FEEDBACK, "channel_in_set", "channel is phone, zalo, web, email or app", critical=False),
    _record(FEEDBACK, "category_in_set", "category is one of the contract's nine categories"),
    _record(FEEDBACK, "status_in_set", "status is new, processing, answered or rejected"),
    _record(FEEDBACK, "unit_in_district", "district_code is the requested district and unit_code the district "
            "or one of its communes"),
    _record(FEEDBACK, "time_format", "received_at, due_at and answered_at are ISO 8601 times with an offset"),
    _record(FEEDBACK, "answered_has_answered_at", "an answered item (status answered) has answered_at"),
    _record(FEEDBACK, "satisfaction_in_range", "satisfaction is 1..5 or null", default=WARN, critical=False),
    _record(FEEDBACK, "in_window", "received_at is inside the requested window [start, end)", critical=False,
            fix="the source answered outside the requested window: report it to the system's operator"),
    # ---- operator inputs ------------------------------------------------------------------------
    _table(INPUTS, "counts_non_negative", "inspections.count and inspections.violations are >= 0",
           "correct the operator inputs file (or the office inputs of the trigger form) and rerun the district"),
    _table(INPUTS, "violations_within_count", "inspections.violations <= inspections.count when the count is given",
           "correct the operator inputs file (or the office inputs of the trigger form) and rerun the district"),
    _table(INPUTS, "findings_when_violations", "inspections.findings says what was found when violations > 0",
           "correct the operator inputs file (or the office inputs of the trigger form) and rerun the district"),
    _table(INPUTS, "matches_unit_and_period", "unit_code and period, when given, are the file's unit and period",
           "the file was copied from another unit or period: correct unit_code/period or the file's place"),
    # ---- computed metrics -----------------------------------------------------------------------
    _table(METRICS, "counts_non_negative", "every count is a whole number >= 0", _METRIC_FIX, allowed=(BLOCK,)),
    _table(METRICS, "parts_within_whole", "no part exceeds its whole (received_online <= received, paid_online <= "
           "fee_dossiers, pending_overdue <= pending, ...)", _METRIC_FIX, allowed=(BLOCK,)),
    _table(METRICS, "partitions_add_up", "resolved = early + on time + late; feedback received = answered on time + "
           "answered late + overdue + in progress + rejected; feedback_late = answered late + overdue",
           _METRIC_FIX, allowed=(BLOCK,)),
    _table(METRICS, "rates_in_range", "every rate is within 0..100 (or null when nothing arose)", _METRIC_FIX,
           allowed=(BLOCK,)),
    _table(METRICS, "levels_add_up", "tong = huyen + xa and xa = the sum of the communes, for every count",
           _METRIC_FIX, allowed=(BLOCK,)),
    _table(METRICS, "rows_unique", "one row per (level, unit_code)", _METRIC_FIX, allowed=(BLOCK,)),
)

_BY_KEY = {(c.source, c.name): c for c in CHECKS}


def get_check(source: str, name: str) -> Check:
    try:
        return _BY_KEY[(source, name)]
    except KeyError:
        known = ", ".join(c.name for c in CHECKS if c.source == source)
        raise KeyError(f"no check {source}.{name}; known {source} checks: {known or '(none: unknown source)'}"
                       ) from None


def checks_of(source: str) -> tuple[Check, ...]:
    return tuple(c for c in CHECKS if c.source == source)


def validate_severities(config: Mapping[str, Mapping[str, str]]) -> None:
    """Raise ``ValueError`` for an unknown source or check, or a severity the check does not allow."""
    problems = []
    for source, checks in config.items():
        if source not in SOURCES:
            problems.append(f"unknown source {source!r} (sources: {', '.join(SOURCES)})")
            continue
        if not isinstance(checks, Mapping):
            problems.append(f"{source}: expected a mapping of check name to severity")
            continue
        for name, severity in checks.items():
            if (source, name) not in _BY_KEY:
                known = ", ".join(c.name for c in checks_of(source))
                problems.append(f"unknown check {source}.{name} (known: {known})")
                continue
            check = _BY_KEY[(source, name)]
            if severity not in SEVERITIES:
                problems.append(f"{check.key}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
            elif severity not in check.allowed:
                problems.append(f"{check.key}: severity {severity!r} is not allowed for this check "
                                f"(allowed: {', '.join(check.allowed)})")
    if problems:
        raise ValueError("; ".join(problems))
