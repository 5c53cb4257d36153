"""The quality gate through the pipeline's steps (no Airflow): files an operator opens, quarantine, block, warn, volume.

Each test lands hand-made records under a temporary data root, runs ``validate_sources`` (and where it
matters ``compute_metrics``) against a SQLite warehouse in the same folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.quality.conftest import CONFIG, OTHER_COMMUNE, PERIOD, UNIT, dossier, feedback, land, landed_frame
from tthc import metrics, pipeline, warehouse
from tthc.config import Quality
from tthc.district_month import DistrictMonth
from tthc.quality import QualityError
from tthc.records import ONE_STOP, PERSONAL_FIELDS

QDIR = ("quality", "2023-11", "872")


def url(root: Path) -> str:
    return f"sqlite:///{root / 'warehouse.db'}"


def month(root: Path, config: Any = CONFIG) -> DistrictMonth:
    """Tháp Mười (872), 2023-11, with ``root`` as data root and the SQLite warehouse in it."""
    return DistrictMonth(config, PERIOD, UNIT, root, url(root))


def config_with(**quality: Any) -> Any:
    return CONFIG.model_copy(update={"quality": Quality(**quality)})


def good_dossiers(n: int) -> list[dict[str, Any]]:
    return [dossier(f"H87.872-231101-{i:04d}", KenhThucHien=1 + i % 3) for i in range(n)]


def test_results_page_quarantine_and_clean_extracts(tmp_path: Path) -> None:
    broken = [dossier("BAD-DUE", NgayHenTra=None), dossier("BAD-UNIT", MaDonVi=OTHER_COMMUNE)]
    items = [feedback("PA-1"), feedback("PA-2", status="new", answered_at=None, satisfaction=None),
             feedback("PA-BAD", category="xay_dung")]
    land(tmp_path, [*good_dossiers(20), *broken], items)

    out = pipeline.validate_sources(month(tmp_path))

    folder = tmp_path.joinpath(*QDIR)
    assert out["quarantined"] == {"dossiers": 2, "feedback": 1}
    assert any("BAD-DUE" in w and "quarantined" in w for w in out["warnings"])
    for suite in ("dossiers", "feedback", "inputs"):  # include/inputs/2023-11/872.yaml exists
        result = json.loads((folder / f"{suite}.json").read_text(encoding="utf-8"))
        assert result["suite_name"] == suite and result["results"]
    index = folder / "index.html"
    assert out["results_page"] == str(index) and index.exists()
    held = pq.read_table(folder / "quarantine" / "dossiers.parquet").to_pylist()
    assert {r["MaHoSo"]: r["quality_checks"] for r in held} == {"BAD-DUE": "finished_has_due_date",
                                                                "BAD-UNIT": "unit_in_district"}
    assert not set(pq.read_table(folder / "quarantine" / "dossiers.parquet").column_names) & PERSONAL_FIELDS
    clean = pq.read_table(folder / "dossiers.parquet")
    assert clean.schema == pq.read_table(tmp_path / "raw" / "2023-11" / "872" / "dossiers.parquet").schema
    assert clean.num_rows == 20 and "BAD-DUE" not in clean.column("MaHoSo").to_pylist()
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["blocked"] is False and summary["sources"]["dossiers"]["quarantined_ids"] == ["BAD-DUE", "BAD-UNIT"]

    # The metrics come from the clean extracts only, are checked, and the evidence says what was set aside.
    pipeline.compute_metrics(month(tmp_path), "run-1")
    engine = warehouse.engine_for(url(tmp_path))
    tong = next(r for r in warehouse.dossier_rows(engine, "2023-11", "872") if r["level"] == "tong")
    fb = warehouse.feedback_row(engine, "2023-11", "872")
    engine.dispose()
    want = metrics.dossier_metrics(metrics.dossier_flags(landed_frame(good_dossiers(20), "dossiers"), UNIT, PERIOD),
                                   UNIT, PERIOD)
    assert tong["received"] == next(r for r in want if r["level"] == "tong")["received"] == 20
    assert fb["feedback_received"] == 2
    evidence = json.loads(month(tmp_path).files.evidence.read_text(encoding="utf-8"))
    assert evidence["quality"]["quarantined"] == {"dossiers": 2, "feedback": 1}
    assert evidence["quality"]["quarantined_ids"]["feedback"] == ["PA-BAD"]
    assert {f["check"] for f in evidence["quality"]["findings"]} == {"finished_has_due_date", "unit_in_district",
                                                                      "category_in_set"}
    metrics_result = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert metrics_result["success"] is True and metrics_result["suite_name"] == "metrics"
    page = index.read_text(encoding="utf-8")  # written again by the metrics step, over every result
    assert all(f'href="{suite}.json"' in page for suite in ("dossiers", "feedback", "inputs", "metrics"))
    assert "Not checked yet" not in page and "Passed with 3 quarantined" in page


def _stale_outputs(root: Path) -> list[Path]:
    """What an earlier successful run of the period left: report, PDF, evidence, metrics, warehouse rows."""
    reports = root / "reports" / "2023-11"
    reports.mkdir(parents=True)
    files = [reports / "bao-cao-tthc-872-2023-11.docx", reports / "bao-cao-tthc-872-2023-11.pdf",
             reports / "bao-cao-tthc-872-2023-11.evidence.json", month(root).files.evidence]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("stale")
    (reports / "bao-cao-tthc-874-2023-11.docx").write_text("another district's report stays")
    flags = metrics.dossier_flags(landed_frame(good_dossiers(3), "dossiers"), UNIT, PERIOD)
    engine = warehouse.engine_for(url(root))
    warehouse.replace_period(engine, "2023-11", "872", metrics.dossier_metrics(flags, UNIT, PERIOD),
                             {"period": "2023-11", "district_code": "872",
                              **{n: 0 for n in metrics.FEEDBACK_COUNTS}}, "earlier-run")
    engine.dispose()
    return files


def test_block_above_the_quarantine_limit_fails_with_ids_and_removes_stale_outputs(tmp_path: Path) -> None:
    broken = [dossier(f"NO-DUE-{i}", NgayHenTra=None) for i in range(5)]
    land(tmp_path, [*good_dossiers(20), *broken], [feedback("PA-1")])
    stale = _stale_outputs(tmp_path)

    with pytest.raises(QualityError) as caught:
        pipeline.validate_sources(month(tmp_path))

    message = str(caught.value)
    assert ONE_STOP in message and "finished_has_due_date: 5" in message and "5 of 25 dossier(s)" in message
    assert "NO-DUE-0" in message and "more than the 3 that may be set aside" in message
    assert f"Quality results: {tmp_path.joinpath(*QDIR) / 'index.html'}." in message
    assert not any(p.exists() for p in stale)
    assert (tmp_path / "reports" / "2023-11" / "bao-cao-tthc-874-2023-11.docx").exists()
    engine = warehouse.engine_for(url(tmp_path))
    assert warehouse.dossier_rows(engine, "2023-11", "872") == []
    assert warehouse.feedback_row(engine, "2023-11", "872") is None
    engine.dispose()
    folder = tmp_path.joinpath(*QDIR)
    assert not (folder / "dossiers.parquet").exists() and not (folder / "feedback.parquet").exists()
    assert (folder / "index.html").exists() and not (folder / "data_docs").exists()
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["blocked"] is True and summary["message"] == message
    with pytest.raises(metrics.DataError, match="run the validate step first"):
        pipeline.compute_metrics(month(tmp_path), "run-2")


def test_a_blocking_check_fails_on_one_record(tmp_path: Path) -> None:
    land(tmp_path, [*good_dossiers(50), dossier("BAD-STATUS", TrangThaiHoSo=11)], [])
    config = config_with(checks={"dossiers": {"status_in_set": "block"}})
    with pytest.raises(QualityError, match=r"1 of 51 dossier\(s\), e.g. BAD-STATUS fail check dossiers.status_in_set"):
        pipeline.validate_sources(month(tmp_path, config))


def test_warn_keeps_the_record_and_reports_it(tmp_path: Path) -> None:
    land(tmp_path, [*good_dossiers(5), dossier("NEG-FEE", LePhi_SoTien=-5000)],
         [feedback("PA-7", satisfaction=7)])
    config = config_with(checks={"dossiers": {"fee_non_negative": "warn"}})
    out = pipeline.validate_sources(month(tmp_path, config))
    assert out["quarantined"] == {"dossiers": 0, "feedback": 0}
    assert any("NEG-FEE" in w and "fee_non_negative" in w for w in out["warnings"])
    assert any("PA-7" in w and "satisfaction_in_range" in w for w in out["warnings"])  # warn by default
    clean = pq.read_table(tmp_path.joinpath(*QDIR) / "dossiers.parquet")
    assert "NEG-FEE" in clean.column("MaHoSo").to_pylist()


def _history(root: Path, received: int, periods: tuple[str, ...] = ("2023-08", "2023-09", "2023-10")) -> None:
    flags = metrics.dossier_flags(landed_frame(good_dossiers(1), "dossiers"), UNIT, PERIOD)
    engine = warehouse.engine_for(url(root))
    for name in periods:
        rows = [{**r, "period": name, "received": received if r["level"] == "tong" else r["received"]}
                for r in metrics.dossier_metrics(flags, UNIT, PERIOD)]
        warehouse.replace_period(engine, name, "872", rows, {"period": name, "district_code": "872",
                                                             **{n: 0 for n in metrics.FEEDBACK_COUNTS}}, "history")
    engine.dispose()


def test_volume_drop_against_previous_periods_is_flagged(tmp_path: Path) -> None:
    land(tmp_path, good_dossiers(10), [])
    out = pipeline.validate_sources(month(tmp_path))
    assert not any("volume" in w for w in out["warnings"])  # no history: nothing to compare with

    _history(tmp_path, received=40)  # 10 now vs a mean of 40: a fall of 75 % > 50 %
    out = pipeline.validate_sources(month(tmp_path))
    warning = next(w for w in out["warnings"] if "volume" in w)
    assert "2023-08, 2023-09, 2023-10" in warning and "20" in warning and "kept" in warning
    summary = json.loads((tmp_path.joinpath(*QDIR) / "summary.json").read_text(encoding="utf-8"))
    assert summary["volume"] == {"periods": ["2023-08", "2023-09", "2023-10"], "mean_received": 40.0,
                                 "min_received": 20.0, "received": 10}

    with pytest.raises(QualityError, match=r"dossiers\.volume"):
        pipeline.validate_sources(month(tmp_path, config_with(checks={"dossiers": {"volume": "block"}})))

    _history(tmp_path, received=18)  # 10 vs 18: a fall of 44 %, within the 50 % allowed
    out = pipeline.validate_sources(month(tmp_path))
    assert not any("volume" in w for w in out["warnings"])


def _inputs_config(tmp_path: Path, text: str) -> Any:
    include = tmp_path / "include"
    (include / "inputs" / "2023-11").mkdir(parents=True)
    (include / "inputs" / "2023-11" / "872.yaml").write_text(text, encoding="utf-8")
    return CONFIG.model_copy(update={"include_dir": include})


def test_operator_inputs_are_validated(tmp_path: Path) -> None:
    land(tmp_path, good_dossiers(3), [])
    config = _inputs_config(tmp_path, "inspections:\n  count: 2\n  violations: 3\n  findings: hai trường hợp\n")
    with pytest.raises(QualityError, match=r"inputs\.violations_within_count") as caught:
        pipeline.validate_sources(month(tmp_path, config))
    assert "operator inputs" in str(caught.value)


def test_unreadable_operator_inputs_block_with_the_file_named(tmp_path: Path) -> None:
    land(tmp_path, good_dossiers(3), [])
    config = _inputs_config(tmp_path, "inspections:\n  count: -1\n")
    with pytest.raises(QualityError, match=r"872\.yaml.*inspections\.count"):
        pipeline.validate_sources(month(tmp_path, config))


def test_run_parameters_override_the_inputs_file(tmp_path: Path) -> None:
    land(tmp_path, good_dossiers(3), [])
    params = {"inspections": {"count": 1, "violations": 2, "findings": "x"}}
    with pytest.raises(QualityError, match="violations_within_count"):
        pipeline.validate_sources(month(tmp_path), input_params=params)


def test_rerun_replaces_an_earlier_quarantine(tmp_path: Path) -> None:
    land(tmp_path, [*good_dossiers(5), dossier("BAD", KenhThucHien=9)], [])
    pipeline.validate_sources(month(tmp_path))
    assert (tmp_path.joinpath(*QDIR) / "quarantine" / "dossiers.parquet").exists()
    land(tmp_path, good_dossiers(5), [])  # the source was corrected
    out = pipeline.validate_sources(month(tmp_path))
    assert out["quarantined"] == {"dossiers": 0, "feedback": 0}
    assert not (tmp_path.joinpath(*QDIR) / "quarantine").exists()
