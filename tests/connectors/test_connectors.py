"""Both connectors against the simulator over real HTTP: complete, deduplicated, PII-free, fault-tolerant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from simulator.data import dossiers_in_window, feedback_in_window
from simulator.server import SimulatorHandle, start_in_thread
from tthc.records import PERSONAL_FIELDS
from tthc.sources import RetryPolicy, SourceError, fetch_dossiers, fetch_feedback

TOKEN, KEY = "test-token", "test-key"
FROM, TO = date(2023, 10, 15), date(2023, 11, 15)
FAST = RetryPolicy(max_attempts=10, backoff_initial_seconds=0.01, backoff_max_seconds=0.05, timeout_seconds=1.0,
                   max_passes=6)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_in_thread(one_stop_token=TOKEN, hotline_key=KEY, slow_seconds=1.5, quiet=True) as handle:
        yield handle


@pytest.fixture(autouse=True)
def no_faults(sim: SimulatorHandle) -> Iterator[None]:
    sim.set_faults(0.0)
    yield
    sim.set_faults(0.0)


def expected_ids(district: str) -> tuple[list[str], list[str]]:
    return ([d["MaHoSo"] for d in dossiers_in_window(district, FROM, TO)],
            [f["id"] for f in feedback_in_window(district, FROM, TO)])


def test_clean_extraction_is_complete_and_without_personal_data(sim: SimulatorHandle) -> None:
    dossiers = fetch_dossiers(sim.base_url, TOKEN, "872", FROM, TO, policy=FAST, page_size=1000)
    feedback = fetch_feedback(sim.base_url, KEY, "872", FROM, TO, policy=FAST, limit=7)
    want_d, want_f = expected_ids("872")
    assert [r["MaHoSo"] for r in dossiers.records] == want_d and len(want_d) > 1000
    assert [r["id"] for r in feedback.records] == want_f and feedback.requests > 1
    for record in [*dossiers.records, *feedback.records]:
        assert not set(record) & PERSONAL_FIELDS


@pytest.mark.parametrize("kinds", [("5xx",), ("429",), ("cut",), ("dup",), ("5xx", "429", "cut", "dup")])
def test_thirty_percent_transient_faults_change_nothing(sim: SimulatorHandle, kinds: tuple[str, ...]) -> None:
    sim.set_faults(0.3, kinds)
    dossiers = fetch_dossiers(sim.base_url, TOKEN, "874", FROM, TO, policy=FAST, page_size=500)
    feedback = fetch_feedback(sim.base_url, KEY, "874", FROM, TO, policy=FAST, limit=3)
    want_d, want_f = expected_ids("874")
    assert [r["MaHoSo"] for r in dossiers.records] == want_d
    assert [r["id"] for r in feedback.records] == want_f
    if kinds == ("dup",):
        assert dossiers.repeats + feedback.repeats > 0  # pages really repeated records, merged once


def test_slow_replies_time_out_and_are_retried(sim: SimulatorHandle) -> None:
    sim.set_faults(0.3, ("slow",))
    policy = RetryPolicy(max_attempts=10, backoff_initial_seconds=0.01, backoff_max_seconds=0.05,
                         timeout_seconds=0.5, max_passes=3)
    feedback = fetch_feedback(sim.base_url, KEY, "866", FROM, TO, policy=policy, limit=5)
    assert [r["id"] for r in feedback.records] == expected_ids("866")[1]


def test_retry_after_is_honoured(sim: SimulatorHandle) -> None:
    import time

    sim.set_faults(1.0, ("429",))
    policy = RetryPolicy(max_attempts=2, backoff_initial_seconds=0.0, backoff_max_seconds=5.0, timeout_seconds=2)
    started = time.monotonic()
    with pytest.raises(SourceError, match="429"):
        fetch_feedback(sim.base_url, KEY, "872", FROM, TO, policy=policy)
    assert time.monotonic() - started >= 1.0  # the simulator asks for Retry-After: 1


def test_wrong_credentials_fail_at_once_naming_the_connection(sim: SimulatorHandle) -> None:
    with pytest.raises(SourceError, match=r"401.*password of Airflow connection 'tthc_one_stop'"):
        fetch_dossiers(sim.base_url, "wrong", "872", FROM, TO, policy=FAST)
    with pytest.raises(SourceError, match=r"401.*API key.*'tthc_hotline_1022'"):
        fetch_feedback(sim.base_url, "wrong", "872", FROM, TO, policy=FAST)


def test_bad_request_fails_at_once_with_the_servers_reason(sim: SimulatorHandle) -> None:
    with pytest.raises(SourceError, match=r"400 Bad Request.*999"):
        fetch_dossiers(sim.base_url, TOKEN, "999", FROM, TO, policy=FAST)


def test_unreachable_system_is_reported_after_the_attempts() -> None:
    policy = RetryPolicy(max_attempts=2, backoff_initial_seconds=0.0, backoff_max_seconds=0.0, timeout_seconds=0.5)
    with pytest.raises(SourceError, match="still failing after 2 attempts"):
        fetch_dossiers("http://127.0.0.1:9", TOKEN, "872", FROM, TO, policy=policy)
