"""Fixtures of the outputs app tests: the app under Airflow's auth manager, tokens, runs in the test DB, a data root."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tthc.periods import parse_period

DAG_ID = "tthc_monthly_report"
PERIOD = parse_period("2023-11")  # nd09: [2023-10-15, 2023-11-15) Vietnam time
_moments = itertools.count(1)
DOCX_BYTES = b"PK\x03\x04 a small stand-in for a report .docx"


@pytest.fixture(scope="session")
def auth_manager(airflow_db: Path) -> Any:
    """Airflow's configured auth manager (SimpleAuthManager), initialised as the API server does."""
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


@pytest.fixture(scope="session")
def viewer_token(auth_manager: Any) -> str:
    """A JWT of a user with the viewer role: the least that may read DAGs."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tthc-data"
    root.mkdir()
    monkeypatch.setenv("TTHC_DATA_ROOT", str(root))
    return root


@pytest.fixture
def client(auth_manager: Any) -> Iterator[Any]:
    """The outputs app alone, as the API server mounts it at /tthc (unauthenticated unless a test adds a token)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tthc_airflow.plugin import TthcPlugin

    host = FastAPI()
    host.state.auth_manager = auth_manager
    for entry in TthcPlugin.fastapi_apps:
        host.mount(entry["url_prefix"], entry["app"])
    with TestClient(host, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def make_run(airflow_db: Path) -> Callable[..., str]:
    """``make_run(conf=..., interval=True, dag_id=...)`` -> the run id of a new DagRun row in the test database."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    def make(conf: dict[str, Any] | None = None, interval: bool = True, dag_id: str = DAG_ID,
             run_id: str | None = None) -> str:
        run_id = run_id or f"manual__2023-11__{uuid.uuid4().hex[:12]}"
        start, end = PERIOD.start, PERIOD.end
        # (dag_id, logical_date) is unique: each run gets its own moment inside the period.
        moment = start + timedelta(seconds=next(_moments))
        with create_session() as session:
            session.add(DagRun(
                dag_id=dag_id, run_id=run_id, run_type=DagRunType.MANUAL, state=DagRunState.SUCCESS,
                logical_date=moment if interval else None,
                run_after=datetime.fromisoformat("2023-11-17T00:00:00+00:00"),
                data_interval=(start, end) if interval else None, conf=conf or {}))
        return run_id

    return make


def write_outputs(root: Path, code: str = "872", period: str = "2023-11", pdf: bool = False,
                  summary: dict[str, Any] | None = None, quality: bool = True) -> dict[str, Path]:
    """Small stand-ins at the pipeline's paths: report .docx, evidence, optionally the PDF, the quality folder."""
    reports = root / "reports" / period
    reports.mkdir(parents=True, exist_ok=True)
    stem = f"bao-cao-tthc-{code}-{period}"
    written = {"docx": reports / f"{stem}.docx", "evidence": reports / f"{stem}.evidence.json"}
    written["docx"].write_bytes(DOCX_BYTES)
    written["evidence"].write_text(json.dumps({"unit": code, "period": period}), encoding="utf-8")
    if pdf:
        written["pdf"] = reports / f"{stem}.pdf"
        written["pdf"].write_bytes(b"%PDF-1.4 stand-in")
    if summary is not None:
        written["summary"] = reports / "run-summary.json"
        written["summary"].write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    if quality:
        folder = root / "quality" / period / code
        (folder / "quarantine").mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(QUALITY_PAGE, encoding="utf-8")
        (folder / "dossiers.json").write_text(json.dumps({"success": False, "results": []}), encoding="utf-8")
        (folder / "summary.json").write_text(json.dumps({
            "period": period, "unit": {"code": code}, "blocked": False, "quarantined": {"dossiers": 2, "feedback": 0},
            "sources": {}}), encoding="utf-8")
        (folder / "quarantine" / "dossiers.parquet").write_bytes(b"PAR1 stand-in PAR1")
        written["quality"] = folder
    return written


QUALITY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Data quality Passed with 2 quarantined</title></head>
<body><h1>Passed with 2 quarantined</h1>
<ul><li><a href="dossiers.json">dossiers.json</a></li>
<li><a href="quarantine/dossiers.parquet">quarantine/dossiers.parquet</a></li></ul></body></html>
"""
