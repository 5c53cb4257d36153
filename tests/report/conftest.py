"""Fixtures of the report tests: the configuration, Tháp Mười (872), the model report's context and .docx."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from model_data import MODEL_FEEDBACK, PERIOD, TEMPLATE, model_rows, required

from tthc import warehouse
from tthc.config import load_config
from tthc.inputs import load_inputs
from tthc.report import build_context


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def unit(config):
    return config.hierarchy_for("2023-11").get("872")


@pytest.fixture(scope="session")
def model_context(config, unit):
    """The context of the model report: 872, November 2023, the example operator inputs, no history."""
    inputs, _ = load_inputs(config.inputs_path, PERIOD.name, unit.code)
    return build_context(
        unit=unit,
        province=config.hierarchy_for("2023-11").province,
        settings=config.report_settings(unit.code, PERIOD.name),
        targets=config.targets,
        period=PERIOD,
        dossier_rows=model_rows(config),
        feedback=dict(MODEL_FEEDBACK),
        inputs=inputs,
    )


@pytest.fixture(scope="session")
def model_docx(model_context, tmp_path_factory):
    from tthc.report import render_report

    return render_report(TEMPLATE, model_context[0], tmp_path_factory.mktemp("model") / "872-2023-11.docx")


@pytest.fixture(scope="session")
def soffice() -> str:
    """LibreOffice's command (``soffice`` or ``libreoffice``)."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        required("LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui")
    return found


@pytest.fixture
def stored_metrics(config, unit, tmp_path: Path) -> None:
    """The warehouse holds the model rows, with the evidence of the same computation (as write_report needs)."""
    from tests.report.test_office_inputs import month_of

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    rows = model_rows(config)
    with warehouse.connected(url) as engine:
        warehouse.replace_period(engine, PERIOD.name, unit.code, rows, dict(MODEL_FEEDBACK), "run-1")
    path = month_of(config, unit, tmp_path).files.evidence
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"run_id": "run-1", "dossier_metrics": rows, "feedback_metrics": MODEL_FEEDBACK},
                               default=str), encoding="utf-8")


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root and a SQLite warehouse for the Airflow glue of a report's office (env and connection)."""
    monkeypatch.setenv("TTHC_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", json.dumps({"conn_type": "sqlite",
                                                                   "host": str(tmp_path / "warehouse.db")}))
    return tmp_path / "data"
