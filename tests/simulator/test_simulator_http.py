"""The simulator serves the contracts of docs/sources.md: auth, validation, windows, paging, cursors."""

from __future__ import annotations

import base64
import json
import unicodedata
from typing import Any

import pytest
import requests

from simulator import data
from simulator.server import DOSSIERS_PATH, FEEDBACK_PATH, SimulatorHandle

DISTRICT = "872"
# The nd09 period of November 2023: it has carried-over, received, resolved and pending dossiers.
PERIOD = ("2023-10-15", "2023-11-15")


def _compact(day: str) -> str:
    return day.replace("-", "") + "000000"


def _in_dossier_window(record: dict[str, Any], active_from: str, active_to: str) -> bool:
    """The documented rule: received before the end, and not finished before the start."""
    end = record["NgayKetThucXuLy"]
    return record["NgayTiepNhan"] < _compact(active_to) and (end is None or end >= _compact(active_from))


def _fetch_all_dossiers(
    http: requests.Session, base: str, headers: dict[str, str], active_from: str, active_to: str, page_size: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pages 1..total_pages; returns the records and the page envelopes (without data)."""
    records: list[dict[str, Any]] = []
    envelopes: list[dict[str, Any]] = []
    page = 1
    while True:
        resp = http.get(
            base + DOSSIERS_PATH,
            params={"district": DISTRICT, "active_from": active_from, "active_to": active_to,
                    "page": page, "page_size": page_size},
            headers=headers, timeout=30,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        records.extend(body.pop("data"))
        envelopes.append(body)
        if page >= body["total_pages"]:
            return records, envelopes
        page += 1


def _walk_feedback(
    http: requests.Session, base: str, headers: dict[str, str], district: str, start: str, end: str, limit: int
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        params = {"district": district, "received_from": start, "received_to": end, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        resp = http.get(base + FEEDBACK_PATH, params=params, headers=headers, timeout=30)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


# ---- health and auth ------------------------------------------------------------------------


def test_healthz_needs_no_auth(sim: SimulatorHandle, http: requests.Session) -> None:
    resp = http.get(sim.base_url + "/healthz", timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic c2ltLW9uZS1zdG9wLXRva2Vu"},
     {"Authorization": "Bearer"}, {"X-API-Key": "sim-hotline-key"}],
    ids=["missing", "wrong-token", "basic-scheme", "empty-bearer", "other-systems-key"],
)
def test_dossiers_401(sim: SimulatorHandle, http: requests.Session, headers: dict[str, str]) -> None:
    resp = http.get(
        sim.base_url + DOSSIERS_PATH,
        params={"district": DISTRICT, "active_from": PERIOD[0], "active_to": PERIOD[1]},
        headers=headers, timeout=5,
    )
    assert resp.status_code == 401
    assert "error" in resp.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer sim-one-stop-token"}],
    ids=["missing", "wrong-key", "other-systems-token"],
)
def test_feedback_401(sim: SimulatorHandle, http: requests.Session, headers: dict[str, str]) -> None:
    resp = http.get(
        sim.base_url + FEEDBACK_PATH,
        params={"district": DISTRICT, "received_from": PERIOD[0], "received_to": PERIOD[1]},
        headers=headers, timeout=5,
    )
    assert resp.status_code == 401
    assert "error" in resp.json()


def test_auth_is_checked_before_parameters(sim: SimulatorHandle, http: requests.Session) -> None:
    resp = http.get(sim.base_url + DOSSIERS_PATH, params={"page_size": "5000"}, timeout=5)
    assert resp.status_code == 401


def test_custom_credentials() -> None:
    from simulator.server import start_in_thread

    with start_in_thread(one_stop_token="t0k", hotline_key="k3y", quiet=True) as custom:
        params = {"district": DISTRICT, "active_from": "2023-11-01", "active_to": "2023-11-02", "page_size": 1}
        assert requests.get(custom.base_url + DOSSIERS_PATH, params=params, timeout=10,
                            headers={"Authorization": "Bearer t0k"}).status_code == 200
        assert requests.get(custom.base_url + DOSSIERS_PATH, params=params, timeout=10,
                            headers={"Authorization": "Bearer sim-one-stop-token"}).status_code == 401
        fb = {"district": DISTRICT, "received_from": "2023-11-01", "received_to": "2023-11-02"}
        assert requests.get(custom.base_url + FEEDBACK_PATH, params=fb, timeout=10,
                            headers={"X-API-Key": "k3y"}).status_code == 200


# ---- 400 -------------------------------------------------------------------------------------

GOOD_DOSSIER_PARAMS = {"district": DISTRICT, "active_from": "2023-11-01", "active_to": "2023-12-01"}


@pytest.mark.parametrize(
    "change",
    [
        {"district": None}, {"district": ""}, {"district": "999"}, {"district": "29869"}, {"district": "87"},
        {"active_from": None}, {"active_to": None}, {"active_from": "2023-13-01"}, {"active_from": "2023-11-1"},
        {"active_from": "2023/11/01"}, {"active_to": "2023-02-30"}, {"active_to": "20231201"},
        {"active_from": "2023-12-01"}, {"active_from": "2023-12-05"},
        {"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "1.5"}, {"page": ""},
        {"page_size": "1001"}, {"page_size": "0"}, {"page_size": "x"}, {"page_size": "100000"},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_dossiers_400(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str], change: dict[str, str | None]
) -> None:
    params = {**GOOD_DOSSIER_PARAMS, **change}
    params = {k: v for k, v in params.items() if v is not None}
    resp = http.get(sim.base_url + DOSSIERS_PATH, params=params, headers=one_stop_headers, timeout=10)
    assert resp.status_code == 400, resp.text
    assert isinstance(resp.json()["error"], str)


def test_dossiers_repeated_parameter_is_400(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    url = sim.base_url + DOSSIERS_PATH + "?district=872&district=873&active_from=2023-11-01&active_to=2023-12-01"
    assert http.get(url, headers=one_stop_headers, timeout=10).status_code == 400


def test_page_size_limits_accepted(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    for size in (1, 1000):
        resp = http.get(sim.base_url + DOSSIERS_PATH, params={**GOOD_DOSSIER_PARAMS, "page_size": size},
                        headers=one_stop_headers, timeout=30)
        assert resp.status_code == 200
        assert len(resp.json()["data"]) == size


GOOD_FEEDBACK_PARAMS = {"district": DISTRICT, "received_from": "2023-11-01", "received_to": "2023-12-01"}


@pytest.mark.parametrize(
    "change",
    [
        {"district": None}, {"district": "000"}, {"received_from": None}, {"received_to": None},
        {"received_from": "2023-11-31"}, {"received_to": "2023-11-01"}, {"received_to": "yesterday"},
        {"limit": "501"}, {"limit": "0"}, {"limit": "ten"},
        {"cursor": "garbage!!"}, {"cursor": ""}, {"cursor": base64.urlsafe_b64encode(b'{"o": 1}').decode()},
        {"cursor": base64.urlsafe_b64encode(b"[1, 2]").decode()},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_feedback_400(
    sim: SimulatorHandle, http: requests.Session, hotline_headers: dict[str, str], change: dict[str, str | None]
) -> None:
    params = {**GOOD_FEEDBACK_PARAMS, **change}
    params = {k: v for k, v in params.items() if v is not None}
    resp = http.get(sim.base_url + FEEDBACK_PATH, params=params, headers=hotline_headers, timeout=10)
    assert resp.status_code == 400, resp.text
    assert isinstance(resp.json()["error"], str)


def test_feedback_cursor_of_another_query_is_400(
    sim: SimulatorHandle, http: requests.Session, hotline_headers: dict[str, str]
) -> None:
    first = http.get(sim.base_url + FEEDBACK_PATH, params={**GOOD_FEEDBACK_PARAMS, "limit": 1},
                     headers=hotline_headers, timeout=10).json()
    cursor = first["next_cursor"]
    assert cursor
    for other in ({"district": "873"}, {"received_from": "2023-10-31"}, {"received_to": "2023-12-02"}):
        resp = http.get(sim.base_url + FEEDBACK_PATH, params={**GOOD_FEEDBACK_PARAMS, **other, "cursor": cursor},
                        headers=hotline_headers, timeout=10)
        assert resp.status_code == 400, other
    # A different limit is still the same query: the cursor stays valid.
    resp = http.get(sim.base_url + FEEDBACK_PATH, params={**GOOD_FEEDBACK_PARAMS, "limit": 7, "cursor": cursor},
                    headers=hotline_headers, timeout=10)
    assert resp.status_code == 200


def test_unknown_path_is_404_json(sim: SimulatorHandle, http: requests.Session) -> None:
    resp = http.get(sim.base_url + "/api/v1/nothing", timeout=5)
    assert resp.status_code == 404
    assert "error" in resp.json()


# ---- dossier window semantics ------------------------------------------------------------------


def test_dossier_window_equals_data_filtered_by_the_rule(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    served, envelopes = _fetch_all_dossiers(http, sim.base_url, one_stop_headers, *PERIOD, page_size=1000)
    expected = [r for r in data.dossiers_for(DISTRICT) if _in_dossier_window(r, *PERIOD)]

    assert served == expected  # same records, same order (by MaHoSo), full fields
    ids = [r["MaHoSo"] for r in served]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    total = len(expected)
    for number, env in enumerate(envelopes, start=1):
        assert env == {"page": number, "page_size": 1000, "total": total, "total_pages": -(-total // 1000)}
    assert len(envelopes) >= 3  # several pages

    start, end = _compact(PERIOD[0]), _compact(PERIOD[1])
    received = [r for r in served if start <= r["NgayTiepNhan"] < end]
    carried = [r for r in served if r["NgayTiepNhan"] < start]
    still_open = [r for r in served if r["NgayKetThucXuLy"] is None]
    finished_inside = [r for r in served if r["NgayKetThucXuLy"] and start <= r["NgayKetThucXuLy"] < end]
    assert received and carried and still_open and finished_inside
    # Finished before the window or received after it never appear.
    assert not [r for r in served if r["NgayKetThucXuLy"] and r["NgayKetThucXuLy"] < start]
    assert not [r for r in served if r["NgayTiepNhan"] >= end]


def test_page_beyond_the_last_is_empty(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    first = http.get(sim.base_url + DOSSIERS_PATH, params={**GOOD_DOSSIER_PARAMS, "page_size": 1000},
                     headers=one_stop_headers, timeout=30).json()
    beyond = http.get(sim.base_url + DOSSIERS_PATH,
                      params={**GOOD_DOSSIER_PARAMS, "page_size": 1000, "page": first["total_pages"] + 1},
                      headers=one_stop_headers, timeout=30)
    assert beyond.status_code == 200
    body = beyond.json()
    assert body["data"] == [] and body["total"] == first["total"] and body["page"] == first["total_pages"] + 1


def test_one_day_window_and_window_outside_the_data(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    day = ("2024-03-05", "2024-03-06")
    served, _ = _fetch_all_dossiers(http, sim.base_url, one_stop_headers, *day, page_size=1000)
    month = data.dossiers_received_in_month(DISTRICT, 2024, 3)
    received_that_day = [r["MaHoSo"] for r in month if r["NgayTiepNhan"].startswith("20240305")]
    served_ids = {r["MaHoSo"] for r in served}
    assert received_that_day and set(received_that_day) <= served_ids
    assert all(_in_dossier_window(r, *day) for r in served)

    before, _ = _fetch_all_dossiers(http, sim.base_url, one_stop_headers, "2019-01-01", "2020-01-01", page_size=10)
    assert before == []


def test_default_page_size_and_volume(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    for district in ("866", "868", "873"):
        resp = http.get(sim.base_url + DOSSIERS_PATH,
                        params={"district": district, "active_from": "2024-05-01", "active_to": "2024-06-01"},
                        headers=one_stop_headers, timeout=30)
        body = resp.json()
        assert body["page_size"] == 200 and len(body["data"]) == 200
        assert body["total"] > 1000, district
        assert body["total_pages"] > 5


def test_personal_data_is_served(sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str],
                                 hotline_headers: dict[str, str]) -> None:
    body = http.get(sim.base_url + DOSSIERS_PATH, params={**GOOD_DOSSIER_PARAMS, "page_size": 500},
                    headers=one_stop_headers, timeout=30).json()
    for record in body["data"]:
        assert record["ChuHoSo"] and len(record["ChuHoSo"].split()) >= 3
        assert record["SoDienThoai"].startswith("09") and len(record["SoDienThoai"]) == 10
    items = _walk_feedback(http, sim.base_url, hotline_headers, DISTRICT, "2023-01-01", "2024-01-01", 500)
    assert items
    for item in items:
        assert item["citizen_name"] and item["phone"].startswith("09") and item["content"]


def test_served_json_is_utf8_nfc(
    sim: SimulatorHandle, http: requests.Session, one_stop_headers: dict[str, str]
) -> None:
    resp = http.get(sim.base_url + DOSSIERS_PATH, params={**GOOD_DOSSIER_PARAMS, "page_size": 50},
                    headers=one_stop_headers, timeout=30)
    assert resp.headers["Content-Type"].startswith("application/json")
    text = resp.content.decode("utf-8")
    assert "\\u" not in text  # real UTF-8, not ASCII escapes
    assert unicodedata.normalize("NFC", text) == text
    assert any("ệ" in r["TenTTHC"] or "ị" in r["TenTTHC"] or "ả" in r["TenTTHC"] for r in json.loads(text)["data"])


# ---- feedback window and cursor paging ----------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 500])
def test_feedback_cursor_paging_is_complete_without_duplicates(
    sim: SimulatorHandle, http: requests.Session, hotline_headers: dict[str, str], limit: int
) -> None:
    start, end = "2023-06-15", "2023-11-15"
    served = _walk_feedback(http, sim.base_url, hotline_headers, DISTRICT, start, end, limit)
    expected = [
        f for f in data.feedback_for(DISTRICT) if f"{start}T00:00:00" <= f["received_at"][:19] < f"{end}T00:00:00"
    ]
    assert len(expected) > 10
    assert served == expected
    assert len({f["id"] for f in served}) == len(served)


def test_feedback_default_limit_and_empty_window(
    sim: SimulatorHandle, http: requests.Session, hotline_headers: dict[str, str]
) -> None:
    resp = http.get(sim.base_url + FEEDBACK_PATH,
                    params={"district": "873", "received_from": "2022-01-01", "received_to": "2027-01-01"},
                    headers=hotline_headers, timeout=30)
    body = resp.json()
    assert len(body["items"]) == 100 and body["next_cursor"]
    empty = http.get(sim.base_url + FEEDBACK_PATH,
                     params={"district": "873", "received_from": "2030-01-01", "received_to": "2030-02-01"},
                     headers=hotline_headers, timeout=30).json()
    assert empty == {"items": [], "next_cursor": None}
