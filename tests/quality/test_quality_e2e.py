"""The DAG end to end with the simulator serving broken records: quarantine, block, and a clean district.

One ``dag.test()`` run of period 2023-11 for three districts:

- 872 gets a few broken records of many kinds: they are quarantined, its report is written, its
  figures are ``docs/metrics.md`` over the served records minus exactly those, and its evidence lists them;
- 874 gets 100 resolved dossiers without a due date, more than may be set aside: its validate task
  fails with a message naming the system, the check, the count and ids; it has no report, and what an
  earlier run had left for the period (report, PDF, evidence, warehouse rows) is gone;
- 866 is served clean data and gets its report as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest

from simulator.corrupt import corrupt_dossiers, corrupt_feedback, parse_spec
from simulator.data import dossiers_in_window, feedback_in_window
from simulator.server import SimulatorHandle, start_in_thread
from tests.e2e.oracle import dossier_counts, feedback_counts
from tests.quality.pages import scan_html
from tthc import metrics, warehouse
from tthc.periods import parse_period
from tthc.records import ONE_STOP, PERSONAL_FIELDS
from tthc.units import load_hierarchy

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PERIOD = parse_period("2023-11")
HIERARCHY = load_hierarchy(ROOT / "include" / "reference" / "units-dong-thap-2023.json")
QUARANTINED, BLOCKED, CLEAN = "872", "874", "866"
SPEC = {
    QUARANTINED: ["no_due_date", "foreign_unit", "bad_time_format", "received_after_due", "bad_status",
                  "outside_window", "duplicate_id", "feedback_no_answered_at*2"],
    BLOCKED: ["no_due_date*100"],
}


@pytest.fixture(scope="module")
def broken_simulator() -> Iterator[SimulatorHandle]:
    with start_in_thread(quiet=True, corrupt=SPEC) as handle:
        yield handle


def _foreign(district: str) -> str:
    others = [c.code for u in HIERARCHY.reporting_units if u.code != district for c in u.children]
    return others[0]


def served(district: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[str]]]:
    """What the simulator served the district (after the connector's dedup by id) and the broken ids per kind."""
    kinds = parse_spec(SPEC).get(district, ())
    records, broken = corrupt_dossiers(dossiers_in_window(district, PERIOD.start_date, PERIOD.end_date), kinds,
                                       PERIOD.start_date, PERIOD.end_date, _foreign(district))
    items, broken_items = corrupt_feedback(feedback_in_window(district, PERIOD.start_date, PERIOD.end_date), kinds,
                                           PERIOD.start_date, PERIOD.end_date, _foreign(district))
    latest: dict[str, dict[str, Any]] = {}
    for record in records:  # a stale duplicate never wins over the record's latest version
        if record["MaHoSo"] not in latest or record["NgayCapNhat"] >= latest[record["MaHoSo"]]["NgayCapNhat"]:
            latest[record["MaHoSo"]] = record
    return list(latest.values()), items, {**broken, **broken_items}


def expected_rows(district: str, records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    unit = HIERARCHY.get(district)
    start, end = PERIOD.start.replace(tzinfo=None), PERIOD.end.replace(tzinfo=None)
    children = [c.code for c in unit.children]
    rows = {("huyen", district): dossier_counts([r for r in records if r["MaDonVi"] == district], start, end),
            ("xa", district): dossier_counts([r for r in records if r["MaDonVi"] in children], start, end),
            ("tong", district): dossier_counts(records, start, end)}
    return rows


def _stale(data_root: Path, warehouse_url: str) -> list[Path]:
    reports = data_root / "reports" / PERIOD.name
    reports.mkdir(parents=True, exist_ok=True)
    files = [reports / f"bao-cao-tthc-{BLOCKED}-{PERIOD.name}{suffix}" for suffix in (".docx", ".pdf",
                                                                                     ".evidence.json")]
    for path in files:
        path.write_text("left by an earlier run of the period")
    engine = warehouse.engine_for(warehouse_url)
    zero = {n: 0 for n in metrics.DOSSIER_COUNTS}
    warehouse.replace_period(engine, PERIOD.name, BLOCKED, [{"period": PERIOD.name, "district_code": BLOCKED,
                                                             "level": "tong", "unit_code": BLOCKED, **zero}],
                             {"period": PERIOD.name, "district_code": BLOCKED,
                              **{n: 0 for n in metrics.FEEDBACK_COUNTS}}, "earlier-run")
    engine.dispose()
    return files


def _task_states(run_id: str) -> dict[tuple[str, int], str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == "tthc_monthly_report",
                                                         TaskInstance.run_id == run_id)).all()
        return {(ti.task_id, ti.map_index): getattr(ti.state, "value", ti.state) for ti in tis}


def notifying_config(tmp_path: Path) -> Path:
    """The bundled configuration with operators to notify (the bundled file notifies nobody)."""
    text = (ROOT / "include" / "config" / "pipeline.yaml").read_text("utf-8")
    text = text.replace("include_dir: ..", f"include_dir: {ROOT / 'include'}")
    text = text.replace("  to: []", "  to: [ttpvhcc@tinh.example, vanphong@tinh.example]")
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, "utf-8")
    return path


def test_broken_sources_are_quarantined_or_blocked_and_other_districts_report(
        airflow_db: Path, broken_simulator: SimulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str], smtp_server: Any) -> None:
    data_root, warehouse_url = tmp_path / "data", f"sqlite:///{tmp_path / 'warehouse.db'}"
    host_port = broken_simulator.base_url.split("://", 1)[1]
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", f"http://:sim-one-stop-token@{host_port}")
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_HOTLINE_1022", f"http://:sim-hotline-key@{host_port}")
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", f"sqlite:///{tmp_path / 'warehouse.db'}")
    monkeypatch.setenv("TTHC_DATA_ROOT", str(data_root))
    monkeypatch.setenv("TTHC_CONFIG", str(notifying_config(tmp_path)))
    stale = _stale(data_root, warehouse_url)
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["tthc_monthly_report"]
    run = dag.test(logical_date=PERIOD.start, run_conf={"period": PERIOD.name,
                                                      "districts": [QUARANTINED, BLOCKED, CLEAN]})
    log = capfd.readouterr()

    # The run fails (a district has no report, so it notifies), but only the blocked district's tasks failed.
    assert run.state == "failed"
    index = {code: i for i, code in enumerate(u.code for u in HIERARCHY.select([QUARANTINED, BLOCKED, CLEAN]))}
    states = _task_states(run.run_id)
    assert states[("district.validate", index[BLOCKED])] == "failed"
    assert states[("district.compute_metrics", index[BLOCKED])] == "upstream_failed"
    for code in (QUARANTINED, CLEAN):
        assert states[("district.write_report", index[code])] == "success"

    # Blocked: the message says what and where; no report, no stale leftovers, no warehouse rows.
    summary = json.loads((data_root / "quality" / PERIOD.name / BLOCKED / "summary.json").read_text("utf-8"))
    message = summary["message"]
    assert summary["blocked"] and ONE_STOP in message and "finished_has_due_date: 100" in message
    assert "100 of" in message and "more than the" in message and f"{BLOCKED}/index.html" in message
    assert message.splitlines()[0] in log.out + log.err  # the failed task's log carries the same message
    assert not any(p.exists() for p in stale)
    assert not list((data_root / "reports" / PERIOD.name).glob(f"bao-cao-tthc-{BLOCKED}-*"))
    engine = warehouse.engine_for(warehouse_url)
    assert warehouse.dossier_rows(engine, PERIOD.name, BLOCKED) == []
    assert (data_root / "quality" / PERIOD.name / BLOCKED / "index.html").exists()

    # Quarantined: exactly the broken records are set aside, and the figures exclude them.
    records, items, broken = served(QUARANTINED)
    evidence_file = data_root / "reports" / PERIOD.name / f"bao-cao-tthc-{QUARANTINED}-{PERIOD.name}.evidence.json"
    evidence = json.loads(evidence_file.read_text("utf-8"))["quality"]
    want_dossier_ids = sorted(i for kind, ids in broken.items() if not kind.startswith("feedback") and
                              kind != "duplicate_id" for i in ids)
    assert evidence["quarantined_ids"]["dossiers"] == want_dossier_ids and len(want_dossier_ids) == 18
    assert evidence["quarantined_ids"]["feedback"] == sorted(broken["feedback_no_answered_at"])
    assert {f["check"] for f in evidence["findings"]} >= {"finished_has_due_date", "unit_in_district",
                                                          "time_format", "received_before_due", "status_in_set",
                                                          "in_window", "answered_has_answered_at"}
    kept = [r for r in records if r["MaHoSo"] not in set(want_dossier_ids)]
    rows = {(r["level"], r["unit_code"]): r for r in warehouse.dossier_rows(engine, PERIOD.name, QUARANTINED)}
    for key, want in expected_rows(QUARANTINED, kept).items():
        assert {name: rows[key][name] for name in want} == want, key
    kept_items = [i for i in items if i["id"] not in set(broken["feedback_no_answered_at"])]
    got_feedback = warehouse.feedback_row(engine, PERIOD.name, QUARANTINED)
    want_feedback = feedback_counts(kept_items, PERIOD.start, PERIOD.end)
    assert {n: got_feedback[n] for n in want_feedback} == want_feedback
    held = pq.read_table(data_root / "quality" / PERIOD.name / QUARANTINED / "quarantine" / "dossiers.parquet")
    assert sorted(held.column("MaHoSo").to_pylist()) == want_dossier_ids
    assert not set(held.column_names) & PERSONAL_FIELDS

    # Clean: its report as usual, nothing set aside.
    assert (data_root / "reports" / PERIOD.name / f"bao-cao-tthc-{CLEAN}-{PERIOD.name}.docx").exists()
    assert warehouse.dossier_rows(engine, PERIOD.name, CLEAN)
    engine.dispose()

    run_summary = json.loads((data_root / "reports" / PERIOD.name / "run-summary.json").read_text("utf-8"))
    assert run_summary["reports_written"] == 2 and run_summary["records_quarantined"] == 18 + 2
    assert [label for label in run_summary["missing"]] == [f"{HIERARCHY.get(BLOCKED).name} ({BLOCKED})"]
    assert any(f"{QUARANTINED}: {ONE_STOP}: 18 of" in w and "quarantined" in w for w in run_summary["warnings"])
    assert {q["unit"].split("(")[-1].rstrip(")") for q in run_summary["quality"]} == {QUARANTINED, CLEAN}

    # Every page written is self-contained: nothing loaded from elsewhere, no script, links only beside it.
    pages, problems = scan_html(data_root)
    assert sorted(page.relative_to(data_root / "quality" / PERIOD.name).as_posix() for page in pages) == sorted(
        f"{code}/index.html" for code in (QUARANTINED, BLOCKED, CLEAN))
    assert problems == []
    assert all(q["results_page"].endswith(f"/{q['unit'].split('(')[-1].rstrip(')')}/index.html")
               for q in run_summary["quality"])

    # Failures are heard: a mail for the blocked district (why, how to rerun, links) and one for the run.
    mails = {message["Subject"]: (sender, to, message) for sender, to, message in smtp_server.messages}
    district = f"TTHC report 2023-11: {HIERARCHY.get(BLOCKED).name} ({BLOCKED}) failed at validate"
    run_mail = "TTHC report 2023-11: the run ended with districts without a report"
    assert set(mails) == {district, run_mail}, list(mails)
    sender, to, message = mails[district]
    assert sender == "tthc-pipeline@tinh.example" and to == ["ttpvhcc@tinh.example", "vanphong@tinh.example"]
    body = message.get_body(("html",)).get_content()
    assert "finished_has_due_date: 100" in body and "clear this district&#x27;s five tasks together" in body
    run_path = f"/dags/tthc_monthly_report/runs/{quote(run.run_id, safe='')}"
    assert run_path in body and f"/tthc{run_path}/" in body
    assert "Huyện Thanh Bình" in mails[run_mail][2].get_body(("html",)).get_content()
