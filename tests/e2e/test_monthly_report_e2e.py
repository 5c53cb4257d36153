"""The DAG end to end against the simulator: the numbers in the warehouse and in the .docx are docs/metrics.md.

Runs ``dag.test()`` for two districts (a rural district and a city) with 30 % of the source
requests failing transiently, compares every stored figure with an independent computation over
the simulator's own records, checks the report's text, that no personal data landed anywhere, and
that a rerun (this time naming the period by its data interval only) changes nothing.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from simulator.data import dossiers_in_window, feedback_in_window
from tests.e2e.oracle import expected_from_simulator
from tthc import warehouse
from tthc.numbers import fmt_count, fmt_rate
from tthc.periods import LOCAL_TZ, parse_period
from tthc.units import load_hierarchy

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PERIOD = parse_period("2023-11")
DISTRICTS = ["872", "866"]
HIERARCHY = load_hierarchy(ROOT / "include" / "reference" / "units-dong-thap-2023.json")


def expected(district: str) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, int]]:
    return expected_from_simulator(HIERARCHY.get(district), PERIOD.start, PERIOD.end)


def docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def personal_values(district: str) -> set[str]:
    values = set()
    for record in dossiers_in_window(district, PERIOD.start_date, PERIOD.end_date):
        values |= {record["ChuHoSo"], record["SoDienThoai"]}
    for item in feedback_in_window(district, PERIOD.start_date, PERIOD.end_date):
        values |= {item["citizen_name"], item["phone"], item["content"]}
    return values


def assert_no_personal_data(data_root: Path, warehouse_url: str) -> None:
    import pyarrow.parquet as pq

    secrets = set().union(*(personal_values(d) for d in DISTRICTS))
    phones = {s for s in secrets if s.isdigit()}
    checked = 0
    for path in data_root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            assert not set(table.column_names) & {"ChuHoSo", "SoDienThoai", "citizen_name", "phone", "content"}
            values = {str(v) for column in table.columns for v in column.to_pylist()}
            leaked = values & secrets
        elif path.suffix == ".docx":
            with zipfile.ZipFile(path) as archive:
                text = " ".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
                                if n.endswith(".xml"))
            leaked = {s for s in phones if s in text}
        elif path.suffix in (".json", ".csv", ".html", ".txt", ".log"):
            text = path.read_text(encoding="utf-8", errors="replace")
            leaked = {s for s in secrets if s in text}
        else:
            continue
        checked += 1
        assert not leaked, f"personal data in {path}: {sorted(leaked)[:3]}"
    assert checked >= 8
    engine = create_engine(warehouse_url)
    with engine.connect() as conn:
        for table in (warehouse.dossier_table, warehouse.feedback_table):
            assert not {c.name for c in table.columns} & {"ChuHoSo", "SoDienThoai", "citizen_name", "phone"}
            for row in conn.execute(select(table)):
                assert not {str(v) for v in row} & secrets
    engine.dispose()


def stored(warehouse_url: str, district: str) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
    engine = warehouse.engine_for(warehouse_url)
    rows = {(r["level"], r["unit_code"]): r for r in warehouse.dossier_rows(engine, PERIOD.name, district)}
    feedback = warehouse.feedback_row(engine, PERIOD.name, district)
    engine.dispose()
    return rows, feedback


def assert_record_ids(evidence: dict[str, Any], read: Any, district: str,
                      want_rows: dict[tuple[str, str], dict[str, Any]], want_feedback: dict[str, int]) -> None:
    """The evidence's id files (read by their key under the data root) match its digests and give every count."""
    import hashlib

    import pyarrow.parquet as pq

    from tthc.metrics import DOSSIER_COUNTS, FEEDBACK_COUNTS

    tables = {}
    for source, described in evidence["record_ids"].items():
        data = read(described["file"])
        assert hashlib.sha256(data).hexdigest() == described["sha256"], source
        tables[source] = pq.read_table(io.BytesIO(data)).to_pandas()
        assert len(tables[source]) == described["rows"], source
    dossiers = tables["dossiers"]
    assert list(dossiers["MaHoSo"]) == sorted(dossiers["MaHoSo"])
    for name in DOSSIER_COUNTS:
        assert int(dossiers[name].sum()) == want_rows["tong", district][name], name
        assert int(dossiers.loc[dossiers["unit_code"] == district, name].sum()) == want_rows["huyen", district][name]
    for name in FEEDBACK_COUNTS:
        assert int(tables["feedback"][name].sum()) == want_feedback[name], name


def test_month_with_transient_faults_gives_exact_numbers_and_reports(run_dag, simulator, data_root: Path,
                                                                     warehouse_url: str) -> None:
    simulator.set_faults(0.3, ("5xx", "429", "cut", "dup", "slow"))
    try:
        # The period's start is the logical date a scheduled run of it has; "period" in conf only confirms it.
        run = run_dag(PERIOD.start, {"period": PERIOD.name, "districts": DISTRICTS})
    finally:
        simulator.set_faults(0.0)
    assert run.state == "success"

    for district in DISTRICTS:
        want_rows, want_feedback = expected(district)
        got_rows, got_feedback = stored(warehouse_url, district)
        assert set(got_rows) == set(want_rows)
        for key, want in want_rows.items():
            got = {name: got_rows[key][name] for name in want}
            assert got == want, f"{district} {key}"
        assert {name: got_feedback[name] for name in want_feedback} == want_feedback
        assert want_rows["tong", district]["received"] > 1000  # a realistic month, several pages

        report = data_root / "reports" / PERIOD.name / f"bao-cao-tthc-{district}-{PERIOD.name}.docx"
        text = docx_text(report)
        huyen, xa = want_rows["huyen", district], want_rows["xa", district]
        if huyen["result_digitization_rate"] != xa["result_digitization_rate"]:
            assert f"đạt {fmt_rate(huyen['result_digitization_rate'])}, cấp xã đạt " \
                   f"{fmt_rate(xa['result_digitization_rate'])}" in text
        assert f"tiếp nhận {fmt_count(want_feedback['feedback_received'])} phản ánh" in text
        assert f"tháng {PERIOD.month} năm {PERIOD.year}" in text
        assert HIERARCHY.get(district).name.upper() in text

        evidence = json.loads(report.with_name(report.stem + ".evidence.json").read_text(encoding="utf-8"))
        assert_record_ids(evidence, lambda key: (data_root / key).read_bytes(), district, want_rows, want_feedback)

    summary = json.loads((data_root / "reports" / PERIOD.name / "run-summary.json").read_text(encoding="utf-8"))
    assert summary["reports_written"] == 2 and summary["missing"] == []
    assert summary["source_requests_retried"] > 0  # the faults really happened and were retried
    assert_no_personal_data(data_root, warehouse_url)

    # The province's consolidation covers the two units with a report, names the ten without, announces nothing.
    province = summary["province"]
    assert (province["reported"], province["units"], province["complete"]) == (2, 12, False)
    totals = workbook_total(Path(province["workbook"]))
    figures = [{**rows["tong", d], **feedback} for d in DISTRICTS for rows, feedback in [expected(d)]]
    for name in ("received", "resolved", "pending_overdue", "feedback_received"):
        assert totals[name] == sum(f[name] for f in figures), name
    assert "chưa có báo cáo" in docx_text(Path(province["path"]))
    assert province_events() == []


def workbook_total(path: Path) -> dict[str, Any]:
    """The province row (the last) of the workbook's units sheet, by metric name."""
    from openpyxl import load_workbook

    rows = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
    return dict(zip(rows[1], rows[-1], strict=True))


def province_events() -> list[dict[str, Any]]:
    """The extras of the events of the Asset tthc_province_outputs in Airflow's database."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = select(AssetEvent.extra).join(AssetModel, AssetModel.id == AssetEvent.asset_id).where(
            AssetModel.name == "tthc_province_outputs").order_by(AssetEvent.id)
        return [dict(extra) for extra in session.scalars(query)]


def test_rerun_by_data_interval_replaces_rows_with_identical_ones(run_dag, data_root: Path,
                                                                  warehouse_url: str) -> None:
    report = data_root / "reports" / PERIOD.name / f"bao-cao-tthc-{DISTRICTS[0]}-{PERIOD.name}.docx"
    if not report.exists():
        pytest.skip("needs the first end-to-end run")
    before_docx = report.read_bytes()
    before = {d: stored(warehouse_url, d) for d in DISTRICTS}
    # No period in conf: a logical date inside [2023-10-15, 2023-11-15) local names the period, as from the form.
    run = run_dag(datetime(2023, 11, 5, 9, 30, tzinfo=LOCAL_TZ), {"districts": DISTRICTS})
    assert run.state == "success"
    for district in DISTRICTS:
        rows, feedback = stored(warehouse_url, district)
        strip = {"computed_at", "run_id"}
        assert {k: {n: v for n, v in r.items() if n not in strip} for k, r in rows.items()} == \
               {k: {n: v for n, v in r.items() if n not in strip} for k, r in before[district][0].items()}
        assert {n: v for n, v in feedback.items() if n not in strip} == \
               {n: v for n, v in before[district][1].items() if n not in strip}
    engine = create_engine(warehouse_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(warehouse.dossier_table)
                             .where(warehouse.dossier_table.c.period == PERIOD.name)).scalar()
    engine.dispose()
    assert count == sum(3 + len(HIERARCHY.get(d).children) for d in DISTRICTS)  # no duplicate rows
    assert report.read_bytes() == before_docx  # byte-identical report


def test_a_run_for_a_period_not_yet_ended_fails_at_once_without_retries(run_dag) -> None:
    import time

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    started = time.monotonic()
    run = run_dag(datetime(2099, 12, 1, tzinfo=LOCAL_TZ), {})
    assert run.state == "failed" and time.monotonic() - started < 60
    with create_session() as session:
        tis = {ti.task_id: ti for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run.run_id))}
        assert getattr(tis["plan_run"].state, "value", tis["plan_run"].state) == "failed"
        assert tis["plan_run"].try_number == 1
        assert getattr(tis["summarize"].state, "value", tis["summarize"].state) == "failed"


def test_a_complete_period_is_announced_once(run_dag, data_root: Path, warehouse_url: str) -> None:
    """The other ten districts complete the period: one Asset event; a rerun with the same figures adds none."""
    from tthc.config import load_config

    others = [u.code for u in HIERARCHY.reporting_units if u.code not in DISTRICTS]
    assert run_dag(PERIOD.start, {"districts": others}).state == "success"
    events = province_events()
    assert len(events) == 1 and events[0]["period"] == PERIOD.name and events[0]["province"] == "87"
    workbook = data_root / "reports" / PERIOD.name / f"tong-hop-tthc-87-{PERIOD.name}.xlsx"
    assert events[0]["workbook"] == str(workbook)
    totals = workbook_total(workbook)
    rows = [stored(warehouse_url, unit.code)[0]["tong", unit.code] for unit in HIERARCHY.reporting_units]
    assert totals["received"] == sum(row["received"] for row in rows)
    assert totals["unit_name"] == "Toàn tỉnh" and totals["reported"] == "12/12"
    assert "chưa có báo cáo" not in docx_text(workbook.with_suffix(".docx"))
    assert load_config().hierarchy_for(PERIOD).province.code == "87"

    assert run_dag(PERIOD.start, {"districts": DISTRICTS[:1]}).state == "success"
    assert len(province_events()) == 1, "the same outputs were announced twice"
