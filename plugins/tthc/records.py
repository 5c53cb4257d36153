"""The records we keep from each source: an allow-list of fields, personal data never among them.

Why an allow-list: sources.md names the personal fields (``ChuHoSo``, ``SoDienThoai``,
``citizen_name``, ``phone``, ``content``), but a source may add another one tomorrow. Copying only
the fields the metrics need guarantees that nothing personal reaches disk, logs, XCom, the
warehouse or a report, whatever the source sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ONE_STOP = "one-stop dossier system (tthc_one_stop)"
HOTLINE = "hotline 1022 system (tthc_hotline_1022)"

PERSONAL_FIELDS = frozenset({"ChuHoSo", "SoDienThoai", "citizen_name", "phone", "content"})

# Landed dossier columns, in order. LePhi is flattened: LePhi_present tells null from an object.
DOSSIER_FIELDS: tuple[str, ...] = (
    "MaHoSo",
    "MaTTHC",
    "TenTTHC",
    "MaLinhVuc",
    "TenLinhVuc",
    "MaDonVi",
    "KenhThucHien",
    "NgayTiepNhan",
    "NgayHenTra",
    "NgayKetThucXuLy",
    "NgayTra",
    "TrangThaiHoSo",
    "SoHoaHoSo",
    "SoHoaKetQua",
    "LePhi_present",
    "LePhi_SoTien",
    "LePhi_ThanhToanTrucTuyen",
    "NgayCapNhat",
)

FEEDBACK_FIELDS: tuple[str, ...] = (
    "id",
    "received_at",
    "channel",
    "district_code",
    "unit_code",
    "category",
    "status",
    "due_at",
    "answered_at",
    "satisfaction",
)


class RecordError(ValueError):
    """A record whose shape makes it unusable (no id, not an object): names the system and the record."""


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def clean_dossier(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the allowed fields of one dossier; GSO codes and time strings stay text as the source wrote them."""
    if not isinstance(raw, Mapping):
        raise RecordError(f"{ONE_STOP}: a dossier is not a JSON object: {type(raw).__name__}")
    dossier_id = raw.get("MaHoSo")
    if not dossier_id:
        raise RecordError(f"{ONE_STOP}: a dossier has no MaHoSo (fields present: {sorted(set(raw) - PERSONAL_FIELDS)})")
    fee = raw.get("LePhi")
    if fee is not None and not isinstance(fee, Mapping):
        raise RecordError(f"{ONE_STOP}: dossier {dossier_id}: LePhi is neither null nor an object")
    fee = fee or {}
    return {
        "MaHoSo": str(dossier_id),
        "MaTTHC": _text(raw.get("MaTTHC")),
        "TenTTHC": _text(raw.get("TenTTHC")),
        "MaLinhVuc": _text(raw.get("MaLinhVuc")),
        "TenLinhVuc": _text(raw.get("TenLinhVuc")),
        "MaDonVi": _text(raw.get("MaDonVi")),
        "KenhThucHien": raw.get("KenhThucHien"),
        "NgayTiepNhan": _text(raw.get("NgayTiepNhan")),
        "NgayHenTra": _text(raw.get("NgayHenTra")),
        "NgayKetThucXuLy": _text(raw.get("NgayKetThucXuLy")),
        "NgayTra": _text(raw.get("NgayTra")),
        "TrangThaiHoSo": raw.get("TrangThaiHoSo"),
        "SoHoaHoSo": raw.get("SoHoaHoSo"),
        "SoHoaKetQua": raw.get("SoHoaKetQua"),
        "LePhi_present": raw.get("LePhi") is not None,
        "LePhi_SoTien": fee.get("SoTien"),
        "LePhi_ThanhToanTrucTuyen": fee.get("ThanhToanTrucTuyen"),
        "NgayCapNhat": _text(raw.get("NgayCapNhat")),
    }


def clean_feedback(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the allowed fields of one feedback item (never the citizen's name, phone or text)."""
    if not isinstance(raw, Mapping):
        raise RecordError(f"{HOTLINE}: a feedback item is not a JSON object: {type(raw).__name__}")
    item_id = raw.get("id")
    if not item_id:
        fields = sorted(set(raw) - PERSONAL_FIELDS)
        raise RecordError(f"{HOTLINE}: a feedback item has no id (fields present: {fields})")
    record = {field: raw.get(field) for field in FEEDBACK_FIELDS}
    for field in ("id", "received_at", "channel", "district_code", "unit_code", "category", "status", "due_at"):
        record[field] = _text(record[field])
    record["answered_at"] = _text(record["answered_at"])
    return record


def merge_by_id(target: dict[str, dict[str, Any]], records: Iterable[dict[str, Any]], id_field: str,
                version_field: str | None = None) -> int:
    """Add records to ``target`` keyed by id; a repeat keeps the newer version. Returns how many repeats.

    Why: a live source pages records twice or moves them between pages; one dossier must count once,
    and when it changed between two reads, its latest state is the truth.
    """
    repeats = 0
    for record in records:
        key = record[id_field]
        old = target.get(key)
        if old is not None:
            repeats += 1
            if version_field and (old.get(version_field) or "") > (record.get(version_field) or ""):
                continue
        target[key] = record
    return repeats
