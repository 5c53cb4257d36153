"""Fixtures of the outputs app tests: the app under Airflow's auth manager, tokens, runs in the test DB, a data root."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tthc.periods import parse_period

DAG_ID = "tthc_monthly_report"
PERIOD = parse_period("2023-11")  # nd09: [2023-10-15, 2023-11-15) Vietnam time
_moments = itertools.count(1)
DOCX_BYTES = b"PK\x03\x04 a small stand-in for a report .docx"
PROVINCE = "87"  # Đồng Tháp before the 2025 reform: the province in force for 2023-11
PROVINCE_DOCX = b"PK\x03\x04 a small stand-in for the province's consolidated .docx"
XLSX_BYTES = b"PK\x03\x04 a small stand-in for the province's workbook"


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
    """``make_run(conf=..., interval=True, dag_id=..., period=...)`` -> the run id of a new DagRun row in the test DB.

    ``period`` (``YYYY-MM``, default 2023-11) is the run's data interval, as a scheduled run of it has.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    def make(conf: dict[str, Any] | None = None, interval: bool = True, dag_id: str = DAG_ID,
             run_id: str | None = None, period: str = PERIOD.name) -> str:
        run_id = run_id or f"manual__{period}__{uuid.uuid4().hex[:12]}"
        start, end = parse_period(period).start, parse_period(period).end
        # (dag_id, logical_date) is unique: each run gets its own moment inside the period.
        moment = start + timedelta(seconds=next(_moments))
        with create_session() as session:
            session.add(DagRun(
                dag_id=dag_id, run_id=run_id, run_type=DagRunType.MANUAL, state=DagRunState.SUCCESS,
                logical_date=moment if interval else None,
                run_after=end + timedelta(days=2),
                data_interval=(start, end) if interval else None, conf=conf or {}))
        return run_id

    return make


@pytest.fixture
def record_task(airflow_db: Path) -> Callable[..., None]:
    """``record_task(run_id, task_id, state, value=None)``: the task instance row, and its XCom when given.

    What the run page reads of a task (its state, its return value), without running the DAG: the rows
    Airflow writes, with the fields the tables require.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import insert

    def record(run_id: str, task_id: str, state: str | None, value: Any = None, dag_id: str = DAG_ID) -> None:
        with create_session() as session:
            session.execute(insert(TaskInstance.__table__).values(
                id=uuid.uuid4(), dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1, state=state,
                pool="default_pool", try_number=1))
        if value is not None:
            XComModel.set("return_value", value, dag_id=dag_id, task_id=task_id, run_id=run_id)

    return record


def write_province(root: Path, period: str = "2023-11", code: str = PROVINCE, docx: bool = True,
                   pdf: bool = True, xlsx: bool = True) -> dict[str, Any]:
    """The province's consolidated set at the pipeline's paths, and its ``digest`` as consolidate_province gives it.

    Each set's .docx is unique (as two consolidations' differ): the page finds the run that wrote a set
    by its digest among every run of the test database, and one test's set must not be another's.
    """
    docx_bytes = PROVINCE_DOCX + uuid.uuid4().hex.encode()
    reports = root / "reports" / period
    reports.mkdir(parents=True, exist_ok=True)
    stem = f"tong-hop-tthc-{code}-{period}"
    written: dict[str, Any] = {"docx": reports / f"{stem}.docx", "pdf": reports / f"{stem}.pdf",
                               "xlsx": reports / f"{stem}.xlsx"}
    if xlsx:
        written["xlsx"].write_bytes(XLSX_BYTES)
    if pdf:
        written["pdf"].write_bytes(b"%PDF-1.4 province stand-in")
    if docx:
        written["docx"].write_bytes(docx_bytes)
    written["digest"] = hashlib.sha256(docx_bytes + XLSX_BYTES).hexdigest()
    return written


def province_result(written: dict[str, Any] | None, missing: list[str], units: int = 12,
                    period: str = "2023-11", warnings: list[str] | None = None) -> dict[str, Any]:
    """consolidate_province's XCom for a set ``write_province`` wrote (None: no unit had its report)."""
    reported = units - len(missing)
    return {"province": PROVINCE, "period": period, "units": units, "reported": reported, "missing": missing,
            "complete": not missing, "path": str(written["docx"]) if written else None,
            "pdf": str(written["pdf"]) if written else None, "workbook": str(written["xlsx"]) if written else None,
            "warnings": warnings or [], **({"digest": written["digest"]} if written else {})}


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
