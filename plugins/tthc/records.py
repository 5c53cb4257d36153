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


# Exact Python types of ``json.loads`` output that are fine for each contract type (null always is): the
# fast path of ``type_problems``, which runs on every field of every record. Anything else goes through
# ``json_type`` (subclasses, wrong types), so the answer is the same as checking ``json_type`` alone.
_FINE = {"string": (str,), "integer": (int,), "boolean": (bool,), "object": (dict,), "number": (int, float)}
Plan = tuple[tuple[str, str, str, frozenset[type], str], ...]


def _plan(types: Mapping[str, str]) -> Plan:
    """(name, head, member, fine exact types, expected) per field of a contract."""
    return tuple((name, name.partition(".")[0], name.partition(".")[2],
                  frozenset((type(None), *_FINE.get(expected, ()))), expected) for name, expected in types.items())


# The two contracts' plans, made once: type_problems runs on every record of every page.
_PLANS = {id(DOSSIER_JSON_TYPES): _plan(DOSSIER_JSON_TYPES), id(FEEDBACK_JSON_TYPES): _plan(FEEDBACK_JSON_TYPES)}


def type_problems(raw: Mapping[str, Any], types: Mapping[str, str]) -> list[TypeProblem]:
    """Every allow-listed field of ``raw`` whose JSON type is not the contract's (null is left to the checks).

    Why before any value is used: a field of the wrong type may carry anything (an object holding a
    name and a phone number where a unit code belongs); turned into text it would reach the Parquet,
    the quality results and the pages people open. Only its name and its type are ever kept.
    """
    problems = []
    for name, head, member, fine, expected in _PLANS.get(id(types)) or _plan(types):
        value = raw.get(head)
        if member:
            if type(value) is not dict and not isinstance(value, Mapping):
                continue  # the object itself is checked under its own name
            value = value.get(member)
        if type(value) in fine:
            continue
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
    return keep_dossier(raw)


_FEE_AT = DOSSIER_FIELDS.index("LePhi_present")  # the flattened fee's three columns sit between the others
_BEFORE_FEE, _AFTER_FEE = DOSSIER_FIELDS[:_FEE_AT], DOSSIER_FIELDS[_FEE_AT + 3:]


def keep_dossier(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The allowed fields of a dossier already type-checked (``clean_dossier`` without its checks), in landing order.

    Why apart: the connectors check each record once (``RecordSet.add``) and keep it with this; checking
    again per record cost as much as reading the page.
    """
    fee = raw.get("LePhi")
    record = {name: raw.get(name) for name in _BEFORE_FEE}
    record["LePhi_present"] = fee is not None
    record["LePhi_SoTien"] = fee.get("SoTien") if fee else None
    record["LePhi_ThanhToanTrucTuyen"] = fee.get("ThanhToanTrucTuyen") if fee else None
    for name in _AFTER_FEE:
        record[name] = raw.get(name)
    return record


def clean_feedback(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the allowed fields of one type-checked feedback item (never the citizen's name, phone or text)."""
    item_id = record_id(raw, "id", HOTLINE, "a feedback item")
    problems = type_problems(raw, FEEDBACK_JSON_TYPES)
    if problems:
        raise RecordError(f"{HOTLINE}: feedback {item_id}: wrong JSON type of "
                          + ", ".join(f"{p.field} ({p.got}, expected {p.expected})" for p in problems))
    return keep_feedback(raw)


def keep_feedback(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The allowed fields of a feedback item already type-checked (``clean_feedback`` without its checks)."""
    return {name: raw.get(name) for name in FEEDBACK_FIELDS}


class RecordSet:
    """The distinct records of one listing: kept records by id (the newest version wins) and rejected ones.

    Why one place for it: both connectors must deduplicate by id, set aside records whose fields have
    the wrong JSON type (named by id and field, their values dropped) and count what they saw. An id
    rejected in any copy stays rejected even if another copy is well-typed: a record the source sent
    broken once is not silently counted from a different copy.

    Why Arrow batches, one per page, and the merge at the end: a unit of a million dossiers held as Python
    dicts took about 2.5 GB before it was landed. Keeping even only the ids as Python strings costs almost
    as much: each id is a small object allocated among its page's parsed JSON, and it keeps that page's
    memory from being returned after the page is gone. So nothing of a page stays in Python: its cleaned
    records become one record batch of the landing schema (``tthc.landing``), and repeats are merged over
    the columns when the table is asked for (by id; the greatest ``version_field`` wins, then the latest
    copy). Only rejected ids, which are rare, are kept as strings.
    """

    def __init__(self, system: str, id_field: str, types: Mapping[str, str],
                 clean: Callable[[Mapping[str, Any]], dict[str, Any]], version_field: str | None = None) -> None:
        self.system, self.id_field, self.types, self.clean = system, id_field, types, clean
        self.version_field = version_field
        self.rejected: dict[str, list[TypeProblem]] = {}
        self.seen = 0  # records read, every copy, rejected ones included
        self._batches: list[Any] = []  # pyarrow RecordBatch of each page's well-typed records
        self._pass_start = 0  # the first batch of the current pass
        self._pass_rejected: set[str] = set()
        self._counted: tuple[tuple[int, int, int], int] | None = None  # the last _distinct: (its key, count)

    def add(self, raws: list[Any], where: str) -> None:
        """Add one page of raw records (``where`` names the page for errors)."""
        good: list[dict[str, Any]] = []
        for position, raw in enumerate(raws, start=1):
            rid = record_id(raw, self.id_field, self.system, f"{where}, record {position}")
            self.seen += 1
            problems = type_problems(raw, self.types)
            if problems or rid in self.rejected:
                self.rejected.setdefault(rid, problems)
                self._pass_rejected.add(rid)
                continue
            good.append(self.clean(raw))
        if good:
            from tthc.landing import record_batch

            self._batches.append(record_batch(good, self.system))

    def new_pass(self) -> None:
        """A new read of the whole listing starts: ``in_pass`` counts from here."""
        self._pass_start, self._pass_rejected = len(self._batches), set()

    def in_pass(self) -> int:
        """Distinct ids read since the pass began (kept and rejected)."""
        return self._distinct(self._pass_start, self._pass_rejected)

    def __len__(self) -> int:
        """Distinct ids read (kept and rejected)."""
        return self._distinct(0, self.rejected)

    def over(self, limit: int) -> bool:
        """Whether more than ``limit`` distinct ids were read (counted only once the copies read exceed it)."""
        return self.seen > limit and len(self) > limit

    @property
    def repeats(self) -> int:
        """Copies read of an id already read."""
        return self.seen - len(self)

    @property
    def kept(self) -> int:
        """How many distinct records are kept."""
        return len(self) - len(self.rejected)

    def _distinct(self, start: int, more: Iterable[str]) -> int:
        """Distinct ids in the batches from ``start`` on and in ``more`` (remembered until a batch is added)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        extra = sorted(set(more))
        key = (start, len(self._batches), len(extra))
        if self._counted is not None and self._counted[0] == key:
            return self._counted[1]
        columns = [batch.column(self.id_field) for batch in self._batches[start:]]
        ids = pc.unique(pa.chunked_array(columns, type=pa.string()))
        extra_ids = pa.array(extra, type=pa.string())
        count = len(ids) + len(extra) - int(pc.sum(pc.is_in(extra_ids, value_set=ids)).as_py() or 0)
        del ids
        pa.default_memory_pool().release_unused()  # the hash table's memory, back to the system
        self._counted = (key, count)
        return count

    def table(self) -> Any:
        """The kept records as a pyarrow Table of the landing schema, one row per id, sorted by id.

        Built a column at a time, each column of the pages let go once taken, so the merge needs little
        more than the records themselves; the set then holds the merged table in place of its pages.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from tthc.landing import empty_table

        if not self._batches:
            return empty_table(self.system)
        schema = self._batches[0].schema
        columns = {name: pa.chunked_array([batch.column(name) for batch in self._batches], type=field.type)
                   for name, field in zip(schema.names, schema, strict=True)}
        self._batches = []  # the columns above now hold the pages' buffers, each until it is taken
        ids = columns[self.id_field]
        rows = np.arange(len(ids))
        if self.rejected:
            rejected = pa.array(sorted(self.rejected), type=pa.string())
            rows = rows[pc.invert(pc.is_in(ids, value_set=rejected)).to_numpy(zero_copy_only=False)]
        order = pa.table({"id": pc.take(ids, rows), "copy": rows})
        keys = [("id", "ascending", "at_end")]
        if self.version_field:
            order = order.append_column("version", pc.take(columns[self.version_field], rows))
            keys.append(("version", "descending", "at_end"))  # a missing version is the oldest
        keys.append(("copy", "descending", "at_end"))
        indices = pc.sort_indices(order, sort_keys=keys)
        sorted_ids = pc.take(order["id"], indices).combine_chunks()
        first = np.ones(len(sorted_ids), dtype=bool)  # the first row of each id after the sort is the copy kept
        if len(sorted_ids) > 1:
            first[1:] = pc.not_equal(sorted_ids[1:], sorted_ids[:-1]).to_numpy(zero_copy_only=False)
        keep = pc.take(order["copy"], pc.filter(indices, pa.array(first)))
        del order, indices, sorted_ids, ids
        merged = {}
        for name in schema.names:
            merged[name] = pc.take(columns.pop(name), keep).combine_chunks()
        table = pa.table(merged, schema=schema)
        self._batches = table.to_batches()
        self._counted = None
        pa.default_memory_pool().release_unused()
        return table

    def records(self) -> list[dict[str, Any]]:
        """The kept records as dicts, sorted by id (small listings and tests; a connector lands ``table``)."""
        return list(self.table().to_pylist())

    def rejections(self) -> list[dict[str, str]]:
        """``{id, field, expected, got}`` per wrong-typed field, sorted; never a value."""
        return [problem.to_dict(rid) for rid in sorted(self.rejected) for problem in self.rejected[rid]]
