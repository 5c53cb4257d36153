"""The records we keep from each source: an allow-list of fields, personal data never among them.

Why an allow-list: docs/sources.md names the personal fields (``ChuHoSo``, ``SoDienThoai``,
``citizen_name``, ``phone``, ``content``), but a source may add another one tomorrow. Copying only
the fields the metrics need guarantees that nothing personal reaches disk, logs, XCom, the
warehouse or a report, whatever the source sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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


# The JSON type of every allow-listed field, as docs/sources.md writes it. ``None`` (JSON null) is always
# accepted here: whether a field may be empty is a data-quality check (``required_fields``), not a
# type. A dossier's fee is an object whose two members are checked as ``LePhi.SoTien`` and
# ``LePhi.ThanhToanTrucTuyen``.
DOSSIER_JSON_TYPES: dict[str, str] = {
    "MaHoSo": "string", "MaTTHC": "string", "TenTTHC": "string", "MaLinhVuc": "string", "TenLinhVuc": "string",
    "MaDonVi": "string", "KenhThucHien": "integer", "NgayTiepNhan": "string", "NgayHenTra": "string",
    "NgayKetThucXuLy": "string", "NgayTra": "string", "TrangThaiHoSo": "integer", "SoHoaHoSo": "boolean",
    "SoHoaKetQua": "boolean", "LePhi": "object", "LePhi.SoTien": "integer", "LePhi.ThanhToanTrucTuyen": "boolean",
    "NgayCapNhat": "string",
}
FEEDBACK_JSON_TYPES: dict[str, str] = {
    "id": "string", "received_at": "string", "channel": "string", "district_code": "string", "unit_code": "string",
    "category": "string", "status": "string", "due_at": "string", "answered_at": "string", "satisfaction": "integer",
}


class RecordError(ValueError):
    """A record whose shape makes it unusable (no id, not an object): names the system and the record."""


@dataclass(frozen=True)
class TypeProblem:
    """An allow-listed field whose JSON type breaks the contract; the value itself is never kept."""

    field: str
    expected: str
    got: str

    def to_dict(self, record_id: str) -> dict[str, str]:
        return {"id": record_id, "field": self.field, "expected": self.expected, "got": self.got}


# Python types of decoded JSON and their JSON names; bool before int, since a bool is an int in Python.
_JSON_TYPES = ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (Mapping, "object"), (list, "array"))


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (``bool`` is not an ``integer``, as in JSON)."""
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def type_problems(raw: Mapping[str, Any], types: Mapping[str, str]) -> list[TypeProblem]:
    """Every allow-listed field of ``raw`` whose JSON type is not the contract's (null is left to the checks).

    Why before any value is used: a field of the wrong type may carry anything (an object holding a
    name and a phone number where a unit code belongs); turned into text it would reach the Parquet,
    the quality results and the pages people open. Only its name and its type are ever kept.
    """
    problems = []
    for name, expected in types.items():
        head, _, member = name.partition(".")
        value = raw.get(head)
        if member:
            if not isinstance(value, Mapping):
                continue  # the object itself is checked under its own name
            value = value.get(member)
        got = json_type(value)
        if got != "null" and got != expected:
            problems.append(TypeProblem(name, expected, got))
    return problems


def record_id(raw: Any, id_field: str, system: str, where: str) -> str:
    """The id of a raw record, which must be a non-empty JSON string; otherwise the record cannot be named.

    The message names the system, where the record was (page, position) and the fields present, never a value.
    """
    if not isinstance(raw, Mapping):
        raise RecordError(f"{system}: {where}: a record is not a JSON object but {json_type(raw)}; "
                          "report this to the system's operator")
    value = raw.get(id_field)
    if not isinstance(value, str) or not value.strip():
        fields = sorted(set(raw) - PERSONAL_FIELDS)
        raise RecordError(f"{system}: {where}: a record has no usable {id_field} (a {json_type(value)}, the contract "
                          f"says a non-empty string; fields present: {fields}); report this to the system's operator")
    return value


def clean_dossier(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the allowed fields of one dossier whose types were checked (``type_problems``); nothing is converted.

    Codes and time strings stay text exactly as the source wrote them; a record with a wrong-typed
    field is an error here, never coerced (the connectors set such records aside before this).
    """
    dossier_id = record_id(raw, "MaHoSo", ONE_STOP, "a dossier")
    problems = type_problems(raw, DOSSIER_JSON_TYPES)
    if problems:
        raise RecordError(f"{ONE_STOP}: dossier {dossier_id}: wrong JSON type of "
                          + ", ".join(f"{p.field} ({p.got}, expected {p.expected})" for p in problems))
    fee = raw.get("LePhi") or {}
    record = {name: raw.get(name) for name in DOSSIER_FIELDS if not name.startswith("LePhi_")}
    record.update({
        "LePhi_present": raw.get("LePhi") is not None,
        "LePhi_SoTien": fee.get("SoTien"),
        "LePhi_ThanhToanTrucTuyen": fee.get("ThanhToanTrucTuyen"),
    })
    return {name: record[name] for name in DOSSIER_FIELDS}


def clean_feedback(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the allowed fields of one type-checked feedback item (never the citizen's name, phone or text)."""
    item_id = record_id(raw, "id", HOTLINE, "a feedback item")
    problems = type_problems(raw, FEEDBACK_JSON_TYPES)
    if problems:
        raise RecordError(f"{HOTLINE}: feedback {item_id}: wrong JSON type of "
                          + ", ".join(f"{p.field} ({p.got}, expected {p.expected})" for p in problems))
    return {name: raw.get(name) for name in FEEDBACK_FIELDS}


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


class RecordSet:
    """The distinct records of one listing: kept records by id (the newest version wins) and rejected ones.

    Why one place for it: both connectors must deduplicate by id, set aside records whose fields have
    the wrong JSON type (named by id and field, their values dropped) and count what they saw. An id
    rejected in any copy stays rejected even if another copy is well-typed: a record the source sent
    broken once is not silently counted from a different copy.
    """

    def __init__(self, system: str, id_field: str, types: Mapping[str, str],
                 clean: Callable[[Mapping[str, Any]], dict[str, Any]], version_field: str | None = None) -> None:
        self.system, self.id_field, self.types, self.clean = system, id_field, types, clean
        self.version_field = version_field
        self.kept: dict[str, dict[str, Any]] = {}
        self.rejected: dict[str, list[TypeProblem]] = {}
        self.repeats = 0

    def add(self, raws: list[Any], where: str) -> set[str]:
        """Add one page of raw records (``where`` names the page for errors); returns the ids it held."""
        ids: set[str] = set()
        good: list[dict[str, Any]] = []
        for position, raw in enumerate(raws, start=1):
            rid = record_id(raw, self.id_field, self.system, f"{where}, record {position}")
            ids.add(rid)
            problems = type_problems(raw, self.types)
            if problems or rid in self.rejected:
                if rid in self.rejected or rid in self.kept:
                    self.repeats += 1
                self.rejected.setdefault(rid, problems)
                self.kept.pop(rid, None)
                continue
            good.append(self.clean(raw))
        self.repeats += merge_by_id(self.kept, good, self.id_field, self.version_field)
        return ids

    def __len__(self) -> int:
        return len(self.kept) + len(self.rejected)

    def records(self) -> list[dict[str, Any]]:
        return [self.kept[key] for key in sorted(self.kept)]

    def rejections(self) -> list[dict[str, str]]:
        """``{id, field, expected, got}`` per wrong-typed field, sorted; never a value."""
        return [problem.to_dict(rid) for rid in sorted(self.rejected) for problem in self.rejected[rid]]

