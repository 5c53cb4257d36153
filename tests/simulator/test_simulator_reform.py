"""The 2025 reform in the simulator: a window is served by the units in force on its days.

Before 1 July 2025 the reporting units are the twelve districts of Đồng Tháp (87); from then on the
102 communes and wards of the new Đồng Tháp (82), each reporting for itself, or the province as a
whole. What a pre-reform window answers must not change by a byte: the pipeline's oracle and every
earlier test rely on those records.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import pytest
import requests

from simulator import data
from simulator.__main__ import _units, units_options
from simulator.server import DOSSIERS_PATH, FEEDBACK_PATH, SimulatorHandle, make_server, start_in_thread

WARD, OTHER_WARD = "28261", "28249"  # Phường Mỹ Tho, Phường Đạo Thạnh
NOV_2026 = {"active_from": "2026-10-15", "active_to": "2026-11-15"}  # nd09 period 2026-11
NOV_2026_FB = {"received_from": "2026-10-15", "received_to": "2026-11-15"}
NOV_2023 = {"active_from": "2023-10-15", "active_to": "2023-11-15"}
NOV_2023_FB = {"received_from": "2023-10-15", "received_to": "2023-11-15"}


def _all_dossiers(http: requests.Session, base: str, headers: dict[str, str], params: dict[str, str]) -> list[Any]:
    records, page = [], 1
    while True:
        resp = http.get(base + DOSSIERS_PATH, params={**params, "page": page, "page_size": 1000}, headers=headers,
                        timeout=60)
        assert resp.status_code == 200, resp.text
        chunk = resp.json()["data"]
        records += chunk
        if len(chunk) < 1000:
            return records
        page += 1


def _all_feedback(http: requests.Session, base: str, headers: dict[str, str], params: dict[str, str]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        resp = http.get(base + FEEDBACK_PATH, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})},
                        headers=headers, timeout=60)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


# ---- after the reform: communes and wards ------------------------------------------------------


def test_a_ward_in_2026_11_gets_its_own_dossiers(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    records = _all_dossiers(http, sim.base_url, one_stop_headers, {"district": WARD, **NOV_2026})
    assert len(records) > 100
    assert {r["MaDonVi"] for r in records} == {WARD}  # no unit under it: every dossier is its own desk's
    assert all(r["MaHoSo"].startswith(f"H82.{WARD}-") for r in records)
    assert records == data.dossiers_in_window(WARD, date(2026, 10, 15), date(2026, 11, 15))
    items = _all_feedback(http, sim.base_url, hotline_headers, {"district": WARD, **NOV_2026_FB})
    assert items == data.feedback_in_window(WARD, date(2026, 10, 15), date(2026, 11, 15))
    assert all(i["district_code"] == WARD and i["unit_code"] == WARD for i in items)


@pytest.mark.parametrize(("path", "window"), [(DOSSIERS_PATH, NOV_2026), (FEEDBACK_PATH, NOV_2026_FB)])
def test_a_district_in_2026_11_is_400_saying_why(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str], hotline_headers: dict[str, str],
    path: str, window: dict[str, str],
) -> None:
    headers = one_stop_headers if path == DOSSIERS_PATH else hotline_headers
    resp = http.get(sim.base_url + path, params={"district": "874", **window}, headers=headers, timeout=10)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert "'874'" in error and "district-level unit of Tỉnh Đồng Tháp (87)" in error
    assert "until 2025-06-30" in error and "communes and wards of Tỉnh Đồng Tháp (82)" in error


@pytest.mark.parametrize(("code", "window"), [
    ("87", NOV_2026), ("82", NOV_2023), (WARD, NOV_2023), ("29872", NOV_2026), ("29926", NOV_2023), ("999", NOV_2026),
])
def test_codes_outside_the_units_of_the_window_are_400(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str], code: str, window: dict[str, str]
) -> None:
    """The old province, the new province before the reform, a ward before it, a commune of 2023 after it, a
    commune of 2023 before it (29926, Thị trấn Sa Rài then, whose code Xã Tân Hồng has kept), an unknown code."""
    resp = http.get(sim.base_url + DOSSIERS_PATH, params={"district": code, **window}, headers=one_stop_headers,
                    timeout=10)
    assert resp.status_code == 400 and f"'{code}'" in resp.json()["error"]


def test_a_code_kept_from_a_2023_commune_names_the_2025_unit(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    """45 of the 102 units of 2025 kept the code of one of the communes they merged: after the reform the
    code is the new unit, which reports for itself; before it, a commune inside its district's report."""
    assert data.load_units().districts["869"].communes[0].code == "29926"
    records = _all_dossiers(http, sim.base_url, one_stop_headers, {"district": "29926", **NOV_2026})
    assert records and {r["MaDonVi"] for r in records} == {"29926"}
    assert all(r["MaHoSo"].startswith("H82.29926-") for r in records)
    in_2023 = data.dossiers_in_window("869", date(2023, 10, 15), date(2023, 11, 15))
    assert any(r["MaDonVi"] == "29926" for r in in_2023)


def test_the_province_is_every_ward_and_commune(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    # The first weeks after the reform: only July 2025 is generated, so the whole province stays cheap.
    window = {"active_from": "2025-07-01", "active_to": "2025-07-08"}
    records = _all_dossiers(http, sim.base_url, one_stop_headers, {"district": "82", **window})
    units = data.default_timeline().eras[-1].hierarchy.districts
    expected = [r for code in sorted(units) for r in data.dossiers_in_window(code, date(2025, 7, 1), date(2025, 7, 8))]
    assert records == expected
    assert [r["MaHoSo"] for r in records] == sorted(r["MaHoSo"] for r in records)
    assert len({r["MaDonVi"] for r in records}) > 95 and {r["MaDonVi"] for r in records} <= set(units)
    items = _all_feedback(http, sim.base_url, hotline_headers,
                          {"district": "82", "received_from": "2025-07-01", "received_to": "2025-08-01"})
    assert items and {i["unit_code"] for i in items} <= set(units)
    assert all(i["district_code"] == i["unit_code"] for i in items)


def test_a_window_across_the_reform_accepts_both(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    """nd09 period 2025-07, [2025-06-15, 2025-07-15): districts and wards are both reporting units on its days."""
    window = {"active_from": "2025-06-15", "active_to": "2025-07-15"}
    for code in ("872", WARD):
        resp = http.get(sim.base_url + DOSSIERS_PATH, params={"district": code, **window, "page_size": 1},
                        headers=one_stop_headers, timeout=30)
        assert resp.status_code == 200 and resp.json()["total"] > 0, code
    # The ward did not exist before 2025-07-01: nothing of it was received earlier.
    assert min(r["NgayTiepNhan"] for r in data.dossiers_for(WARD)) >= "20250701000000"


def test_a_window_after_the_data_accepts_every_unit(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    """No day of 2030 has data, so the simulator cannot say whose units are in force: it accepts every code and
    answers what the records say (no feedback; the dossiers never finished, which are open on any later day)."""
    for code in ("874", WARD):
        resp = http.get(sim.base_url + FEEDBACK_PATH,
                        params={"district": code, "received_from": "2030-01-01", "received_to": "2030-02-01"},
                        headers=hotline_headers, timeout=10)
        assert resp.status_code == 200 and resp.json() == {"items": [], "next_cursor": None}, code
        resp = http.get(sim.base_url + DOSSIERS_PATH,
                        params={"district": code, "active_from": "2030-01-01", "active_to": "2030-02-01"},
                        headers=one_stop_headers, timeout=30)
        assert resp.status_code == 200, code
        assert all(r["NgayKetThucXuLy"] is None for r in resp.json()["data"]), code


def test_a_ward_has_the_volume_of_a_commune() -> None:
    records = data.dossiers_for(OTHER_WARD)
    accepted = Counter(r["NgayTiepNhan"][:6] for r in records if r["TrangThaiHoSo"] not in (1, 3))
    assert len(accepted) == 18 and min(accepted) == "202507"  # 2025-07 to 2026-12
    assert min(accepted.values()) > 100 and max(accepted.values()) < 600
    assert {r["MaDonVi"] for r in records} == {OTHER_WARD}
    assert {r["TrangThaiHoSo"] for r in records} == set(range(1, 11))
    feedback = Counter(f["received_at"][:7] for f in data.feedback_for(OTHER_WARD))
    assert sum(feedback.values()) < 18 * 6


def test_corrupt_foreign_unit_of_a_ward_names_another_ward() -> None:
    with start_in_thread(quiet=True, corrupt={WARD: ["foreign_unit"]}) as sim:
        resp = requests.get(sim.base_url + DOSSIERS_PATH, params={"district": WARD, **NOV_2026, "page_size": 1000},
                            headers={"Authorization": "Bearer sim-one-stop-token"}, timeout=60)
    units = Counter(r["MaDonVi"] for r in resp.json()["data"])
    foreign = {code for code in units if code != WARD}
    assert len(foreign) == 1 and sum(units[c] for c in foreign) == 3
    assert foreign <= set(data.default_timeline().eras[-1].hierarchy.districts)


# ---- before the reform: exactly as before -------------------------------------------------------


def test_2023_11_answers_as_a_server_of_the_2023_units_alone(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    with start_in_thread(quiet=True, units_path=data.DEFAULT_UNITS_PATH) as only_2023:
        for code in ("872", "866"):
            for path, window, headers in ((DOSSIERS_PATH, NOV_2023, one_stop_headers),
                                          (FEEDBACK_PATH, NOV_2023_FB, hotline_headers)):
                params = {"district": code, **window}
                new = http.get(sim.base_url + path, params=params, headers=headers, timeout=60)
                old = http.get(only_2023.base_url + path, params=params, headers=headers, timeout=60)
                assert new.status_code == old.status_code == 200
                assert new.content == old.content, (code, path)
        # Only one hierarchy: a ward is unknown there whatever the window.
        resp = http.get(only_2023.base_url + DOSSIERS_PATH, params={"district": WARD, **NOV_2026},
                        headers=one_stop_headers, timeout=10)
        assert resp.status_code == 400
    records = data.dossiers_in_window("872", date(2023, 10, 15), date(2023, 11, 15))
    assert records == data.dossiers_in_window("872", date(2023, 10, 15), date(2023, 11, 15),
                                              units_path=data.DEFAULT_UNITS_PATH)
    assert {r["MaDonVi"] for r in records} - {"872"}  # the district's communes are still there


# ---- the timeline itself ------------------------------------------------------------------------


def test_default_timeline() -> None:
    eras = data.default_timeline().eras
    assert [(e.valid_from, e.valid_to, e.hierarchy.province_code) for e in eras] == [
        (None, date(2025, 7, 1), "87"), (date(2025, 7, 1), None, "82"),
    ]
    assert not eras[0].hierarchy.two_tier and eras[1].hierarchy.two_tier
    assert len(eras[1].hierarchy.districts) == 102
    assert eras[0].hierarchy is data.load_units()  # the same generators and caches as before


def test_a_timeline_of_my_own(tmp_path: Any) -> None:
    units = {"province": {"code": "99", "name": "Tỉnh Thử Nghiệm"},
             "reporting_units": [{"code": "99001", "name": "Xã Một", "children": []},
                                 {"code": "99002", "name": "Phường Hai"}]}
    path = tmp_path / "units.json"
    path.write_text(json.dumps(units, ensure_ascii=False), encoding="utf-8")
    timeline = [(None, data.DEFAULT_UNITS_PATH), (date(2024, 1, 1), path)]
    with start_in_thread(quiet=True, timeline=timeline) as sim:
        base, headers = sim.base_url + DOSSIERS_PATH, {"Authorization": "Bearer sim-one-stop-token"}
        ok = requests.get(base, params={"district": "99002", "active_from": "2024-03-01", "active_to": "2024-03-02"},
                          headers=headers, timeout=30)
        assert ok.status_code == 200 and {r["MaDonVi"] for r in ok.json()["data"]} == {"99002"}
        late = requests.get(base, params={"district": "872", "active_from": "2024-03-01", "active_to": "2024-03-02"},
                            headers=headers, timeout=30)
        assert late.status_code == 400 and "until 2023-12-31" in late.json()["error"]
    with pytest.raises(ValueError, match="first day of a month"):
        data.load_timeline([(None, data.DEFAULT_UNITS_PATH), (date(2024, 1, 15), path)])
    with pytest.raises(ValueError, match="only the first"):
        data.load_timeline([(None, data.DEFAULT_UNITS_PATH), (None, path)])
    with pytest.raises(ValueError, match="either units_path"):
        make_server(units_path=path, timeline=timeline)


def test_cli_units_options() -> None:
    assert units_options([]) == (None, None)
    assert units_options([_units("a.json")]) == ("a.json", None)
    assert units_options([_units("a.json"), _units("2025-07-01=b.json")]) == (
        None, [(None, "a.json"), (date(2025, 7, 1), "b.json")])
