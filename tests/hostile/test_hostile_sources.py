"""The connectors against servers that honour the contract's shape but lie, redirect, stall or carry hostile values.

Each test reproduces one finding measured on the pipeline before it was hardened, and checks what
an operator must see instead: the right data, or a clear error naming the system, the limit and the
setting, and never a credential or a personal value where it does not belong.
"""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.hostile.server import ForwardProxy, HostileServer, Reply, Seen, dossier, feedback, paged
from tests.hostile.tls import make_private_ca
from tthc import pipeline
from tthc.config import load_config
from tthc.district_month import DistrictMonth
from tthc.periods import Period
from tthc.sources import Limits, RetryPolicy, SourceError, fetch_dossiers, fetch_feedback
from tthc.units import ReportingUnit

FROM, TO = date(2023, 10, 15), date(2023, 11, 15)
FAST = RetryPolicy(max_attempts=2, backoff_initial_seconds=0.01, backoff_max_seconds=0.02, timeout_seconds=2.0,
                   max_passes=3)
UNIT = ReportingUnit("872", "Huyện Tháp Mười", "Tháp Mười", "huyện")
PERSONAL = ("Nguyễn Văn Hostile", "0909000111")


def one_page_of_feedback(items: list[dict]) -> Reply:
    return Reply.json({"items": items, "next_cursor": None})


# ---- 1. connections written as Airflow documents them ------------------------------------------------


def test_https_with_a_private_ca_given_in_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tthc_airflow.hooks import OneStopHook

    ca = make_private_ca(tmp_path)
    with HostileServer(paged([dossier(1), dossier(2)]), tls=ca.server_context()) as server:
        connection = {"conn_type": "http", "host": "127.0.0.1", "port": server.port, "schema": "https",
                      "password": "tok", "extra": {"verify": str(ca.ca_file), "X-Tinh": "87"}}
        monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", json.dumps(connection))
        got = OneStopHook().fetch("872", FROM, TO, FAST, 1000)
        assert [r["MaHoSo"] for r in got.records] == [dossier(1)["MaHoSo"], dossier(2)["MaHoSo"]]
        assert server.seen[0].headers["Authorization"] == "Bearer tok" and server.seen[0].headers["X-Tinh"] == "87"

        # The same server is not trusted without the province's CA: the certificate is refused.
        del connection["extra"]["verify"]
        monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", json.dumps(connection))
        with pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED"):
            OneStopHook().fetch("872", FROM, TO, FAST, 1000)


def test_a_proxy_given_in_extra_carries_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from tthc_airflow.hooks import HotlineHook

    with HostileServer(lambda seen: one_page_of_feedback([feedback(1)])) as server, ForwardProxy() as proxy:
        monkeypatch.setenv("AIRFLOW_CONN_TTHC_HOTLINE_1022", json.dumps({
            "conn_type": "http", "host": "127.0.0.1", "port": server.port, "password": "key",
            "extra": {"proxies": {"http": proxy.url}}}))
        got = HotlineHook().fetch("872", FROM, TO, FAST, 500)
    assert [r["id"] for r in got.records] == ["PA-000001"]
    assert len(proxy.seen) == 1 and proxy.seen[0].path.startswith(f"{server.url()}/api/v2/feedback?")
    assert proxy.seen[0].headers["X-API-Key"] == "key"


# ---- 2. a credential never leaves its origin ---------------------------------------------------------------


def test_a_redirect_to_another_origin_is_refused_and_the_key_stays_home() -> None:
    with HostileServer(lambda seen: one_page_of_feedback([feedback(666, category="khac")])) as elsewhere:
        target = f"{elsewhere.url('localhost')}/api/v2/feedback"  # same machine, another origin

        def redirect(seen: Seen) -> Reply:
            return Reply(302, headers={"Location": target})

        with HostileServer(redirect) as hotline, pytest.raises(SourceError) as err:
            fetch_feedback(hotline.url(), "the-api-key", "872", FROM, TO, policy=FAST)
    message = str(err.value)
    assert not err.value.retryable
    assert f"{hotline.url()}/api/v2/feedback?" in message and target in message
    assert "tthc_hotline_1022" in message and "the-api-key" not in message
    assert elsewhere.seen == []  # nothing, and so no key, reached the other host


def test_a_redirect_within_the_origin_is_followed() -> None:
    def script(seen: Seen) -> Reply:
        if seen.path == "/api/v2/feedback":
            return Reply(307, headers={"Location": "/v2-new/feedback?district=872"})
        return one_page_of_feedback([feedback(1)])

    with HostileServer(script) as hotline:
        got = fetch_feedback(hotline.url(), "key", "872", FROM, TO, policy=FAST)
    assert [r["id"] for r in got.records] == ["PA-000001"]
    assert [s.path for s in hotline.seen] == ["/api/v2/feedback", "/v2-new/feedback"]


# ---- 3. never trust what a source says about itself -------------------------------------------------------


def test_an_understated_total_does_not_shorten_the_listing(tmp_path: Path) -> None:
    records = [dossier(n) for n in range(3000)]
    with HostileServer(paged(records, claim_total=1000, claim_pages=1)) as server:
        got = fetch_dossiers(server.url(), "tok", "872", FROM, TO, policy=FAST, page_size=1000)
        step = pipeline.extract_dossiers(
            DistrictMonth(load_config(), Period(2023, 11), UNIT, tmp_path, f"sqlite:///{tmp_path / 'wh.db'}"),
            lambda d, f, t: fetch_dossiers(server.url(), "tok", d, f, t, policy=FAST, page_size=1000))
    assert len(got.records) == 3000
    assert len([s for s in server.seen if s.query["page"] == "1"]) == 2  # one pass each, no re-reads needed
    assert step["records"] == 3000
    assert any("understated" in w and "claimed total [1000]" in w and "3000 dossiers" in w for w in step["warnings"])


def test_a_page_shorter_than_asked_ends_the_listing_whatever_total_pages_says() -> None:
    records = [dossier(n) for n in range(250)]
    with HostileServer(paged(records, claim_total=250, claim_pages=9)) as server:
        got = fetch_dossiers(server.url(), "tok", "872", FROM, TO, policy=FAST, page_size=100)
    assert len(got.records) == 250 and [s.query["page"] for s in server.seen] == ["1", "2", "3"]
    assert got.notes == []  # an overstated page count is not worth a warning: nothing was missed


# ---- 4. types before values: personal data smuggled in an allowed field never lands --------------------------


def test_a_wrong_typed_field_is_set_aside_by_id_and_its_value_never_written(tmp_path: Path) -> None:
    smuggled = dossier(7, MaDonVi={"ten": PERSONAL[0], "sdt": PERSONAL[1]})
    records = [dossier(1), smuggled, dossier(9, KenhThucHien="2")]
    with HostileServer(paged(records)) as server:
        step = pipeline.extract_dossiers(
            DistrictMonth(load_config(), Period(2023, 11), UNIT, tmp_path, f"sqlite:///{tmp_path / 'wh.db'}"),
            lambda d, f, t: fetch_dossiers(server.url(), "tok", d, f, t, policy=FAST))
    assert step["records"] == 1 and step["rejected"] == 2
    rejected = json.loads((tmp_path / "raw" / "2023-11" / "872" / "dossiers.rejected.json").read_text("utf-8"))
    assert rejected == {"records": [
        {"id": smuggled["MaHoSo"], "field": "MaDonVi", "expected": "string", "got": "object"},
        {"id": dossier(9)["MaHoSo"], "field": "KenhThucHien", "expected": "integer", "got": "string"},
    ]}
    assert any("dossiers.field_types" in w for w in step["warnings"])
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in (*PERSONAL, "Nguyễn Văn An", "0912345678"):
                assert value.encode("utf-8") not in data, (path, value)
    assert not any(value in json.dumps(step, ensure_ascii=False) for value in PERSONAL)


# ---- 6. bounded work: time, bytes, pages, records -------------------------------------------------------------


def drip(seconds_per_byte: float, length: int = 40) -> Reply:
    body = json.dumps({"items": [], "next_cursor": None}).ljust(length).encode()
    return Reply(200, headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
                 chunks=(body[i:i + 1] for i in range(len(body))), pause=seconds_per_byte)


def test_a_reply_dripping_a_byte_at_a_time_meets_the_deadline() -> None:
    limits = Limits(response_deadline_seconds=1.0)
    with HostileServer(lambda seen: drip(0.25)) as server:
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            fetch_feedback(server.url(), "key", "872", FROM, TO, policy=FAST, limits=limits)
        took = time.monotonic() - started
    assert "within 1 s (extraction.response_deadline_seconds)" in str(err.value)
    assert err.value.retryable  # a slow moment: the task may be retried later
    # Two attempts of one second each; without the deadline each attempt would drip for ten seconds.
    # The bound sits between the two so a loaded runner cannot fail it while a missing deadline would.
    assert took < 8, took


@pytest.mark.parametrize("announced", [True, False])
def test_a_body_larger_than_the_limit_is_refused(announced: bool) -> None:
    big = json.dumps({"items": [feedback(n) for n in range(20000)], "next_cursor": None}).encode()
    assert len(big) > 4 * 1024 * 1024

    def script(seen: Seen) -> Reply:
        if announced:
            return Reply(200, big, {"Content-Type": "application/json"})
        return Reply(200, headers={"Content-Type": "application/json"},
                     chunks=(big[i:i + 65536] for i in range(0, len(big), 65536)))

    with HostileServer(script) as server, pytest.raises(SourceError) as err:
        fetch_feedback(server.url(), "key", "872", FROM, TO, policy=FAST, limits=Limits(max_response_bytes=1 << 20))
    assert "more than the limit of 1,048,576 (extraction.max_response_bytes" in str(err.value)
    assert "hotline 1022" in str(err.value) and not err.value.retryable


def test_a_gzip_bomb_is_never_inflated_beyond_the_limit() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"0" * (1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(512)) + packer.flush()  # 512 MiB inflated
    assert len(bomb) < 1 << 20  # under a mebibyte on the wire
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with HostileServer(lambda seen: Reply(200, bomb, headers)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(SourceError, match=r"extraction\.max_response_bytes"):
                fetch_feedback(server.url(), "key", "872", FROM, TO, policy=FAST,
                               limits=Limits(max_response_bytes=4 << 20))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 48 << 20, f"peak {peak / 2**20:.1f} MiB while refusing a 512 MiB bomb"


def test_endless_pages_stop_at_the_page_limit() -> None:
    def endless(seen: Seen) -> Reply:  # every page full of new records, total always one page more
        page, size = int(seen.query["page"]), int(seen.query["page_size"])
        return Reply.json({"page": page, "page_size": size, "total": (page + 1) * size, "total_pages": page + 1,
                           "data": [dossier(page * size + i) for i in range(size)]})

    with HostileServer(endless) as server, pytest.raises(SourceError) as err:
        fetch_dossiers(server.url(), "tok", "872", FROM, TO, policy=FAST, page_size=10, limits=Limits(max_pages=40))
    assert "goes on after 40 pages" in str(err.value) and "extraction.max_pages" in str(err.value)
    assert len(server.seen) == 40 and not err.value.retryable


def test_cursors_that_never_repeat_stop_at_the_page_limit() -> None:
    def script(seen: Seen) -> Reply:
        number = int(seen.query.get("cursor", "c0")[1:])
        return Reply.json({"items": [feedback(number)], "next_cursor": f"c{number + 1}"})

    with HostileServer(script) as server, pytest.raises(SourceError, match=r"after 25 pages.*extraction\.max_pages"):
        fetch_feedback(server.url(), "key", "872", FROM, TO, policy=FAST, limits=Limits(max_pages=25))
    assert len(server.seen) == 25


def test_more_records_than_the_limit() -> None:
    with HostileServer(paged([dossier(n) for n in range(300)])) as server, pytest.raises(SourceError) as err:
        fetch_dossiers(server.url(), "tok", "872", FROM, TO, policy=FAST, page_size=100, limits=Limits(max_records=150))
    assert "200 distinct dossiers read, more than the limit of 150 (extraction.max_records" in str(err.value)


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    """Every script above is bounded: no request thread of a test outlives it by more than a moment."""
    import threading

    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("tthc-http")]
        if not extra:
            return
        time.sleep(0.05)
    pytest.fail(f"request threads still running: {extra}")
