"""The gate on an object-storage data root, and its cost at import time (none until a task validates)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.quality.conftest import CONFIG, PERIOD, UNIT, dossier, feedback
from tthc import pipeline
from tthc.district_month import DistrictMonth
from tthc.landing import land_dossiers, land_feedback
from tthc.quality import QualityError

ROOT = Path(__file__).resolve().parents[2]


def test_object_storage_root_gets_results_page_and_clean_extracts(tmp_path: Path) -> None:
    """Workers on several hosts use object storage: nothing may assume a local folder (memory:// stands in)."""
    upath = pytest.importorskip("upath")
    root = upath.UPath(f"memory://tthc-{uuid.uuid4().hex}/data")
    raw = root / "raw" / "2023-11" / "872"
    land_dossiers(raw / "dossiers.parquet", [dossier("a"), dossier("b", NgayHenTra=None)])
    land_feedback(raw / "feedback.parquet", [feedback("f")])
    wh = f"sqlite:///{tmp_path / 'wh.db'}"

    month = DistrictMonth(CONFIG, PERIOD, UNIT, root, wh)
    out = pipeline.validate_sources(month)
    assert out["quarantined"] == {"dossiers": 1, "feedback": 0}
    folder = root / "quality" / "2023-11" / "872"
    assert (folder / "quarantine" / "dossiers.parquet").exists()
    pipeline.compute_metrics(month, "run")
    assert json.loads((folder / "metrics.json").read_text())["success"] is True
    assert "Passed with 1 quarantined" in (folder / "index.html").read_text()

    report = root / "reports" / "2023-11" / "bao-cao-tthc-872-2023-11.docx"
    report.write_bytes(b"stale")
    land_dossiers(raw / "dossiers.parquet", [dossier(f"x{i}", NgayHenTra=None) for i in range(4)])
    with pytest.raises(QualityError):
        pipeline.validate_sources(month)
    assert not report.exists() and not (folder / "dossiers.parquet").exists()
    assert not (folder / "quarantine").exists()


def test_nothing_heavy_is_imported_until_a_task_validates() -> None:
    """The configuration, the check catalog and the pipeline module import neither GX nor pandas."""
    code = ("import json, sys; sys.path[:0] = ['plugins']; import tthc.config, tthc.pipeline, tthc.quality.checks, "
            "tthc.quality.district, tthc.quality.policy; tthc.config.load_config(); "
            "print(json.dumps([m for m in ('great_expectations', 'pandas', 'pyarrow') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=dict(os.environ))
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
