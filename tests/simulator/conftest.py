"""Fixtures of the simulator tests: servers in background threads on free ports.

Tests talk HTTP to a real socket (not to the handler in-process), because what the connectors will
meet is the wire: status codes, headers, truncated bodies, delays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from simulator.server import DEFAULT_HOTLINE_KEY, DEFAULT_ONE_STOP_TOKEN, SimulatorHandle, start_in_thread

ONE_STOP_HEADERS = {"Authorization": f"Bearer {DEFAULT_ONE_STOP_TOKEN}"}
HOTLINE_HEADERS = {"X-API-Key": DEFAULT_HOTLINE_KEY}


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorHandle]:
    """One fault-free simulator shared by the session (its data caches are then warm across tests)."""
    with start_in_thread(quiet=True) as handle:
        yield handle


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def faulty() -> Iterator[Callable[..., SimulatorHandle]]:
    """Factory of simulators with faults: ``faulty("429", retry_after=2)``; all stopped after the test."""
    handles: list[SimulatorHandle] = []

    def start(kinds: str, rate: float = 1.0, **kwargs: Any) -> SimulatorHandle:
        handle = start_in_thread(fault_rate=rate, faults=kinds, quiet=True, **kwargs)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def one_stop_headers() -> dict[str, str]:
    return dict(ONE_STOP_HEADERS)


@pytest.fixture
def hotline_headers() -> dict[str, str]:
    return dict(HOTLINE_HEADERS)
