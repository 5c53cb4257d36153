"""Every check of every suite: a record that breaks it is named by that check alone; an edge case passes.

All cases of a source are validated together in one GX run (one frame holding every broken and every
passing record, each with its own id), then each case asserts on the findings: the broken records
are the offending ids of their check and of no other, the passing ones appear nowhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.quality.conftest import COMMUNE, OTHER_COMMUNE, PERIOD, UNIT, dossier, feedback, landed_frame
from tthc.quality.checks import DOSSIERS, FEEDBACK, INPUTS, METRICS, checks_of
from tthc.quality.prepare import prepare_dossiers, prepare_feedback
from tthc.quality.runner import findings
from tthc.quality.suites import dossier_suite, feedback_suite

# check -> (breaking changes, passing changes): each dict of changes makes one record from the valid base.
DOSSIER_CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "required_fields": (
        [{"MaDonVi": None}, {"NgayTiepNhan": None}, {"TrangThaiHoSo": None}, {"SoHoaHoSo": None},
         {"LePhi_SoTien": None}],
        [{"LePhi_present": False, "LePhi_SoTien": None, "LePhi_ThanhToanTrucTuyen": None}, {"MaTTHC": None}]),
    "status_in_set": ([{"TrangThaiHoSo": 11}, {"TrangThaiHoSo": 0}],
                      [{"TrangThaiHoSo": 9}, {"TrangThaiHoSo": 1, "NgayKetThucXuLy": None, "SoHoaKetQua": None}]),
    "channel_in_set": ([{"KenhThucHien": 4}, {"KenhThucHien": 0}], [{"KenhThucHien": 1}, {"KenhThucHien": 3}]),
    "unit_in_district": ([{"MaDonVi": OTHER_COMMUNE}, {"MaDonVi": "99999"}], [{"MaDonVi": COMMUNE}]),
    "time_format": (
        [{"NgayTiepNhan": "2023-11-01 08:00:00"}, {"NgayHenTra": "20231131170000"}, {"NgayTra": "2023110609"},
         {"NgayKetThucXuLy": "20231105250000"}, {"NgayCapNhat": "06/11/2023"}],
        [{"NgayTra": None}, {"NgayTiepNhan": "20231114235959", "NgayHenTra": None, "NgayKetThucXuLy": None,
                             "TrangThaiHoSo": 4, "SoHoaKetQua": None, "NgayTra": None}]),
    "received_before_finished": ([{"NgayKetThucXuLy": "20231101075959"}],
                                 [{"NgayKetThucXuLy": "20231101080000"}]),
    "received_before_due": ([{"NgayHenTra": "20231031170000"}], [{"NgayHenTra": "20231101080000"}]),
    "finished_has_due_date": ([{"NgayHenTra": None}, {"NgayHenTra": None, "TrangThaiHoSo": 9}],
                              [{"NgayHenTra": None, "TrangThaiHoSo": 7}]),
    "finished_has_end_time": ([{"NgayKetThucXuLy": None}, {"NgayKetThucXuLy": None, "TrangThaiHoSo": 8}],
                              [{"NgayKetThucXuLy": None, "TrangThaiHoSo": 4, "SoHoaKetQua": None}]),
    "finished_has_digitization_flag": ([{"SoHoaKetQua": None}], [{"SoHoaKetQua": False},
                                                                 {"SoHoaKetQua": None, "TrangThaiHoSo": 7}]),
    "fee_non_negative": ([{"LePhi_SoTien": -1}], [{"LePhi_SoTien": 0}]),
    "in_window": (
        [{"NgayTiepNhan": "20231115000000", "NgayHenTra": "20231120170000", "NgayKetThucXuLy": None,
          "TrangThaiHoSo": 4, "SoHoaKetQua": None, "NgayTra": None},
         {"NgayTiepNhan": "20231001080000", "NgayHenTra": "20231010170000", "NgayKetThucXuLy": "20231014235959"}],
        [{"NgayTiepNhan": "20231114235959", "NgayHenTra": "20231120170000", "NgayKetThucXuLy": None,
          "TrangThaiHoSo": 4, "SoHoaKetQua": None, "NgayTra": None},
         {"NgayTiepNhan": "20231001080000", "NgayHenTra": "20231010170000", "NgayKetThucXuLy": "20231015000000"},
         {"NgayTiepNhan": "20220301080000", "NgayHenTra": "20220310170000", "NgayKetThucXuLy": None,
          "TrangThaiHoSo": 5, "SoHoaKetQua": None, "NgayTra": None}]),
}

FEEDBACK_CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "required_fields": ([{"category": None}, {"unit_code": None}, {"due_at": None, "status": "new",
                                                                   "answered_at": None, "satisfaction": None}],
                        [{"due_at": None, "status": "rejected", "answered_at": None, "satisfaction": None}]),
    "channel_in_set": ([{"channel": "fax"}, {"channel": "Phone"}], [{"channel": "zalo"}, {"channel": "app"}]),
    "category_in_set": ([{"category": "xay_dung"}], [{"category": "thu_tuc_hanh_chinh"}, {"category": "khac"}]),
    "status_in_set": ([{"status": "closed"}], [{"status": "rejected", "answered_at": None, "satisfaction": None}]),
    "unit_in_district": ([{"district_code": "874"}, {"unit_code": OTHER_COMMUNE}], [{"unit_code": COMMUNE}]),
    "time_format": ([{"received_at": "2023-11-01T08:00:00"}, {"answered_at": "2023-11-05 10:00"},
                     {"due_at": "2023-11-31T08:00:00+07:00"}],
                    [{"received_at": "2023-11-01T01:00:00Z"}, {"answered_at": "2023-11-05T10:00+0700"}]),
    "answered_has_answered_at": ([{"answered_at": None, "satisfaction": None}],
                                 [{"status": "processing", "answered_at": None, "satisfaction": None}]),
    "satisfaction_in_range": ([{"satisfaction": 7}, {"satisfaction": 0}], [{"satisfaction": 5},
                                                                           {"satisfaction": None}]),
    "in_window": ([{"received_at": "2023-10-14T23:59:59+07:00"}, {"received_at": "2023-11-14T17:00:00Z"}],
                  [{"received_at": "2023-10-14T17:00:00Z"}, {"received_at": "2023-11-14T23:59:59+07:00"}]),
}


def _cases(cases: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> list[tuple[str, str, dict]]:
    out = []
    for check, (broken, passing) in cases.items():
        out += [(check, f"B-{check}-{n}", changes) for n, changes in enumerate(broken)]
        out += [(check, f"P-{check}-{n}", changes) for n, changes in enumerate(passing)]
    return out


def _findings(gx_session: Any, source: str, records: list[dict[str, Any]], name: str) -> dict[str, set[str]]:
    if source == DOSSIERS:
        frame = prepare_dossiers(landed_frame(records, source), PERIOD)
        suite = dossier_suite(UNIT, PERIOD, [c for c in frame.columns if c.startswith("q_")])
        id_column = "MaHoSo"
    else:
        frame = prepare_feedback(landed_frame(records, source))
        suite = feedback_suite(UNIT, PERIOD, [c for c in frame.columns if c.startswith("q_")])
        id_column = "id"
    result = gx_session.run(name, frame, suite, source, id_column, {c.name: "block" for c in checks_of(source)})
    return {f.check: set(f.ids) for f in findings(result, id_column)}


@pytest.fixture(scope="module")
def dossier_findings(gx_session: Any) -> dict[str, set[str]]:
    records = [dossier(i, **changes) for _, i, changes in _cases(DOSSIER_CASES)]
    records += [dossier("B-id_unique-0"), dossier("B-id_unique-0", KenhThucHien=1), dossier("P-id_unique-0")]
    return _findings(gx_session, DOSSIERS, records, "test_dossier_cases")


@pytest.fixture(scope="module")
def feedback_findings(gx_session: Any) -> dict[str, set[str]]:
    records = [feedback(i, **changes) for _, i, changes in _cases(FEEDBACK_CASES)]
    records += [feedback("B-id_unique-0"), feedback("B-id_unique-0", channel="web"), feedback("P-id_unique-0")]
    return _findings(gx_session, FEEDBACK, records, "test_feedback_cases")


def _assert_case(found: dict[str, set[str]], check: str, record_id: str) -> None:
    named_by = {name for name, ids in found.items() if record_id in ids}
    if record_id.startswith("B-"):
        assert named_by == {check}, f"{record_id} should fail {check} only, failed {named_by or 'nothing'}"
    else:
        assert named_by == set(), f"{record_id} should pass, failed {named_by}"


@pytest.mark.parametrize(("check", "record_id", "changes"), [
    *_cases(DOSSIER_CASES), ("id_unique", "B-id_unique-0", {}), ("id_unique", "P-id_unique-0", {})])
def test_dossier_check(dossier_findings: dict[str, set[str]], check: str, record_id: str, changes: dict) -> None:
    _assert_case(dossier_findings, check, record_id)


@pytest.mark.parametrize(("check", "record_id", "changes"), [
    *_cases(FEEDBACK_CASES), ("id_unique", "B-id_unique-0", {}), ("id_unique", "P-id_unique-0", {})])
def test_feedback_check(feedback_findings: dict[str, set[str]], check: str, record_id: str, changes: dict) -> None:
    _assert_case(feedback_findings, check, record_id)


def test_every_record_check_has_cases() -> None:
    """field_types has no expectation (decided at extraction): test_field_types.py covers it."""
    record_checks = {c.name for c in checks_of(DOSSIERS) if c.record_level}
    assert record_checks == {*DOSSIER_CASES, "id_unique", "field_types"}
    assert {c.name for c in checks_of(FEEDBACK) if c.record_level} == {*FEEDBACK_CASES, "id_unique", "field_types"}


def test_valid_records_pass_every_check(gx_session: Any) -> None:
    assert _findings(gx_session, DOSSIERS, [dossier("ok-1"), dossier("ok-2")], "test_valid_dossiers") == {}
    assert _findings(gx_session, FEEDBACK, [feedback("ok-1"), feedback("ok-2")], "test_valid_feedback") == {}


def test_empty_extracts_pass(gx_session: Any) -> None:
    """A small district's month without feedback is normal, not a failure."""
    assert _findings(gx_session, DOSSIERS, [], "test_empty_dossiers") == {}
    assert _findings(gx_session, FEEDBACK, [], "test_empty_feedback") == {}


@pytest.mark.parametrize("source", [DOSSIERS, FEEDBACK])
def test_schema_check_names_a_missing_column_and_a_wrong_type(gx_session: Any, source: str) -> None:
    from tthc.quality.prepare import prepare_dossiers, prepare_feedback
    from tthc.quality.suites import dossier_suite, feedback_suite

    records = [dossier("s-1")] if source == DOSSIERS else [feedback("s-1")]
    frame = landed_frame(records, source)
    dropped = "MaTTHC" if source == DOSSIERS else "satisfaction"
    frame = frame.drop(columns=[dropped])
    retyped = "KenhThucHien" if source == DOSSIERS else "channel"
    frame[retyped] = frame[retyped].astype(object)
    prepared = prepare_dossiers(frame, PERIOD) if source == DOSSIERS else prepare_feedback(frame)
    derived = [c for c in prepared.columns if c.startswith("q_")]
    suite = dossier_suite(UNIT, PERIOD, derived) if source == DOSSIERS else feedback_suite(UNIT, PERIOD, derived)
    id_column = "MaHoSo" if source == DOSSIERS else "id"
    result = gx_session.run(f"test_schema_{source}", prepared, suite, source, id_column,
                            {c.name: "block" for c in checks_of(source)})
    found = {f.check: f for f in findings(result, id_column)}
    assert "schema" in found
    # Other checks on the missing column cannot run: they fail as a whole, never as quarantinable records.
    assert all(f.observed and not f.record_level for name, f in found.items() if name != "schema")
    text = " ".join(found["schema"].expectations + found["schema"].observed)
    assert dropped in text and retyped in text
    assert found["schema"].record_level is False  # a schema failure is never quarantined


# ---- operator inputs ---------------------------------------------------------------------------

def _inputs(**fields: Any) -> Any:
    from tthc.inputs import Inspections, OperatorInputs

    inspections = fields.pop("inspections", None)
    return OperatorInputs.model_construct(
        unit_code=fields.get("unit_code"), period=fields.get("period"), resources=None, assessment=[],
        shortcomings=[], inspections=None if inspections is None else Inspections.model_construct(**inspections))


@pytest.mark.parametrize(("check", "broken", "passing"), [
    ("counts_non_negative", {"inspections": {"count": 0, "violations": -1, "findings": None}},
     {"inspections": {"count": 0, "violations": 0, "findings": None}}),
    ("violations_within_count", {"inspections": {"count": 2, "violations": 3, "findings": "x"}},
     {"inspections": {"count": 3, "violations": 3, "findings": "x"}}),
    ("findings_when_violations", {"inspections": {"count": 2, "violations": 1, "findings": None}},
     {"inspections": {"count": 2, "violations": 0, "findings": None}}),
    ("matches_unit_and_period", {"unit_code": "874"}, {"unit_code": "872", "period": "2023-11"}),
    ("matches_unit_and_period", {"period": "2023-10"}, {}),
])
def test_inputs_check(gx_session: Any, check: str, broken: dict, passing: dict) -> None:
    from tthc.quality.prepare import inputs_frame
    from tthc.quality.suites import inputs_suite

    severities = {c.name: "block" for c in checks_of(INPUTS)}
    outcome = {}
    for name, fields in (("broken", broken), ("passing", passing)):
        result = gx_session.run(f"test_inputs_{check}_{name}_{id(fields)}", inputs_frame(_inputs(**fields), "872"),
                                inputs_suite(UNIT, PERIOD), INPUTS, "unit", severities)
        outcome[name] = {f.check for f in findings(result, "unit")}
    assert outcome == {"broken": {check}, "passing": set()}


# ---- computed metrics ----------------------------------------------------------------------------

def _metric_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from tthc.metrics import dossier_flags, dossier_metrics, feedback_flags, feedback_metrics

    records = [dossier("m-1"), dossier("m-2", MaDonVi=COMMUNE, KenhThucHien=1),
               dossier("m-3", TrangThaiHoSo=4, NgayKetThucXuLy=None, SoHoaKetQua=None, NgayTra=None)]
    items = [feedback("f-1"), feedback("f-2", status="new", answered_at=None, satisfaction=None)]
    rows = dossier_metrics(dossier_flags(landed_frame(records, DOSSIERS), UNIT, PERIOD), UNIT, PERIOD)
    return rows, feedback_metrics(feedback_flags(landed_frame(items, FEEDBACK), PERIOD), UNIT, PERIOD)


def _tamper_row(rows: list[dict[str, Any]], level: str, **changes: Any) -> list[dict[str, Any]]:
    return [{**r, **changes} if r["level"] == level else dict(r) for r in rows]


@pytest.mark.parametrize(("check", "tamper"), [
    ("counts_non_negative", lambda rows, fb: (_tamper_row(rows, "huyen", withdrawn=-1), fb)),
    ("parts_within_whole", lambda rows, fb: (_tamper_row(rows, "xa", received_online=5), fb)),
    # early + on time + late no longer make resolved, while tong = huyen + xa still holds
    ("partitions_add_up", lambda rows, fb: (_tamper_row(_tamper_row(rows, "huyen", resolved_early=0), "tong",
                                                        resolved_early=1), fb)),
    ("rates_in_range", lambda rows, fb: (_tamper_row(rows, "tong", online_rate=100.01), fb)),
    ("levels_add_up", lambda rows, fb: (_tamper_row(rows, "tong", pending=7), fb)),
    ("rows_unique", lambda rows, fb: ([*rows, dict(rows[0])], fb)),
    ("parts_within_whole", lambda rows, fb: (rows, {**fb, "feedback_rejected": 9})),
    ("partitions_add_up", lambda rows, fb: (rows, {**fb, "feedback_late": 5})),
])
def test_metrics_check(gx_session: Any, tmp_path: Any, check: str, tamper: Any) -> None:
    from tthc.config import Quality
    from tthc.quality import QualityError
    from tthc.quality.district import validate_metrics

    rows, fb = _metric_rows()
    validate_metrics(Quality(), tmp_path, PERIOD, UNIT, rows, fb, session=gx_session)  # the true figures pass
    bad_rows, bad_fb = tamper(rows, fb)
    with pytest.raises(QualityError) as caught:
        validate_metrics(Quality(), tmp_path, PERIOD, UNIT, bad_rows, bad_fb, session=gx_session)
    message = str(caught.value)
    assert f"{METRICS}.{check}" in message and "computed metrics" in message
    assert f"{METRICS}.{check}" in (tmp_path / "quality" / "2023-11" / "872" / "index.html").read_text("utf-8")
