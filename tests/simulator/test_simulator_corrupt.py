"""Broken records on demand (``simulator.corrupt``): off by default, deterministic, each kind really broken."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from simulator import data
from simulator.corrupt import (
    DEFAULT_COUNT,
    DOSSIER_KINDS,
    FEEDBACK_KINDS,
    corrupt_dossiers,
    corrupt_feedback,
    parse_spec,
)
from simulator.server import start_in_thread
from tests.simulator.conftest import HOTLINE_HEADERS, ONE_STOP_HEADERS

REPO = Path(__file__).resolve().parents[2]
FROM, TO = date(2023, 10, 15), date(2023, 11, 15)
FOREIGN = "29869"  # a commune of 866
WINDOW = ("20231015000000", "20231115000000")


def _t(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%d%H%M%S")


# kind -> how a broken record differs from its original (the rule it breaks)
DOSSIER_BREAKS: dict[str, Any] = {
    "bad_status": lambda r, o: r["TrangThaiHoSo"] not in range(1, 11),
    "bad_channel": lambda r, o: r["KenhThucHien"] not in (1, 2, 3),
    "bad_time_format": lambda r, o: not _parses(r["NgayTiepNhan"]),
    "received_after_finished": lambda r, o: _t(r["NgayKetThucXuLy"]) < _t(r["NgayTiepNhan"]),
    "received_after_due": lambda r, o: _t(r["NgayHenTra"]) < _t(r["NgayTiepNhan"]),
    "no_due_date": lambda r, o: r["TrangThaiHoSo"] in (9, 10) and r["NgayHenTra"] is None
    and WINDOW[0] <= r["NgayKetThucXuLy"] < WINDOW[1],
    "no_end_time": lambda r, o: r["TrangThaiHoSo"] in (9, 10) and r["NgayKetThucXuLy"] is None,
    "no_digitization_flag": lambda r, o: r["TrangThaiHoSo"] in (9, 10) and r["SoHoaKetQua"] is None,
    "negative_fee": lambda r, o: r["LePhi"]["SoTien"] < 0,
    "foreign_unit": lambda r, o: r["MaDonVi"] == FOREIGN,
    "missing_unit": lambda r, o: r["MaDonVi"] is None,
    "outside_window": lambda r, o: r["NgayTiepNhan"] >= WINDOW[1],
}
FEEDBACK_BREAKS: dict[str, Any] = {
    "feedback_bad_category": lambda r, o: r["category"] == "xay_dung",
    "feedback_bad_status": lambda r, o: r["status"] == "closed",
    "feedback_bad_channel": lambda r, o: r["channel"] == "fax",
    "feedback_no_answered_at": lambda r, o: r["status"] == "answered" and r["answered_at"] is None,
    "feedback_bad_time_format": lambda r, o: r["received_at"] == o["received_at"][:19],
    "feedback_foreign_unit": lambda r, o: r["unit_code"] == FOREIGN,
    "feedback_outside_window": lambda r, o: r["received_at"][:10] == "2023-10-14",
    "feedback_bad_satisfaction": lambda r, o: r["satisfaction"] == 7,
    "feedback_no_due": lambda r, o: r["due_at"] is None and r["status"] != "rejected",
}


def _parses(value: str) -> bool:
    try:
        return len(value) == 14 and value.isdigit() and bool(_t(value))
    except ValueError:
        return False


def test_every_kind_has_a_check_here() -> None:
    assert set(DOSSIER_BREAKS) | {"duplicate_id"} == set(DOSSIER_KINDS)
    assert set(FEEDBACK_BREAKS) == set(FEEDBACK_KINDS)


def test_parse_spec_forms() -> None:
    assert parse_spec(None) == {} and parse_spec({}) == {}
    assert parse_spec({"872": ["no_due_date", "bad_status*200"]}) == {
        "872": (("no_due_date", DEFAULT_COUNT), ("bad_status", 200))}
    assert parse_spec(["872:no_due_date,bad_status*2", "874:feedback_bad_status"]) == parse_spec(
        "872:no_due_date,bad_status*2;874:feedback_bad_status")
    for bad in ("872:teapot", "872:bad_status*0", "872:bad_status*x", "no_district"):
        with pytest.raises(ValueError):
            parse_spec(bad)


@pytest.mark.parametrize("kind", sorted(DOSSIER_BREAKS))
def test_dossier_kind_breaks_its_rule_on_distinct_records(kind: str) -> None:
    records = data.dossiers_in_window("872", FROM, TO)
    before = [dict(r) for r in records[:50]]
    out, broken = corrupt_dossiers(records, [(kind, 4)], FROM, TO, FOREIGN)
    assert records[:50] == before  # the cached window is never mutated
    assert len(out) == len(records) and len(broken[kind]) == 4 == len(set(broken[kind]))
    originals = {r["MaHoSo"]: r for r in records}
    changed = [r for r in out if r["MaHoSo"] in set(broken[kind])]
    assert all(DOSSIER_BREAKS[kind](r, originals[r["MaHoSo"]]) for r in changed)
    assert all(r is originals[r["MaHoSo"]] for r in out if r["MaHoSo"] not in set(broken[kind]))
    assert corrupt_dossiers(records, [(kind, 4)], FROM, TO, FOREIGN) == (out, broken)  # deterministic


@pytest.mark.parametrize("kind", sorted(FEEDBACK_BREAKS))
def test_feedback_kind_breaks_its_rule(kind: str) -> None:
    items = data.feedback_in_window("872", FROM, TO)
    out, broken = corrupt_feedback(items, [(kind, 2)], FROM, TO, FOREIGN)
    originals = {r["id"]: r for r in items}
    assert len(broken[kind]) == 2
    assert all(FEEDBACK_BREAKS[kind](r, originals[r["id"]]) for r in out if r["id"] in broken[kind])


def test_kinds_touch_different_records_and_many_is_capped_by_the_eligible() -> None:
    records = data.dossiers_in_window("872", FROM, TO)
    _, broken = corrupt_dossiers(records, [("bad_status", 3), ("bad_channel", 3), ("no_due_date", 100_000)],
                                 FROM, TO, FOREIGN)
    ids = [i for kind_ids in broken.values() for i in kind_ids]
    assert len(ids) == len(set(ids))
    resolved = [r for r in records if r["TrangThaiHoSo"] in (9, 10) and WINDOW[0] <= (r["NgayKetThucXuLy"] or "")
                < WINDOW[1]]
    assert len(broken["no_due_date"]) <= len(resolved)


def test_server_serves_broken_records_only_for_the_named_district() -> None:
    spec = {"872": ["no_due_date", "duplicate_id", "feedback_bad_status"]}
    with start_in_thread(quiet=True, corrupt=spec) as sim, requests.Session() as http:
        def dossiers(district: str) -> tuple[list[dict[str, Any]], int]:
            rows, page, total = [], 1, 0
            while True:
                body = http.get(sim.base_url + "/api/v1/dossiers", headers=ONE_STOP_HEADERS, timeout=30, params={
                    "district": district, "active_from": "2023-10-15", "active_to": "2023-11-15", "page": page,
                    "page_size": 1000}).json()
                rows += body["data"]
                total = body["total"]
                if page >= body["total_pages"]:
                    return rows, total
                page += 1

        rows, total = dossiers("872")
        clean = data.dossiers_in_window("872", FROM, TO)
        ids = [r["MaHoSo"] for r in rows]
        assert total == len(clean) == len(set(ids)) and len(ids) == len(clean) + DEFAULT_COUNT
        assert sum(1 for r in rows if r["TrangThaiHoSo"] in (9, 10) and r["NgayHenTra"] is None) == DEFAULT_COUNT
        other, other_total = dossiers("874")
        assert other == data.dossiers_in_window("874", FROM, TO) and other_total == len(other)
        items = http.get(sim.base_url + "/api/v2/feedback", headers=HOTLINE_HEADERS, timeout=30, params={
            "district": "872", "received_from": "2023-10-15", "received_to": "2023-11-15", "limit": 500}).json()
        assert sum(1 for i in items["items"] if i["status"] == "closed") == DEFAULT_COUNT
        sim.set_corrupt(None)
        assert dossiers("872") == (clean, len(clean))


def test_cli_accepts_corrupt_and_rejects_unknown_kinds() -> None:
    out = subprocess.run([sys.executable, "-m", "simulator", "--corrupt", "872:teapot"], cwd=REPO,
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "teapot" in out.stderr
    helped = subprocess.run([sys.executable, "-m", "simulator", "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=20)
    assert "--corrupt" in helped.stdout and "no_due_date" in helped.stdout
