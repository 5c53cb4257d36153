"""Each fault kind is observable on the wire, and a careful client still gets every record."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from simulator import data
from simulator.faults import FAULT_KINDS, FaultInjector, parse_kinds
from simulator.server import DOSSIERS_PATH, FEEDBACK_PATH, SimulatorHandle

DISTRICT = "868"
WINDOW = {"district": DISTRICT, "active_from": "2024-04-01", "active_to": "2024-05-01"}
FB_WINDOW = {"district": "873", "received_from": "2023-01-01", "received_to": "2024-01-01"}
Faulty = Callable[..., SimulatorHandle]


def _expected_dossiers() -> list[dict[str, Any]]:
    return data.dossiers_in_window(DISTRICT, *(date.fromisoformat(WINDOW[k]) for k in ("active_from", "active_to")))


def test_fault_kinds_parse() -> None:
    assert parse_kinds("dup, 5xx,5xx") == ("5xx", "dup")
    assert parse_kinds(["slow"]) == ("slow",)
    with pytest.raises(ValueError, match="bogus"):
        parse_kinds("5xx,bogus")
    with pytest.raises(ValueError):
        FaultInjector(1.5)


def test_healthz_is_never_faulted(faulty: Faulty) -> None:
    sim = faulty(",".join(FAULT_KINDS), slow_seconds=5)
    for _ in range(20):
        started = time.monotonic()
        resp = requests.get(sim.base_url + "/healthz", timeout=2)
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
        assert time.monotonic() - started < 1


def test_auth_and_validation_errors_are_never_faulted(
    faulty: Faulty, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    sim = faulty("5xx,429,cut,dup")
    for _ in range(10):
        assert requests.get(sim.base_url + DOSSIERS_PATH, params=WINDOW, timeout=5).status_code == 401
        resp = requests.get(sim.base_url + DOSSIERS_PATH, params={**WINDOW, "page_size": 1001},
                            headers=one_stop_headers, timeout=5)
        assert resp.status_code == 400 and "error" in resp.json()
        resp = requests.get(sim.base_url + FEEDBACK_PATH, params={**FB_WINDOW, "cursor": "nope"},
                            headers=hotline_headers, timeout=5)
        assert resp.status_code == 400 and "error" in resp.json()


def test_429_carries_retry_after(
    faulty: Faulty, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    sim = faulty("429", retry_after=3)
    resp = requests.get(sim.base_url + DOSSIERS_PATH, params=WINDOW, headers=one_stop_headers, timeout=10)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert "error" in resp.json()
    resp = requests.get(sim.base_url + FEEDBACK_PATH, params=FB_WINDOW, headers=hotline_headers, timeout=10)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"


def test_5xx_is_500_502_or_503_with_json(faulty: Faulty, one_stop_headers: dict[str, str]) -> None:
    sim = faulty("5xx")
    seen = set()
    for _ in range(30):
        resp = requests.get(sim.base_url + DOSSIERS_PATH, params=WINDOW, headers=one_stop_headers, timeout=10)
        assert resp.status_code in (500, 502, 503)
        assert "error" in resp.json()
        seen.add(resp.status_code)
    assert seen == {500, 502, 503}


def _raw_get(base_url: str, path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, int, bytes]:
    """GET with http.client so a truncated body can be inspected: (status, Content-Length, bytes read)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", f"{path}?{urlencode(params)}", headers=headers)
        resp = conn.getresponse()
        length = int(resp.headers["Content-Length"])
        try:
            body = resp.read()
        except http.client.IncompleteRead as exc:
            body = exc.partial
        return resp.status, length, body
    finally:
        conn.close()


def test_cut_sends_200_and_a_truncated_body(
    faulty: Faulty, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    sim = faulty("cut")
    cases = ((DOSSIERS_PATH, WINDOW, one_stop_headers), (FEEDBACK_PATH, FB_WINDOW, hotline_headers))
    for path, params, headers in cases:
        for _ in range(5):
            status, length, body = _raw_get(sim.base_url, path, params, headers)
            assert status == 200
            assert 0 < len(body) < length
            with pytest.raises(ValueError):
                json.loads(body)
    # What a requests-based connector sees: an exception while reading the body.
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(sim.base_url + DOSSIERS_PATH, params=WINDOW, headers=one_stop_headers, timeout=10).json()


def test_slow_delays_then_answers(faulty: Faulty, one_stop_headers: dict[str, str]) -> None:
    sim = faulty("slow", slow_seconds=0.3)
    started = time.monotonic()
    resp = requests.get(sim.base_url + DOSSIERS_PATH, params={**WINDOW, "page_size": 5},
                        headers=one_stop_headers, timeout=10)
    assert time.monotonic() - started >= 0.3
    assert resp.status_code == 200 and len(resp.json()["data"]) == 5
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(sim.base_url + DOSSIERS_PATH, params=WINDOW, headers=one_stop_headers, timeout=0.1)


def test_dup_shifts_dossier_pages_both_ways(faulty: Faulty, one_stop_headers: dict[str, str]) -> None:
    sim = faulty("dup")
    expected = [r["MaHoSo"] for r in _expected_dossiers()]
    size = 100
    shifts, totals = set(), set()
    for _ in range(40):
        body = requests.get(sim.base_url + DOSSIERS_PATH, params={**WINDOW, "page": 3, "page_size": size},
                            headers=one_stop_headers, timeout=10).json()
        ids = [r["MaHoSo"] for r in body["data"]]
        start = expected.index(ids[0])
        assert ids == expected[start:start + size]  # a contiguous slice, just shifted
        shift = start - 2 * size
        assert 1 <= abs(shift) <= 5
        shifts.add(shift)
        assert len(expected) <= body["total"] <= len(expected) + 5  # never understated
        assert body["total_pages"] == -(-body["total"] // size)
        totals.add(body["total"])
    assert min(shifts) < 0 < max(shifts)  # repeats of the previous page and skips both occur
    assert len(totals) > 1
    # Page 1 cannot start earlier: it skips a few records instead.
    body = requests.get(sim.base_url + DOSSIERS_PATH, params={**WINDOW, "page_size": size},
                        headers=one_stop_headers, timeout=10).json()
    assert 1 <= expected.index(body["data"][0]["MaHoSo"]) <= 5


def test_dup_repeats_feedback_of_the_previous_page(faulty: Faulty, hotline_headers: dict[str, str]) -> None:
    sim = faulty("dup")
    expected = [f["id"] for f in data.feedback_for("873")
                if FB_WINDOW["received_from"] <= f["received_at"][:10] < FB_WINDOW["received_to"]]
    assert len(expected) > 60
    served: list[str] = []
    cursor = None
    pages = 0
    repeated = 0
    while True:
        params = {**FB_WINDOW, "limit": 20, **({"cursor": cursor} if cursor else {})}
        body = requests.get(sim.base_url + FEEDBACK_PATH, params=params, headers=hotline_headers, timeout=10).json()
        ids = [f["id"] for f in body["items"]]
        assert 0 < len(ids) <= 20
        repeated += sum(1 for i in ids if i in served) + (len(ids) - len(set(ids)))
        served.extend(ids)
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 100
    assert repeated > 0
    assert len(served) > len(set(served))
    # Nothing is skipped: deduplicating by id gives every item, in order.
    assert list(dict.fromkeys(served)) == expected


def test_fault_draws_are_reproducible_by_seed(faulty: Faulty, one_stop_headers: dict[str, str]) -> None:
    def statuses(sim: SimulatorHandle) -> list[int]:
        return [
            requests.get(sim.base_url + DOSSIERS_PATH, params={**WINDOW, "page_size": 1},
                         headers=one_stop_headers, timeout=10).status_code
            for _ in range(25)
        ]

    first = statuses(faulty("5xx,429", rate=0.5, seed=7))
    second = statuses(faulty("5xx,429", rate=0.5, seed=7))
    assert first == second
    assert 200 in first and any(s != 200 for s in first)


def test_set_faults_at_runtime(faulty: Faulty, one_stop_headers: dict[str, str]) -> None:
    sim = faulty("5xx")
    get = lambda: requests.get(sim.base_url + DOSSIERS_PATH, params={**WINDOW, "page_size": 1},  # noqa: E731
                               headers=one_stop_headers, timeout=10)
    assert get().status_code >= 500
    sim.set_faults(0.0)
    assert get().status_code == 200
    sim.set_faults(1.0, ["429"])
    assert get().status_code == 429
    with pytest.raises(ValueError):
        sim.set_faults(1.0, ["boom"])


def _get_json(session: requests.Session, url: str, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """A minimal careful client: retry transport errors, 429, 5xx and unparseable bodies."""
    for _ in range(200):
        try:
            resp = session.get(url, params=params, headers=headers, timeout=5)
        except requests.RequestException:
            continue
        if resp.status_code in (429, 500, 502, 503):
            continue
        assert resp.status_code == 200, resp.text
        try:
            return resp.json()
        except ValueError:
            continue
    raise AssertionError("no answer after 200 attempts")


def test_careful_client_gets_every_record_under_faults(
    faulty: Faulty, one_stop_headers: dict[str, str], hotline_headers: dict[str, str]
) -> None:
    sim = faulty("5xx,429,cut,dup", rate=0.35, retry_after=0, seed=3)
    expected = {r["MaHoSo"]: r for r in _expected_dossiers()}
    seen: dict[str, dict[str, Any]] = {}
    with requests.Session() as session:
        for _ in range(30):  # passes
            page, total_pages, last_total = 1, 1, 0
            while page <= total_pages:
                body = _get_json(session, sim.base_url + DOSSIERS_PATH, {**WINDOW, "page": page, "page_size": 500},
                                 one_stop_headers)
                seen.update((r["MaHoSo"], r) for r in body["data"])
                total_pages, last_total = body["total_pages"], body["total"]
                page += 1
            # total is never understated: holding at least `total` unique ids means holding them all.
            if len(seen) >= last_total:
                break
        assert seen == expected

        items: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            params = {**FB_WINDOW, "limit": 25, **({"cursor": cursor} if cursor else {})}
            body = _get_json(session, sim.base_url + FEEDBACK_PATH, params, hotline_headers)
            items.update((f["id"], f) for f in body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
    expected_fb = data.feedback_in_window("873", *(date.fromisoformat(FB_WINDOW[k])
                                                   for k in ("received_from", "received_to")))
    assert list(items.values()) == expected_fb
