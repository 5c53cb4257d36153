"""A scaled simulator (``--scale N``, for load tests) serves N distinct copies of each record, counting alike.

What a benchmark of a province's month relies on: every copy has its own id, the copies are served by
exactly the windows that serve the original (times moved only within their local day), and so every
day-based count of a scaled month is N times the original's. Fetched through the pipeline's own clients.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from simulator.__main__ import build_parser
from simulator.server import DEFAULT_HOTLINE_KEY, DEFAULT_ONE_STOP_TOKEN, make_server, start_in_thread
from tthc.sources import fetch_dossiers, fetch_feedback

FACTOR = 3
DISTRICT, START, END = "872", date(2023, 10, 15), date(2023, 11, 15)  # Tháp Mười, nd09 period 2023-11


def _month(scale: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with start_in_thread(quiet=True, scale=scale) as sim:
        return (fetch_dossiers(sim.base_url, DEFAULT_ONE_STOP_TOKEN, DISTRICT, START, END).records,
                fetch_feedback(sim.base_url, DEFAULT_HOTLINE_KEY, DISTRICT, START, END).records)


def _day(value: str | None, width: int) -> str | None:
    return None if value is None else value[:width]


def test_a_scaled_month_is_n_distinct_copies_with_the_same_day_counts() -> None:
    dossiers, feedback = _month(1)
    big_dossiers, big_feedback = _month(FACTOR)
    assert len(big_dossiers) == FACTOR * len(dossiers) and len(big_feedback) == FACTOR * len(feedback)
    ids = [r["MaHoSo"] for r in big_dossiers]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert len({i["id"] for i in big_feedback}) == len(big_feedback)

    def dossier_days(records: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        return Counter((r["MaDonVi"], r["TrangThaiHoSo"], *(_day(r[t], 8) for t in
                        ("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra"))) for r in records)

    def feedback_days(items: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        return Counter((i["status"], *(_day(i[t], 10) for t in ("received_at", "due_at", "answered_at")))
                       for i in items)

    assert dossier_days(big_dossiers) == Counter({k: FACTOR * n for k, n in dossier_days(dossiers).items()})
    assert feedback_days(big_feedback) == Counter({k: FACTOR * n for k, n in feedback_days(feedback).items()})
    # The copies' times differ from their originals' where they stay within the day: distinct values to parse.
    assert len({r["NgayTiepNhan"] for r in big_dossiers}) > 2 * len({r["NgayTiepNhan"] for r in dossiers})


def test_scale_is_a_whole_number_of_at_least_one() -> None:
    with pytest.raises(ValueError, match="scale"):
        make_server(scale=0)
    assert build_parser().parse_args(["--scale", "30"]).scale == 30
