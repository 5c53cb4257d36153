"""Personal data is dropped at extraction; extracts land with a fixed schema; repeats merge by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from tthc.landing import LandingError, land_dossiers, land_feedback, read_landed
from tthc.records import (
    DOSSIER_JSON_TYPES,
    FEEDBACK_JSON_TYPES,
    HOTLINE,
    ONE_STOP,
    PERSONAL_FIELDS,
    RecordError,
    RecordSet,
    clean_dossier,
    clean_feedback,
)

RAW_DOSSIER = {
    "MaHoSo": "H87.872-231103-0007", "MaTTHC": "1.001", "TenTTHC": "Đăng ký khai sinh", "MaLinhVuc": "HT",
    "TenLinhVuc": "Hộ tịch", "MaDonVi": "872", "KenhThucHien": 2, "NgayTiepNhan": "20231103081500",
    "NgayHenTra": "20231106170000", "NgayKetThucXuLy": None, "NgayTra": None, "TrangThaiHoSo": 4,
    "SoHoaHoSo": True, "SoHoaKetQua": None, "LePhi": {"SoTien": 8000, "ThanhToanTrucTuyen": True},
    "ChuHoSo": "Nguyễn Văn An", "SoDienThoai": "0912345678", "NgayCapNhat": "20231103081500",
    "GhiChuCongDan": "a field the contract does not have",
}
RAW_FEEDBACK = {
    "id": "PA-1", "received_at": "2023-11-03T08:15:00+07:00", "channel": "phone", "district_code": "872",
    "unit_code": "30037", "category": "dat_dai", "status": "new", "due_at": "2023-11-13T08:15:00+07:00",
    "answered_at": None, "satisfaction": None, "citizen_name": "Trần Thị Bình", "phone": "0987654321",
    "content": "Nội dung phản ánh có tên người",
}


def test_dossier_keeps_only_allowed_fields() -> None:
    cleaned = clean_dossier(RAW_DOSSIER)
    assert not set(cleaned) & PERSONAL_FIELDS
    assert "GhiChuCongDan" not in cleaned  # unknown fields are dropped too: an allow-list
    assert cleaned["LePhi_present"] and cleaned["LePhi_SoTien"] == 8000
    assert clean_dossier(RAW_DOSSIER | {"LePhi": None})["LePhi_present"] is False


def test_feedback_keeps_only_allowed_fields() -> None:
    cleaned = clean_feedback(RAW_FEEDBACK)
    assert not set(cleaned) & PERSONAL_FIELDS
    assert cleaned["unit_code"] == "30037"


def test_record_without_id_names_the_system() -> None:
    with pytest.raises(RecordError, match=r"one-stop.*no usable MaHoSo"):
        clean_dossier({k: v for k, v in RAW_DOSSIER.items() if k != "MaHoSo"})
    with pytest.raises(RecordError, match=r"hotline 1022.*no usable id"):
        clean_feedback({k: v for k, v in RAW_FEEDBACK.items() if k != "id"})


def test_merge_keeps_the_newest_version_once() -> None:
    found = RecordSet(ONE_STOP, "MaHoSo", DOSSIER_JSON_TYPES, clean_dossier, "NgayCapNhat")
    new = RAW_DOSSIER | {"TrangThaiHoSo": 9, "NgayCapNhat": "20231105090000"}
    found.add([new], "page 1")
    assert found.repeats == 0
    found.add([RAW_DOSSIER, RAW_DOSSIER], "page 2")  # an older copy, twice on one page: the newer one stays
    assert found.repeats == 2 and len(found) == 1
    assert [r["TrangThaiHoSo"] for r in found.records()] == [9]
    found.add([RAW_DOSSIER | {"TrangThaiHoSo": 10, "NgayCapNhat": "20231106090000"}], "page 3")
    assert [r["TrangThaiHoSo"] for r in found.records()] == [10] and found.repeats == 3


def test_kept_records_are_the_landing_table_sorted_by_id(tmp_path: Path) -> None:
    """Pages arrive in any order; the table is one row per id, sorted, and lands as the dicts would."""
    from tthc.landing import land_table

    found = RecordSet(ONE_STOP, "MaHoSo", DOSSIER_JSON_TYPES, clean_dossier, "NgayCapNhat")
    ids = [f"H87.872-231103-{n:04d}" for n in (5, 1, 9, 3, 7)]
    for page, chunk in enumerate((ids[:2], ids[2:], ids[1:3]), start=1):
        found.add([RAW_DOSSIER | {"MaHoSo": rid} for rid in chunk], f"page {page}")
    table = found.table()
    assert table.column("MaHoSo").to_pylist() == sorted(ids) and found.kept == 5 and found.repeats == 2
    as_dicts = land_dossiers(tmp_path / "dicts.parquet", found.records())
    as_table = land_table(tmp_path / "table.parquet", table)
    assert as_dicts.read_bytes() == as_table.read_bytes()
    empty = RecordSet(ONE_STOP, "MaHoSo", DOSSIER_JSON_TYPES, clean_dossier).table()
    assert empty.num_rows == 0 and empty.schema == table.schema


def test_landed_parquet_round_trips_without_personal_data(tmp_path: Path) -> None:
    path = land_dossiers(tmp_path / "raw" / "dossiers.parquet", [clean_dossier(RAW_DOSSIER)])
    frame = read_landed(path)
    assert frame.loc[0, "MaHoSo"] == "H87.872-231103-0007" and frame.loc[0, "TrangThaiHoSo"] == 4
    fb = read_landed(land_feedback(tmp_path / "raw" / "feedback.parquet", [clean_feedback(RAW_FEEDBACK)]))
    for landed in (frame, fb):
        assert not set(landed.columns) & PERSONAL_FIELDS
        values = {str(v) for v in landed.astype("string").to_numpy().ravel()}
        assert not values & {"Nguyễn Văn An", "0912345678", "Trần Thị Bình", "0987654321", RAW_FEEDBACK["content"]}
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]  # no temporary file left behind


def test_empty_extract_lands_every_column(tmp_path: Path) -> None:
    frame = read_landed(land_feedback(tmp_path / "f.parquet", []))
    assert len(frame) == 0 and "received_at" in frame.columns and "status" in frame.columns


def test_landing_refuses_a_wrong_type_without_quoting_it(tmp_path: Path) -> None:
    """A safety net behind the extraction's type checks: names system, record and field, never the value."""
    bad = clean_dossier(RAW_DOSSIER) | {"MaDonVi": {"name": "Nguyễn Văn An"}}
    with pytest.raises(LandingError, match=r"one-stop.*H87.872-231103-0007.*MaDonVi is a dict") as err:
        land_dossiers(tmp_path / "d.parquet", [bad])
    assert "Nguyễn" not in str(err.value)
    assert not (tmp_path / "d.parquet").exists()


def test_clean_never_converts_a_wrong_type_to_text() -> None:
    with pytest.raises(RecordError, match=r"H87.872-231103-0007: wrong JSON type of TrangThaiHoSo \(string"):
        clean_dossier(RAW_DOSSIER | {"TrangThaiHoSo": "4"})


@pytest.mark.parametrize(("change", "field", "expected", "got"), [
    ({"MaDonVi": {"ten": "Nguyễn Văn An", "sdt": "0912345678"}}, "MaDonVi", "string", "object"),
    ({"MaDonVi": 872}, "MaDonVi", "string", "integer"),
    ({"KenhThucHien": True}, "KenhThucHien", "integer", "boolean"),  # JSON true is not the integer 1
    ({"KenhThucHien": 2.0}, "KenhThucHien", "integer", "number"),
    ({"SoHoaHoSo": "true"}, "SoHoaHoSo", "boolean", "string"),
    ({"LePhi": [8000]}, "LePhi", "object", "array"),
    ({"LePhi": {"SoTien": "8000", "ThanhToanTrucTuyen": True}}, "LePhi.SoTien", "integer", "string"),
    ({"NgayTiepNhan": ["20231103081500"]}, "NgayTiepNhan", "string", "array"),
])
def test_wrong_json_types_are_set_aside_by_id_and_field(change: dict, field: str, expected: str, got: str) -> None:
    found = RecordSet(ONE_STOP, "MaHoSo", DOSSIER_JSON_TYPES, clean_dossier, "NgayCapNhat")
    other = RAW_DOSSIER | {"MaHoSo": "H87.872-231103-0008"}
    found.add([RAW_DOSSIER | change, other], "page 1")
    assert [r["MaHoSo"] for r in found.records()] == ["H87.872-231103-0008"]
    assert found.rejections() == [{"id": "H87.872-231103-0007", "field": field, "expected": expected, "got": got}]
    assert "Nguyễn" not in repr(found.__dict__) and "0912345678" not in repr(found.__dict__)


def test_null_is_left_to_the_quality_checks_and_a_rejected_id_stays_rejected() -> None:
    found = RecordSet(ONE_STOP, "MaHoSo", DOSSIER_JSON_TYPES, clean_dossier, "NgayCapNhat")
    found.add([RAW_DOSSIER | {"MaDonVi": None, "LePhi": None}], "page 1")
    assert len(found.records()) == 1 and not found.rejections()
    found.add([RAW_DOSSIER | {"TrangThaiHoSo": "9"}], "page 2")  # a later copy breaks the contract
    found.add([RAW_DOSSIER], "page 3")  # and a well-typed copy again does not bring it back
    assert found.records() == [] and [r["field"] for r in found.rejections()] == ["TrangThaiHoSo"]
    assert found.repeats == 2 and len(found) == 1


def test_a_copy_rejected_later_on_the_same_page_keeps_the_id_out() -> None:
    """Order does not matter: a well-typed copy before a broken one on one page is not counted either."""
    found = RecordSet(ONE_STOP, "MaHoSo", DOSSIER_JSON_TYPES, clean_dossier, "NgayCapNhat")
    other = RAW_DOSSIER | {"MaHoSo": "H87.872-231103-0008"}
    found.add([RAW_DOSSIER, other, RAW_DOSSIER | {"KenhThucHien": "2"}], "page 1")
    assert [r["MaHoSo"] for r in found.records()] == ["H87.872-231103-0008"]
    assert found.kept == 1 and len(found) == 2 and found.repeats == 1


def test_counts_of_a_pass_and_of_the_whole_listing() -> None:
    found = RecordSet(HOTLINE, "id", FEEDBACK_JSON_TYPES, clean_feedback)
    found.add([RAW_FEEDBACK | {"id": f"PA-{n}"} for n in range(5)], "page 1")
    assert found.in_pass() == len(found) == 5 and not found.over(5) and found.over(4)
    found.new_pass()
    found.add([RAW_FEEDBACK | {"id": f"PA-{n}"} for n in (3, 4, 5)] + [RAW_FEEDBACK | {"id": "PA-6", "status": 1}],
              "page 1 of pass 2")
    assert found.in_pass() == 4 and len(found) == 7 and found.kept == 6 and found.repeats == 2


def test_feedback_types() -> None:
    found = RecordSet(HOTLINE, "id", FEEDBACK_JSON_TYPES, clean_feedback)
    found.add([RAW_FEEDBACK | {"satisfaction": "5"}, RAW_FEEDBACK | {"id": "PA-2"}], "page 1")
    assert [r["id"] for r in found.records()] == ["PA-2"]
    assert found.rejections() == [{"id": "PA-1", "field": "satisfaction", "expected": "integer", "got": "string"}]


@pytest.mark.parametrize("bad_id", [None, "", 7, {"id": 1}, ["PA-1"]])
def test_a_record_without_a_usable_id_stops_the_extraction_naming_where(bad_id: object) -> None:
    found = RecordSet(HOTLINE, "id", FEEDBACK_JSON_TYPES, clean_feedback)
    with pytest.raises(RecordError, match=r"hotline 1022.*page 3, record 2: a record has no usable id"):
        found.add([RAW_FEEDBACK, RAW_FEEDBACK | {"id": bad_id}], "page 3")
