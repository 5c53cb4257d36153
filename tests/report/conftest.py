"""Fixtures of the report tests: the configuration, Tháp Mười (872), the model report's context and .docx."""

from __future__ import annotations

import shutil

import pytest
from model_data import MODEL_FEEDBACK, PERIOD, TEMPLATE, model_rows, required

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
