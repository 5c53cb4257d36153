"""A scaled month for load tests: each window's records served ``factor`` times, as distinct records.

Why: a province's month is up to a million dossiers, the bundled data a few tens of thousands. A copy
gets its own id (the sequence number at the end of ``MaHoSo`` / ``id`` moved up by 10,000 / 1,000 per
copy) and its times moved by as many seconds as its copy number, so that a parser meets distinct values
as it would in real data. A record whose times would change local date when moved keeps its times: the
windows are whole local days, so every copy is served by exactly the windows that serve its original,
and every count of a copy equals its original's (a day, an order, a due date compare the same).

What a scaled month does not keep of ``docs/sources.md``: the hotline's ``id`` order is no longer the
``received_at`` order across copies (the pipeline does not rely on it). Opt-in (``--scale``), never the
default.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

DOSSIER_TIMES = ("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayCapNhat")
FEEDBACK_TIMES = ("received_at", "due_at", "answered_at")
DOSSIER_SEQ_STEP = 10_000  # MaHoSo ends in a 4-digit sequence number: copies never collide
FEEDBACK_SEQ_STEP = 1_000  # feedback ids end in a 3-digit one
COMPACT = "%Y%m%d%H%M%S"


def _renumber(record_id: str, copy: int, step: int) -> str:
    head, _, seq = record_id.rpartition("-")
    return f"{head}-{int(seq) + copy * step:0{len(seq)}d}"


def _moved_compact(text: str, seconds: int) -> str:
    return (datetime.strptime(text, COMPACT) + timedelta(seconds=seconds)).strftime(COMPACT)


def _moved_iso(text: str, seconds: int) -> str:
    return (datetime.fromisoformat(text) + timedelta(seconds=seconds)).isoformat()


def _copy(record: dict[str, Any], copy: int, id_field: str, step: int, times: tuple[str, ...],
          move: Callable[[str, int], str], day: slice) -> dict[str, Any]:
    clone = dict(record)
    if isinstance(clone.get("LePhi"), dict):
        clone["LePhi"] = dict(clone["LePhi"])
    clone[id_field] = _renumber(record[id_field], copy, step)
    if copy:
        moved = {name: move(record[name], copy) for name in times if isinstance(record.get(name), str)}
        if all(value[day] == record[name][day] for name, value in moved.items()):  # same local dates
            clone.update(moved)
    return clone


def copy_dossier(record: dict[str, Any], copy: int) -> dict[str, Any]:
    """Copy number ``copy`` of a dossier (copy 0 is the record itself, as a new dict)."""
    return _copy(record, copy, "MaHoSo", DOSSIER_SEQ_STEP, DOSSIER_TIMES, _moved_compact, slice(0, 8))


def copy_feedback(item: dict[str, Any], copy: int) -> dict[str, Any]:
    """Copy number ``copy`` of a feedback item (copy 0 is the item itself, as a new dict)."""
    return _copy(item, copy, "id", FEEDBACK_SEQ_STEP, FEEDBACK_TIMES, _moved_iso, slice(0, 10))


def scaled_dossiers(records: list[dict[str, Any]], factor: int) -> list[dict[str, Any]]:
    """``factor`` copies of each dossier, ordered by ``MaHoSo`` as the contract orders them."""
    return sorted((copy_dossier(r, c) for c in range(factor) for r in records), key=lambda r: r["MaHoSo"])


def scaled_feedback(items: list[dict[str, Any]], factor: int) -> list[dict[str, Any]]:
    """``factor`` copies of each feedback item, ordered by ``id``."""
    return sorted((copy_feedback(i, c) for c in range(factor) for i in items), key=lambda i: i["id"])
