"""Validation in row batches says exactly what validating the whole source at once says.

Why: a large unit is validated ``quality.batch_records`` records at a time to bound memory
(``GxSession.run_batches``). Every check's verdict, count, offending ids, value samples and percentages
must be those of one whole-frame run, including the checks that need every row (uniqueness across
batches, the received-dossiers sum of the volume check), and the gate's files must not depend on the
batch size.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.quality.conftest import CONFIG, PERIOD, UNIT, dossier, feedback, land, landed_frame
from tests.quality.test_expectations import DOSSIER_CASES, FEEDBACK_CASES, _cases
from tthc import pipeline
from tthc.config import Quality
from tthc.district_month import DistrictMonth
from tthc.quality.checks import DOSSIERS, FEEDBACK, checks_of
from tthc.quality.prepare import DOSSIER_DERIVED, FEEDBACK_DERIVED, prepare_dossiers, prepare_feedback
from tthc.quality.runner import findings, merge_results, needs_every_row
from tthc.quality.suites import VolumeBaseline, dossier_suite, feedback_suite


def _records(source: str) -> list[dict[str, Any]]:
    """Every broken and passing case of the source, valid records between them, a duplicated id far apart."""
    make, cases = (dossier, DOSSIER_CASES) if source == DOSSIERS else (feedback, FEEDBACK_CASES)
    out = [make(f"OK-{n:03d}") for n in range(40)]
    for n, (_, record_id, changes) in enumerate(_cases(cases)):
        out.insert((n * 7) % len(out), make(record_id, **changes))
    out.insert(0, make("DUP-1"))
    out.append(make("DUP-1"))  # the two halves of a duplicate land in the first and the last batch
    return out


def _comparable(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-expectation outcome of a result by number: success and GX's result block (its query string excepted)."""
    out = []
    for item in result["results"]:
        details = {k: v for k, v in (item.get("result") or {}).items() if k != "unexpected_index_query"}
        out.append({"n": item["expectation_config"]["meta"]["n"], "success": item["success"], "result": details})
    return sorted(out, key=lambda item: item["n"])


@pytest.mark.parametrize("source", [DOSSIERS, FEEDBACK])
def test_batches_give_the_whole_frames_result(gx_session: Any, source: str) -> None:
    if source == DOSSIERS:
        frame = prepare_dossiers(landed_frame(_records(source), source), PERIOD)
        # a volume floor above what was received: the sum over every batch must fail it, as the whole does
        suite = lambda: dossier_suite(UNIT, PERIOD, DOSSIER_DERIVED, VolumeBaseline(("2023-10",), 1e6, 1e6))  # noqa: E731
        id_column = "MaHoSo"
    else:
        frame = prepare_feedback(landed_frame(_records(source), source))
        suite = lambda: feedback_suite(UNIT, PERIOD, FEEDBACK_DERIVED)  # noqa: E731
        id_column = "id"
    severities = {c.name: "quarantine" if c.name != "schema" else "block" for c in checks_of(source)}
    assert any(needs_every_row(e) for _, e in suite())  # uniqueness (and for dossiers the volume sum)

    whole = gx_session.run(f"whole-{source}", frame, suite(), source, id_column, severities)
    cut = [0, 9, 30, 31, len(frame)]  # uneven batches, one of a single row
    batches = [frame.iloc[a:b] for a, b in itertools.pairwise(cut)]
    batched, gathered = gx_session.run_batches(f"batched-{source}", batches, suite(), source, id_column, severities,
                                               keep=["q_received_in_period"] if source == DOSSIERS else [])

    assert not whole["success"] and not batched["success"]
    for got, want in zip(_comparable(batched), _comparable(whole), strict=True):
        assert got == want, f"{got}\n!=\n{want}"
    assert batched["statistics"] == whole["statistics"]
    numbers = [[item["expectation_config"]["meta"]["n"] for item in r["results"]] for r in (batched, whole)]
    assert numbers[0] == numbers[1]  # GX's order of the whole suite (grouped by column)
    assert batched["meta"]["row_batches"][:4] == [9, 21, 1, len(frame) - 31]
    assert [f.__dict__ for f in findings(batched, id_column)] == [f.__dict__ for f in findings(whole, id_column)]
    failed = {f.check: f.ids for f in findings(batched, id_column)}
    assert failed["id_unique"] == ["DUP-1"]
    assert list(gathered[id_column]) == list(frame[id_column]) and list(gathered.index) == list(frame.index)
    if source == DOSSIERS:
        assert "volume" in failed or any(f.check == "volume" for f in findings(batched, id_column))


def test_one_part_is_returned_as_it_is() -> None:
    part = {"results": [], "statistics": {}, "success": True}
    assert merge_results([part]) is part


def test_the_gates_files_do_not_depend_on_the_batch_size(tmp_path: Path) -> None:
    """validate_sources with 1,000-record batches over 2,600 dossiers writes what one batch writes."""
    dossiers = [dossier(f"H87.872-231101-{i:05d}", KenhThucHien=1 + i % 3) for i in range(2_600)]
    dossiers[5] = dossier(dossiers[5]["MaHoSo"], NgayHenTra=None)  # finished without a due date: quarantined
    dossiers[1_500] = dossier(dossiers[1_500]["MaHoSo"], KenhThucHien=7)
    dossiers[2_599] = dossier(dossiers[2_599]["MaHoSo"], LePhi_SoTien=-5)
    items = [feedback("PA-1"), feedback("PA-2", channel="fax")]
    outputs = {}
    for name, rows in (("whole", 250_000), ("batched", 1_000)):
        root = tmp_path / name
        land(root, dossiers, items)
        config = CONFIG.model_copy(update={"quality": Quality(**{**CONFIG.quality.model_dump(),
                                                                 "batch_records": rows})})
        month = DistrictMonth(config, PERIOD, UNIT, root, f"sqlite:///{root / 'warehouse.db'}")
        out = pipeline.validate_sources(month)
        folder = root / "quality" / "2023-11" / "872"
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        outputs[name] = {
            "out": {k: v for k, v in out.items() if k in ("records", "quarantined", "warnings")},
            "sources": summary["sources"], "volume": summary["volume"],
            "clean": pq.read_table(folder / "dossiers.parquet").to_pylist(),
            "held": pq.read_table(folder / "quarantine" / "dossiers.parquet").to_pylist(),
            "results": _comparable(json.loads((folder / "dossiers.json").read_text(encoding="utf-8"))),
        }
    assert outputs["batched"] == outputs["whole"]
    assert outputs["whole"]["out"]["quarantined"] == {"dossiers": 3, "feedback": 1}
    assert len(outputs["whole"]["clean"]) == 2_597
    assert pq.ParquetFile(tmp_path / "batched" / "quality" / "2023-11" / "872" / "dossiers.parquet").num_row_groups == 3
