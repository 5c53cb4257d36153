"""Check ``field_types``: records set aside at extraction for a wrong JSON type, quarantined or blocked by the policy.

The extract step writes ``raw/<YYYY-MM>/<unit>/<source>.rejected.json`` beside the landed Parquet (id,
field, expected and received type; never a value). Here that file is written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.quality.conftest import dossier, feedback, land
from tests.quality.test_validate_district import QDIR, config_with, good_dossiers, month
from tthc import pipeline
from tthc.metrics import DataError
from tthc.quality import QualityError
from tthc.quality.district import rejected_finding
from tthc.records import HOTLINE

TYPO_UNIT = {"field": "MaDonVi", "expected": "string", "got": "object"}


def reject(root: Path, source: str, records: list[dict[str, Any]] | None, text: str | None = None) -> None:
    path = root / "raw" / "2023-11" / "872" / f"{source}.rejected.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else json.dumps({"records": records}), encoding="utf-8")


def summary_of(root: Path) -> dict[str, Any]:
    return json.loads((root.joinpath(*QDIR) / "summary.json").read_text(encoding="utf-8"))


def test_rejected_records_are_quarantined_by_id_and_field(tmp_path: Path) -> None:
    land(tmp_path, [*good_dossiers(300), dossier("BAD-DUE", NgayHenTra=None)], [feedback("PA-1")])
    reject(tmp_path, "dossiers", [
        {"id": "H19.22-1", **TYPO_UNIT},
        {"id": "H19.22-2", **TYPO_UNIT},
        {"id": "H19.22-2", "field": "KenhThucHien", "expected": "integer", "got": "string"},
    ])
    reject(tmp_path, "feedback", [])  # written even when nothing was rejected

    out = pipeline.validate_sources(month(tmp_path))

    assert out["quarantined"] == {"dossiers": 3, "feedback": 0}
    summary = summary_of(tmp_path)
    part = summary["sources"]["dossiers"]
    assert part["records"] == 303  # landed + rejected: the base of the quarantine limit
    assert part["quarantined_ids"] == ["BAD-DUE", "H19.22-1", "H19.22-2"]
    found = next(f for f in part["findings"] if f["check"] == "field_types")
    assert found["outcome"] == "quarantined" and found["ids"] == ["H19.22-1", "H19.22-2"]
    unit, channel = "MaDonVi: expected string, got object", "KenhThucHien: expected integer, got string"
    assert found["expectations"] == [unit, channel]  # the commonest first
    assert found["observed"] == [f"{unit}: 2 record(s)", f"{channel}: 1 record(s)"]
    assert found["id_notes"] == {"H19.22-1": unit, "H19.22-2": f"{unit}; {channel}"}
    assert summary["rejected"] == {"dossiers": 2, "feedback": 0}
    assert not any(f["check"] == "field_types" for f in summary["sources"]["feedback"]["findings"])
    assert any("field_types 2" in w and "3 of 303 dossier(s) quarantined" in w for w in out["warnings"])

    folder = tmp_path.joinpath(*QDIR)
    held = pq.read_table(folder / "quarantine" / "dossiers.parquet").to_pylist()
    assert [r["MaHoSo"] for r in held] == ["BAD-DUE"]  # never landed: not in the quarantine file
    assert pq.read_table(folder / "dossiers.parquet").num_rows == 300
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "dossiers.field_types" in page and "<li>H19.22-1: MaDonVi: expected string, got object</li>" in page
    assert "2 had a field of the wrong JSON type" in page


def test_only_rejected_records_write_no_quarantine_file_and_count_toward_the_limit(tmp_path: Path) -> None:
    """2 landed + 3 rejected: the limit is min 3 of 5 records; counting the landed alone (2) would block."""
    land(tmp_path, good_dossiers(2), [])
    reject(tmp_path, "dossiers", [{"id": f"R-{i}", **TYPO_UNIT} for i in range(3)])
    out = pipeline.validate_sources(month(tmp_path))
    assert out["quarantined"]["dossiers"] == 3
    assert not (tmp_path.joinpath(*QDIR) / "quarantine" / "dossiers.parquet").exists()
    assert summary_of(tmp_path)["quarantine"] == {}


def test_more_rejected_than_may_be_set_aside_blocks(tmp_path: Path) -> None:
    land(tmp_path, good_dossiers(10), [feedback("PA-1")])
    reject(tmp_path, "feedback", [{"id": f"PA-T{i}", "field": "satisfaction", "expected": "integer", "got": "string"}
                                  for i in range(4)])
    with pytest.raises(QualityError) as caught:
        pipeline.validate_sources(month(tmp_path))
    message = str(caught.value)
    assert HOTLINE in message and "4 of 5 feedback item(s)" in message and "field_types: 4" in message
    assert "more than the 3 that may be set aside" in message
    page = (tmp_path.joinpath(*QDIR) / "index.html").read_text(encoding="utf-8")
    assert "BLOCKED" in page and "<li>PA-T0: satisfaction: expected integer, got string</li>" in page


def test_severity_block_names_the_check_fields_and_ids(tmp_path: Path) -> None:
    land(tmp_path, good_dossiers(50), [])
    reject(tmp_path, "dossiers", [{"id": "H19.22-9", **TYPO_UNIT}])
    config = config_with(checks={"dossiers": {"field_types": "block"}})
    with pytest.raises(QualityError, match=r"1 of 51 dossier\(s\), e.g. H19.22-9 fail check dossiers.field_types "
                                           r"\(.*MaDonVi: expected string, got object\)"):
        pipeline.validate_sources(month(tmp_path, config))


def test_absent_empty_and_malformed_lists(tmp_path: Path) -> None:
    path = month(tmp_path).files.rejected("dossiers")
    assert rejected_finding(path, "dossiers", "quarantine") is None  # an extract of an earlier version
    reject(tmp_path, "dossiers", [])
    assert rejected_finding(path, "dossiers", "quarantine") is None
    reject(tmp_path, "dossiers", None, text='{"records": [{"id": "x"}]}')
    with pytest.raises(DataError, match=r"dossiers.rejected.json is not the extract's list.*rerun"):
        rejected_finding(path, "dossiers", "quarantine")
