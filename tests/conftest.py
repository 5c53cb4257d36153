"""Shared fixtures: services read their addresses from the environment; missing ones skip, except in CI."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Give the whole session its own Airflow home before anything imports Airflow.

    Airflow reads its configuration once, at first import; a developer's own ``AIRFLOW_HOME`` must
    never receive the tests' database, runs or connections.
    """
    home = Path(tempfile.mkdtemp(prefix="tthc-tests-airflow-"))
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "TTHC_DATA_ROOT": str(home / "tthc-data"),
    })
    os.environ.pop("TTHC_CONFIG", None)
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_TTHC_")]:
        del os.environ[name]


_SKIPPED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which tests did not run and how to run them: a quiet skip reads like a pass."""
    if not _SKIPPED:
        return
    terminalreporter.section(f"{len(_SKIPPED)} test(s) skipped: what they need")
    for nodeid, reason in _SKIPPED:
        terminalreporter.line(f"  {nodeid}: {reason}")
    terminalreporter.line("  To run them: `make system-deps` as root (LibreOffice, fonts, poppler, Chromium), a "
                          "PostgreSQL server (TTHC_TEST_POSTGRES_URL), then `make test` again.")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true nothing may be skipped: a test that did not run is a failure there."""
    if IN_CI and _SKIPPED and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def unavailable(reason: str) -> None:
    """Skip with a plain reason on a laptop; under CI=true a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``airflow db migrate`` once for the session's Airflow home, for the tests that run the DAG."""
    home = Path(os.environ["AIRFLOW_HOME"])
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], cwd=ROOT, capture_output=True,
                            text=True, env=dict(os.environ), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


POSTGRES_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_databases(*prefixes: str) -> Iterator[tuple[str, ...]]:
    """New PostgreSQL databases on the test server (``TTHC_TEST_POSTGRES_URL``), one per prefix; dropped after.

    Yields their SQLAlchemy URLs. No server answering is ``unavailable`` (a skip, a failure under CI).
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = os.environ.get("TTHC_TEST_POSTGRES_URL", POSTGRES_SERVER)
    try:
        admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        unavailable(f"no PostgreSQL answers at {make_url(server).render_as_string()} ({type(exc).__name__}); "
                    "set TTHC_TEST_POSTGRES_URL")
    names = [f"{prefix}_{uuid.uuid4().hex[:10]}" for prefix in prefixes]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'create database "{name}"'))
    try:
        yield tuple(make_url(server).set(database=name).render_as_string(hide_password=False) for name in names)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (``TTHC_TEST_POSTGRES_URL`` names the server)."""
    with fresh_databases("tthc_test") as (url,):
        yield url


class _Inbox:
    """What a local SMTP server received: (envelope sender, recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 OK"


@contextmanager
def local_smtp() -> Iterator[tuple[_Inbox, int]]:
    """A real SMTP server (aiosmtpd) on a free loopback port: (what it received, its port); stopped after."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Inbox]:
    """A real SMTP server on loopback, and Airflow's ``smtp_default`` connection pointing at it."""
    import json

    with local_smtp() as (inbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "tthc-pipeline@tinh.example",
                      "retry_limit": 1, "timeout": 5}}))
        yield inbox


CHROMIUM = Path("/usr/bin/chromium")  # Debian's: Playwright's own browser downloads are not available


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (one per test module)."""
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"playwright is not installed ({exc}); see requirements.txt")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
