"""Broken records on demand: the source data a quality gate must catch, served only when asked for.

Why: the pipeline's data-quality checks must be seen to catch every kind of broken record a real
system can send (a status outside the code list, a time in the wrong format, a resolved dossier
without a due date, a commune of another district...). Off by default: without a ``corrupt`` spec the
simulator serves exactly what it always did.

A spec maps a district to the kinds of breakage it serves, each with a number of records::

    {"872": ["no_due_date", "foreign_unit", "bad_status*200"]}      # Python API
    --corrupt "872:no_due_date,foreign_unit,bad_status*200"         # command line (repeatable)

``kind`` alone breaks :data:`DEFAULT_COUNT` records (few enough to be quarantined); ``kind*N`` breaks N
(enough to exceed a quarantine limit and block the district). Which records break is deterministic:
evenly spread over the eligible records of the window, a record broken by one kind only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
    "DEFAULT_COUNT",
    "DOSSIER_KINDS",
    "FEEDBACK_KINDS",
    "KINDS",
    "Corruption",
    "corrupt_dossiers",
    "corrupt_feedback",
    "parse_spec",
]

DEFAULT_COUNT = 3
_COMPACT = "%Y%m%d%H%M%S"

Spec = dict[str, tuple[tuple[str, int], ...]]


@dataclass(frozen=True)
class Corruption:
    """One kind of breakage: which records it may touch and what it does to a copy of one."""

    eligible: Callable[[dict[str, Any], _Window], bool]
    mutate: Callable[[dict[str, Any], _Window], None]
    doc: str


@dataclass(frozen=True)
class _Window:
    start: date
    end: date
    foreign_unit: str  # a commune code of another district (or a code of no district)

    @property
    def start_compact(self) -> str:
        return self.start.strftime(_COMPACT)

    @property
    def end_compact(self) -> str:
        return self.end.strftime(_COMPACT)


def _t(value: str) -> datetime:
    return datetime.strptime(value, _COMPACT)


def _c(moment: datetime) -> str:
    return moment.strftime(_COMPACT)


def _any(record: dict[str, Any], window: _Window) -> bool:
    return True


def _set(field: str, value: Any) -> Callable[[dict[str, Any], _Window], None]:
    def mutate(record: dict[str, Any], window: _Window) -> None:
        record[field] = value

    return mutate


def _bad_time(record: dict[str, Any], window: _Window) -> None:
    received = record["NgayTiepNhan"]
    # Half of them in another format, half an impossible date (month 13) of the right shape.
    if int(received[-1]) % 2:
        record["NgayTiepNhan"] = _t(received).strftime("%Y-%m-%d %H:%M:%S")
    else:
        record["NgayTiepNhan"] = received[:4] + "13" + received[6:]


def _finished_in_window(record: dict[str, Any], window: _Window) -> bool:
    end = record.get("NgayKetThucXuLy")
    return record.get("TrangThaiHoSo") in (9, 10) and end is not None and window.start_compact <= end < \
        window.end_compact


def _ended_late_enough(record: dict[str, Any], window: _Window) -> bool:
    return record.get("NgayKetThucXuLy") is not None and record["NgayTiepNhan"] >= _c(
        datetime.combine(window.start, datetime.min.time()) + timedelta(days=1))


def _end_before_received(record: dict[str, Any], window: _Window) -> None:
    record["NgayKetThucXuLy"] = _c(_t(record["NgayTiepNhan"]) - timedelta(hours=1))


def _due_before_received(record: dict[str, Any], window: _Window) -> None:
    record["NgayHenTra"] = _c(_t(record["NgayTiepNhan"]) - timedelta(days=1))


def _has_fee(record: dict[str, Any], window: _Window) -> bool:
    fee = record.get("LePhi")
    return isinstance(fee, dict) and (fee.get("SoTien") or 0) > 0


def _negative_fee(record: dict[str, Any], window: _Window) -> None:
    record["LePhi"] = {**record["LePhi"], "SoTien": -record["LePhi"]["SoTien"]}


def _open(record: dict[str, Any], window: _Window) -> bool:
    return record.get("NgayKetThucXuLy") is None


def _after_window(record: dict[str, Any], window: _Window) -> None:
    received = datetime.combine(window.end, datetime.min.time()) + timedelta(days=1, hours=9)
    record["NgayTiepNhan"] = record["NgayCapNhat"] = _c(received)
    if record.get("NgayHenTra") is not None:
        record["NgayHenTra"] = _c(received + timedelta(days=10))


def _answered(item: dict[str, Any], window: _Window) -> bool:
    return item.get("status") == "answered"


def _feedback_before_window(item: dict[str, Any], window: _Window) -> None:
    item["received_at"] = (window.start - timedelta(days=1)).isoformat() + item["received_at"][10:]


DOSSIER_KINDS: dict[str, Corruption] = {
    "bad_status": Corruption(_any, _set("TrangThaiHoSo", 11), "TrangThaiHoSo 11 (not in 1..10)"),
    "bad_channel": Corruption(_any, _set("KenhThucHien", 4), "KenhThucHien 4 (not 1, 2 or 3)"),
    "bad_time_format": Corruption(_any, _bad_time, "NgayTiepNhan as 'YYYY-MM-DD HH:MM:SS' or with month 13"),
    "received_after_finished": Corruption(_ended_late_enough, _end_before_received,
                                          "NgayKetThucXuLy an hour before NgayTiepNhan"),
    "received_after_due": Corruption(lambda r, w: r.get("NgayHenTra") is not None, _due_before_received,
                                     "NgayHenTra a day before NgayTiepNhan"),
    "no_due_date": Corruption(_finished_in_window, _set("NgayHenTra", None),
                              "a dossier resolved in the window without NgayHenTra"),
    "no_end_time": Corruption(_finished_in_window, _set("NgayKetThucXuLy", None),
                              "a finished dossier (status 9/10) without NgayKetThucXuLy"),
    "no_digitization_flag": Corruption(_finished_in_window, _set("SoHoaKetQua", None),
                                       "a finished dossier with SoHoaKetQua null"),
    "negative_fee": Corruption(_has_fee, _negative_fee, "LePhi.SoTien negative"),
    "foreign_unit": Corruption(_any, lambda r, w: r.__setitem__("MaDonVi", w.foreign_unit),
                               "MaDonVi of a commune of another district"),
    "missing_unit": Corruption(_any, _set("MaDonVi", None), "MaDonVi null"),
    "outside_window": Corruption(_open, _after_window, "an open dossier received a day after the window"),
    "duplicate_id": Corruption(_any, lambda r, w: None,
                               "a stale copy (older NgayCapNhat, other status and channel) served beside the record"),
}

FEEDBACK_KINDS: dict[str, Corruption] = {
    "feedback_bad_category": Corruption(_any, _set("category", "xay_dung"), "category xay_dung (not in the list)"),
    "feedback_bad_status": Corruption(_any, _set("status", "closed"), "status closed (not in the list)"),
    "feedback_bad_channel": Corruption(_any, _set("channel", "fax"), "channel fax (not in the list)"),
    "feedback_no_answered_at": Corruption(_answered, _set("answered_at", None), "answered without answered_at"),
    "feedback_bad_time_format": Corruption(_any, lambda r, w: r.__setitem__("received_at", r["received_at"][:19]),
                                           "received_at without its offset"),
    "feedback_foreign_unit": Corruption(_any, lambda r, w: r.__setitem__("unit_code", w.foreign_unit),
                                        "unit_code of a commune of another district"),
    "feedback_outside_window": Corruption(_any, _feedback_before_window, "received_at a day before the window"),
    "feedback_bad_satisfaction": Corruption(_answered, _set("satisfaction", 7), "satisfaction 7 (not 1..5)"),
    "feedback_no_due": Corruption(lambda r, w: r.get("status") != "rejected", _set("due_at", None),
                                  "an open or answered item without due_at"),
}

KINDS: tuple[str, ...] = (*DOSSIER_KINDS, *FEEDBACK_KINDS)


def _kind(text: str) -> tuple[str, int]:
    name, _, count = text.strip().partition("*")
    name = name.strip()
    if name not in DOSSIER_KINDS and name not in FEEDBACK_KINDS:
        raise ValueError(f"unknown corruption kind {name!r}; known: {', '.join(KINDS)}")
    if not count:
        return name, DEFAULT_COUNT
    if not count.strip().isdigit() or int(count) < 1:
        raise ValueError(f"corruption {text!r}: the count after '*' must be an integer >= 1")
    return name, int(count)


def parse_spec(spec: str | Iterable[str] | Mapping[str, Iterable[str] | str] | None) -> Spec:
    """Normalize ``{"872": ["no_due_date", "bad_status*200"]}`` or ``"872:no_due_date,bad_status*200;874:..."``."""
    if not spec:
        return {}
    if isinstance(spec, str):
        spec = [spec]
    if not isinstance(spec, Mapping):
        parts: dict[str, list[str]] = {}
        for text in spec:
            for chunk in (c for c in text.split(";") if c.strip()):
                district, sep, kinds = chunk.partition(":")
                if not sep or not district.strip():
                    raise ValueError(f"corruption spec {chunk!r}: expected DISTRICT:kind[,kind*N...]")
                parts.setdefault(district.strip(), []).extend(k for k in kinds.split(",") if k.strip())
        spec = parts
    out: Spec = {}
    for district, kinds in spec.items():
        items = kinds.split(",") if isinstance(kinds, str) else list(kinds)
        out[str(district)] = tuple(_kind(k) for k in items if str(k).strip())
    return out


def _pick(records: list[dict[str, Any]], window: _Window, corruption: Corruption, count: int,
          used: set[int]) -> list[int]:
    eligible = [i for i, r in enumerate(records) if i not in used and corruption.eligible(r, window)]
    if not eligible:
        return []
    count = min(count, len(eligible))
    step = len(eligible) / count
    chosen = [eligible[int(j * step)] for j in range(count)]
    used.update(chosen)
    return chosen


def _apply(records: list[dict[str, Any]], kinds: Iterable[tuple[str, int]], table: dict[str, Corruption],
           window: _Window, id_field: str) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    out = list(records)
    used: set[int] = set()
    broken: dict[str, list[str]] = {}
    stale: dict[int, dict[str, Any]] = {}
    for name, count in kinds:
        if name not in table:
            continue
        for index in _pick(records, window, table[name], count, used):
            copy = dict(records[index])
            if isinstance(copy.get("LePhi"), dict):
                copy["LePhi"] = dict(copy["LePhi"])
            if name == "duplicate_id":
                copy["NgayCapNhat"] = "20000101000000"
                copy["TrangThaiHoSo"] = 5 if copy.get("TrangThaiHoSo") != 5 else 4
                copy["KenhThucHien"] = 1 if copy.get("KenhThucHien") != 1 else 2
                stale[index] = copy
            else:
                table[name].mutate(copy, window)
                out[index] = copy
            broken.setdefault(name, []).append(str(records[index][id_field]))
    if stale:
        out = [r for i, record in enumerate(out) for r in ((stale[i], record) if i in stale else (record,))]
    return out, broken


def corrupt_dossiers(records: list[dict[str, Any]], kinds: Iterable[tuple[str, int]], active_from: date,
                     active_to: date, foreign_unit: str) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The window's dossiers with the asked breakage (copies; the input is not touched), and the ids per kind."""
    return _apply(records, kinds, DOSSIER_KINDS, _Window(active_from, active_to, foreign_unit), "MaHoSo")


def corrupt_feedback(items: list[dict[str, Any]], kinds: Iterable[tuple[str, int]], received_from: date,
                     received_to: date, foreign_unit: str) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The window's feedback with the asked breakage (copies), and the ids per kind."""
    return _apply(items, kinds, FEEDBACK_KINDS, _Window(received_from, received_to, foreign_unit), "id")
