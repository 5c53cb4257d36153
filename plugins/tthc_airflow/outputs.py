"""The run's outputs one click away in the Airflow UI, behind Airflow's own login (plugin app at ``/tthc``).

Why: reports, the run summary and the quality results page are files under the data root (a worker's
folder, or object storage); an operator reading a run in the UI saw only their paths in XCom text. This
FastAPI app, mounted on the API server by ``tthc_airflow.plugin``, shows per run what it produced,
quarantined and defaulted, and serves exactly those files, read through the data root's path object.

Why every route depends on ``requires_access_dag("GET")``: Airflow does not authenticate plugin apps. The
dependency reads the DAG id from the path (``dag_id``), so every route carries it, and it accepts the UI's
``_token`` cookie (the page opens in the UI's iframe) or an ``Authorization: Bearer`` JWT.

Layout (all relative to ``/tthc``; a run's files sit *under* its page so the page links to them with plain
relative links, like the quality page, and works under any base URL):

- ``dags/{dag_id}/runs/{run_id}/``: the run page (``?district=<code>`` shows one district);
- ``dags/{dag_id}/runs/{run_id}/reports/{file}``: ``bao-cao-tthc-<code>-<period>.docx|.pdf|.evidence.json``,
  the province's consolidated set ``tong-hop-tthc-<province code>-<period>.docx|.pdf|.xlsx`` and
  ``run-summary.json`` of the run's period (never the set's ``.announced.json`` marker: it is the pipeline's);
- ``dags/{dag_id}/runs/{run_id}/quality/{code}/{path}``: the district's quality folder (``index.html`` and
  the GX results and quarantine files it links to relatively), nothing outside it;
- ``dags/{dag_id}/runs/{run_id}/tasks/{task_id}/{map_index}``: redirects to the run page of that map
  index's district.

Why the pages are self-contained (inline CSS, no script, nothing fetched, every value escaped, a CSP): the
same rules as the quality results page (``tthc.quality.page``); they also hold inside the UI's iframe.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from tthc.locations import (
    RESULTS_PAGE,
    RUN_SUMMARY,
    DistrictFiles,
    parse_province_name,
    parse_report_name,
    province_names,
    province_set,
    report_dir,
    report_names,
    run_summary_path,
)
from tthc_airflow import DAG_ID

URL_PREFIX = "/tthc"
PLAN_TASK = "plan_run"
PROVINCE_TASK = "consolidate_province"
# How many of the DAG's latest consolidate_province results are searched for the run that wrote the period's
# current province set, when it is not the run shown (a period is usually reported by a handful of runs).
PROVINCE_RECORDS_SEARCHED = 200
FAILED_STATES = {"failed", "upstream_failed"}
DISTRICT_GROUP = "district."
PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CODE_RE = re.compile(r"^\d{1,6}$")
# One segment of a path inside a quality folder: what the gate writes (index.html, <suite>.json,
# quarantine/<source>.parquet); no dot files, no separators, no "..", no percent or backslash tricks.
SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAX_DEPTH = 4
SUMMARY_FILE = RUN_SUMMARY
TEMPLATE = Path(__file__).with_name("outputs.html.j2")
# The quality page's own policy (tthc.quality.page.CSP), repeated as a header; frame-ancestors lets the UI
# (same origin) show the pages in its tab and nobody else frame them.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'self'")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {
    ".docx": DOCX,
    ".xlsx": XLSX,
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}
INLINE = {".pdf", ".json", ".html"}  # shown by the browser; anything else is downloaded with its name
REPORT_KINDS = (("docx", "Report (Word)"), ("pdf", "Report (PDF)"), ("evidence", "Evidence"))
PROVINCE_KINDS = (("docx", "Consolidated report (Word)"), ("pdf", "Consolidated report (PDF)"),
                  ("xlsx", "Workbook (Excel)"))

app = FastAPI(
    title="TTHC run outputs",
    description="Reports, run summary and quality results of tthc_monthly_report runs",
    docs_url=None, redoc_url=None, openapi_url=None,  # nothing of this app is served without the login
    dependencies=[Depends(requires_access_dag("GET"))],
)


# ---------------------------------------------------------------- what a run is and what it wrote


@dataclass
class District:
    code: str
    label: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> {"href", "name", "size"} or {}
    quality: dict[str, Any] | None = None  # verdict from quality/<period>/<code>/summary.json
    quarantined: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    missing: bool = False


@dataclass
class RunInfo:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    logical_date: str
    conf: dict[str, Any]
    period: str | None
    period_source: str
    period_problem: str | None
    planned: list[dict[str, Any]] | None  # plan_run's XCom, when the run got that far
    data_interval: tuple[Any, Any] | None = None
    province_task: bool = False  # the run has a task consolidate_province (runs of older DAG versions do not)
    province_state: str | None = None  # that task's state in the run
    province_record: dict[str, Any] | None = None  # its XCom: what it wrote (or why nothing)


def _data_root() -> Any:
    from tthc_airflow.hooks import data_root

    return data_root()


@lru_cache(maxsize=1)
def _config_at(path: str, mtime: float) -> Any:
    from tthc.config import load_config

    return load_config(path)


def _config() -> Any:
    """The pipeline configuration, read again when its file changes (the API server runs for weeks)."""
    import os

    from tthc.config import CONFIG_ENV, DEFAULT_CONFIG

    path = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return _config_at(str(path), mtime)


def _decoded(row: Any) -> Any:
    """An XCom row's value as the task returned it (a JSON text is decoded; None when it is not JSON)."""
    from airflow.models.xcom import XComModel

    value = XComModel.deserialize_value(row)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value


def _returned(session: Any, dag_id: str, run_id: str, task_id: str) -> Any:
    """The return value of an unmapped task of the run, None when it has none (not run, failed, cleared)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    row = session.scalars(select(XComModel).where(
        XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.task_id == task_id,
        XComModel.map_index == -1, XComModel.key == "return_value")).first()
    return None if row is None else _decoded(row)


def _planned_units(session: Any, dag_id: str, run_id: str) -> list[dict[str, Any]] | None:
    """``plan_run``'s return value: the list the task group ``district`` is expanded over, in map-index order."""
    value = _returned(session, dag_id, run_id, PLAN_TASK)
    if not isinstance(value, list) or not all(isinstance(u, dict) and "code" in u for u in value):
        return None
    return value


def _task_state(session: Any, dag_id: str, run_id: str, task_id: str) -> tuple[bool, str | None]:
    """(whether the run has the unmapped task, its state): a missing task and a task not yet run differ."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    row = session.execute(select(TaskInstance.state).where(
        TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id,
        TaskInstance.map_index == -1)).first()
    return (False, None) if row is None else (True, None if row[0] is None else str(row[0]))


def _province_records(dag_id: str, period: str) -> list[tuple[str, dict[str, Any]]]:
    """(run id, result) of the DAG's latest ``consolidate_province`` results for ``period``, newest first.

    Why: several runs report one period (a unit at a time, a rerun after a fix) and each rewrites the
    province's set, so the set on disk may be another run's; its result says what that set covers.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    found = []
    with create_session() as session:
        rows = session.scalars(select(XComModel).where(
            XComModel.dag_id == dag_id, XComModel.task_id == PROVINCE_TASK, XComModel.map_index == -1,
            XComModel.key == "return_value").order_by(XComModel.timestamp.desc()).limit(PROVINCE_RECORDS_SEARCHED))
        for row in rows:
            value = _decoded(row)
            if isinstance(value, dict) and value.get("period") == period:
                found.append((str(row.run_id), value))
    return found


def _load_run(dag_id: str, run_id: str) -> RunInfo | None:
    """The DagRun and its plan from the metadata database, and the period it reports."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
        if run is None:
            return None
        planned = _planned_units(session, dag_id, run_id)
        province_task, province_state = _task_state(session, dag_id, run_id, PROVINCE_TASK)
        province_record = _returned(session, dag_id, run_id, PROVINCE_TASK)
        conf = dict(run.conf or {})
        interval = (run.data_interval_start, run.data_interval_end)
        info = RunInfo(dag_id=dag_id, run_id=run_id, state=str(run.state or ""), run_type=str(run.run_type or ""),
                       logical_date=run.logical_date.isoformat() if run.logical_date else "none",
                       conf=conf, period=None, period_source="", period_problem=None, planned=planned,
                       data_interval=interval, province_task=province_task, province_state=province_state,
                       province_record=province_record if isinstance(province_record, dict) else None)
    _resolve_period(info)
    return info


def _resolve_period(info: RunInfo) -> None:
    """The run's period: what ``plan_run`` resolved, else its conf and data interval as ``plan_run`` reads them."""
    from tthc.periods import PeriodError, resolve_period

    planned_periods = {str(u.get("period")) for u in info.planned or []}
    if len(planned_periods) == 1 and PERIOD_RE.match(next(iter(planned_periods))):
        info.period, info.period_source = planned_periods.pop(), "resolved by task plan_run"
        return
    requested = info.conf.get("period")
    start, end = info.data_interval or (None, None)
    try:
        period = resolve_period(requested, start, end, _config().schedule.convention)
    except PeriodError as exc:
        info.period_problem = str(exc)
        if isinstance(requested, str) and PERIOD_RE.match(requested.strip()):
            info.period, info.period_source = requested.strip(), "the run's conf (the run itself could not use it)"
        return
    info.period = period.name
    info.period_source = "the run's conf" if requested else "the run's data interval"


def _units_of(info: RunInfo) -> list[tuple[str, str]]:
    """(code, label) of the run's districts in map-index order: the plan, else the configuration's order."""
    if info.planned is not None:
        return [(str(u["code"]), str(u.get("label") or u["code"])) for u in info.planned]
    from tthc.pipeline import unit_label

    config = _config()
    try:  # the units in force for the run's period; for a run without a usable period, the newest ones
        hierarchy = config.hierarchy_for(info.period) if info.period else config.hierarchies[-1]
    except ValueError:
        hierarchy = config.hierarchies[-1]
    wanted = info.conf.get("districts") or None
    if isinstance(wanted, str):
        wanted = [wanted]
    try:
        units = hierarchy.select([str(c) for c in wanted] if wanted else None)
    except Exception:  # a code the configuration does not know: the run failed at plan_run with that message
        known = {u.code for u in hierarchy.reporting_units}
        units = [u for u in hierarchy.reporting_units if u.code in {str(c) for c in wanted or []} & known]
    return [(u.code, unit_label(u)) for u in units]


def _hierarchy_of(period: str) -> Any | None:
    """The province and the units in force for ``period`` (what its consolidation covers), None if unreadable."""
    try:
        return _config().hierarchy_for(period)
    except Exception:
        return None


def _province_code(period: str) -> str | None:
    """The GSO code of the province in force for ``period``: its set's file names carry it (87, then 82 in 2025)."""
    hierarchy = _hierarchy_of(period)
    return None if hierarchy is None else str(hierarchy.province.code)


def _report_file_kind(name: str, period: str, province_code: str | None) -> str | None:
    """The suffix of a file name of ``period``'s reports folder the app serves, None for any other name.

    Served: a unit's report set, the province's consolidated set (of the province in force for the period:
    the only one the run page lists) and the run summary; nothing else the folder holds, such as the
    province set's ``.announced.json`` marker, which is the pipeline's bookkeeping.
    """
    if name == SUMMARY_FILE:
        return ".json"
    parts = parse_report_name(name)
    if parts is not None:
        return None if parts[1] != period else ".json" if parts[2] == "evidence" else f".{parts[2]}"
    province = parse_province_name(name)
    if province is None or province[1] != period or province_code is None or province[0] != province_code:
        return None
    return f".{province[2]}"


def _set_commit(name: str) -> str:
    """The .docx of the set a served file belongs to (the name itself for a .docx and the run summary).

    Why: the .docx is a set's commit (written last, removed first), so a PDF, evidence file or workbook
    without it is what an interrupted write left, not part of a report.
    """
    parts = parse_report_name(name)
    if parts is not None:
        return report_names(parts[0], parts[1])["docx"]
    province = parse_province_name(name)
    if province is not None:
        return province_names(province[0], province[1])["docx"]
    return name


def _size(path: Any) -> int | None:
    try:
        return int(path.stat().st_size)
    except Exception:
        return None


def _is_file(path: Any) -> bool:
    try:
        return bool(path.is_file())
    except Exception:
        return False


def _read_json(path: Any) -> dict[str, Any] | None:
    try:
        if not _is_file(path):
            return None
        value = json.loads(path.read_bytes().decode("utf-8"))
    except Exception:
        return None
    return value if isinstance(value, dict) else None


def _human_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _district(root: Any, period: str, code: str, label: str, summary: dict[str, Any] | None) -> District:
    district = District(code=code, label=label)
    files = DistrictFiles(root, period, code)
    # The .docx is the report set's commit (written last, removed first): a PDF or evidence file without its
    # .docx is a leftover of an interrupted write, not part of a report, and is shown as not written.
    report_set = files.report_set
    has_docx = _is_file(report_set["docx"])
    for kind, _ in REPORT_KINDS:
        path = report_set[kind]
        name = path.name
        district.files[kind] = ({"href": f"reports/{quote(name)}", "name": name, "size": _human_size(_size(path))}
                                if has_docx and _is_file(path) else {})
    page = files.quality.page
    district.files["quality"] = ({"href": f"quality/{code}/{RESULTS_PAGE}", "name": "quality results",
                                  "size": _human_size(_size(page))} if _is_file(page) else {})
    checked = _read_json(files.quality.summary)
    if checked is not None:
        quarantined = {str(k): int(v) for k, v in (checked.get("quarantined") or {}).items() if v}
        district.quarantined = quarantined
        if checked.get("blocked"):
            verdict = ("blocked", "BLOCKED: no report until the data is fixed")
        elif quarantined:
            verdict = ("quarantined", f"passed with {sum(quarantined.values())} quarantined")
        else:
            verdict = ("passed", "passed")
        message = str(checked.get("message") or "").strip().splitlines()
        district.quality = {"kind": verdict[0], "text": verdict[1], "message": message[0] if message else ""}
    if summary is not None:
        for item in summary.get("quality") or []:
            if item.get("unit") == label and isinstance(item.get("quarantined"), dict):
                district.quarantined = {str(k): int(v) for k, v in item["quarantined"].items() if v}
        district.warnings = [str(w).split(": ", 1)[1] for w in summary.get("warnings") or []
                             if str(w).startswith(f"{code}: ")]
        district.missing = label in (summary.get("missing") or [])
    return district


def _set_digest(files: dict[str, Any]) -> str | None:
    """The fingerprint ``consolidate_province`` gives the set it wrote (its ``digest``): sha256 of .docx + workbook.

    Why: it ties the files on disk to the result of the run that wrote them, hence to what they cover.
    """
    try:
        return hashlib.sha256(files["docx"].read_bytes() + files["xlsx"].read_bytes()).hexdigest()
    except Exception:
        return None


def _count(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _province(root: Any, info: RunInfo) -> dict[str, Any]:
    """The province's consolidated set of the run's period: its files, what it covers, why it is missing.

    The files are the period's current ones (as the districts' are). What they cover comes from the
    ``consolidate_province`` result of the run that wrote them, found by the set's digest: this run's, or
    another run's of the same period (each run rewrites the set). The units are named as the hierarchy in
    force for the period names them.
    """
    period = str(info.period)
    record = info.province_record if (info.province_record or {}).get("period") == period else None
    hierarchy = _hierarchy_of(period)
    province: dict[str, Any] = {"code": None, "label": None, "files": {}, "written": False, "writer": None,
                                "coverage": None, "status": ("none", "not written"), "notes": [], "warnings": []}
    notes: list[dict[str, str]] = province["notes"]
    if hierarchy is None:
        notes.append({"kind": "problem", "text": f"The configuration names no province for period {period}: "
                                                 "its consolidated report cannot be looked for."})
        return province
    from tthc.pipeline import unit_label

    code = str(hierarchy.province.code)
    province["code"], province["label"] = code, f"{hierarchy.province.name} ({code})"
    names = {unit.code: unit_label(unit) for unit in hierarchy.reporting_units}
    files = province_set(root, period=period, province_code=code)
    has_docx = _is_file(files["docx"])  # the set's commit: a PDF or workbook without it is a leftover
    for kind, _ in PROVINCE_KINDS:
        path = files[kind]
        province["files"][kind] = ({"href": f"reports/{quote(path.name)}", "name": path.name,
                                    "size": _human_size(_size(path))} if has_docx and _is_file(path) else {})
    province["written"] = has_docx
    task = f"task {PROVINCE_TASK}"
    if info.province_task and info.province_state in FAILED_STATES:
        notes.append({"kind": "problem", "text": f"The {task} of this run failed: this run wrote no consolidated "
                                                 "report. Its log says why; clear the task to write the set again."})
    written: dict[str, Any] | None = None
    if has_docx:
        digest = _set_digest(files)
        if digest is not None and record is not None and record.get("digest") == digest:
            province["writer"], written = info.run_id, record
        elif digest is not None:
            for run_id, other in _province_records(info.dag_id, period):
                if other.get("digest") == digest:
                    province["writer"], written = run_id, other
                    break
        if written is None:
            notes.append({"kind": "note", "text": f"No recorded result of {task} matches these files (it was cleaned "
                                                  "from Airflow's database, or the set is being rewritten): what "
                                                  "they cover is not known here; the report itself lists it."})
        elif province["writer"] != info.run_id:
            notes.append({"kind": "note", "text": f"These are the period's current files, written by run "
                                                  f"{province['writer']}, not by this run; what they cover is "
                                                  "what that run consolidated."})
    elif record is not None and _count(record.get("reported")) == 0:
        notes.append({"kind": "problem", "text": f"No unit had its report for {period} when this run consolidated: "
                                                 "there was nothing to add up, so no consolidated report was "
                                                 "written."})
    elif record is not None and record.get("path"):
        notes.append({"kind": "problem", "text": "This run wrote the set, and it has been withdrawn since: a unit's "
                                                 "report of the period was withdrawn or is being rewritten. The "
                                                 f"{task} of the run that rewrites it writes the set again."})
    elif not info.province_task:
        notes.append({"kind": "problem", "text": f"This run has no {task} (a run of an earlier version of the "
                                                 "DAG): it wrote no consolidated report."})
    elif info.province_state == "skipped":
        notes.append({"kind": "problem", "text": f"The {task} was skipped: no unit was planned (task "
                                                 f"{PLAN_TASK} failed), so there was nothing to consolidate."})
    elif info.province_state == "success":
        notes.append({"kind": "problem", "text": f"The {task} succeeded, yet its result is not in Airflow's "
                                                 "database and no set is on disk: clear the task to write it."})
    elif info.province_state not in FAILED_STATES:
        state = info.province_state or "not started"
        notes.append({"kind": "note", "text": f"Not written yet: the {task} (state: {state}) writes it when "
                                              "every district of the run has ended."})
    if written is not None:
        reported, units = _count(written.get("reported")), _count(written.get("units"))
        missing = [names.get(str(c), str(c)) for c in written.get("missing") or []]
        complete = bool(written.get("complete")) and not missing
        province["coverage"] = {"reported": reported, "units": units, "complete": complete, "missing": missing}
        province["status"] = (("passed", f"complete: {reported}/{units} units") if complete else
                              ("quarantined", f"partial: {reported}/{units} units"))
        prefix = f"{code}: "
        province["warnings"] = [str(w).removeprefix(prefix) for w in written.get("warnings") or []]
    elif has_docx:
        province["status"] = ("none", "written, coverage unknown")
    else:
        province["status"] = ("blocked", "not written")
    return province


def _run_model(info: RunInfo, only: str | None) -> dict[str, Any]:
    """Everything the run page shows, as plain values (the template only lays them out)."""
    model: dict[str, Any] = {
        "title": f"Outputs of run {info.run_id}", "dag_id": info.dag_id, "run_id": info.run_id,
        "state": info.state or "unknown", "run_type": info.run_type, "logical_date": info.logical_date,
        "period": info.period, "period_source": info.period_source, "period_problem": info.period_problem,
        "conf": json.dumps(info.conf, ensure_ascii=False, sort_keys=True) if info.conf else "",
        "summary": None, "summary_file": {}, "districts": [], "only": only, "only_missing": False,
        "general_warnings": [], "province": None,
        "planned_from": "task plan_run" if info.planned is not None else
        "the run's conf and the configuration (task plan_run has not returned)",
    }
    if info.period is None:
        return model
    root = _data_root()
    summary_path = run_summary_path(root, info.period)
    summary = _read_json(summary_path)
    if summary is not None and str(summary.get("period")) != info.period:
        summary = None
    if summary is not None:
        model["summary_file"] = {"href": f"reports/{SUMMARY_FILE}", "name": SUMMARY_FILE,
                                 "size": _human_size(_size(summary_path))}
        model["summary"] = {
            "run_id": str(summary.get("run_id", "")),
            "other_run": str(summary.get("run_id", "")) != info.run_id,
            "reports_written": summary.get("reports_written"), "districts": summary.get("districts"),
            "dossiers_read": summary.get("dossiers_read"), "feedback_read": summary.get("feedback_read"),
            "retried": summary.get("source_requests_retried"),
            "quarantined": summary.get("records_quarantined"),
            "missing": [str(m) for m in summary.get("missing") or []],
            "warnings": [str(w) for w in summary.get("warnings") or []],
        }
        # A summary of another run of the same period describes that run: its per-district lines are not this run's.
        if model["summary"]["other_run"]:
            summary = None
    units = _units_of(info)
    codes = {code for code, _ in units}
    districts = [_district(root, info.period, code, label, summary) for code, label in units
                 if only is None or code == only]
    model["districts"] = districts
    if only is None:  # a district's own view (a task instance's tab) is about that district alone
        model["province"] = _province(root, info)
    if summary is not None:
        # The province's warnings are shown with its set when this run wrote the set on show.
        if model["province"] and model["province"]["writer"] == info.run_id:
            codes.add(model["province"]["code"])
        model["general_warnings"] = [str(w) for w in summary.get("warnings") or []
                                     if str(w).split(": ", 1)[0] not in codes]
    if only is not None and not districts:
        model["only_missing"] = True
    return model


# ---------------------------------------------------------------- rendering


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE.name)


def render(view: str, **values: Any) -> str:
    """One of the template's views (``run`` or ``message``), escaped throughout."""
    return _template().render(view=view, csp=CSP, kinds=REPORT_KINDS, province_kinds=PROVINCE_KINDS, **values)


def _page(view: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(render(view, **values), status_code=status, headers=_security_headers())


def _message(title: str, text: str, status: int) -> HTMLResponse:
    return _page("message", status=status, title=title, text=text, dag_id=DAG_ID)


def _security_headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


def _not_ours(dag_id: str) -> HTMLResponse:
    return _message("No outputs page for this DAG",
                    f"DAG {dag_id} writes no TTHC reports: these pages show the outputs of runs of {DAG_ID} only. "
                    f"Open a run of {DAG_ID} and its tab of reports.", 404)


def _serve(path: Any, name: str) -> Response:
    """A file of the data root: streamed from a local disk, read through the path object on object storage."""
    suffix = ".json" if name.endswith(".json") else PurePosixPath(name).suffix.lower()
    media_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    disposition = "inline" if suffix in INLINE else "attachment"
    headers = _security_headers()
    if isinstance(path, Path):
        return FileResponse(path, media_type=media_type, filename=name, content_disposition_type=disposition,
                            headers=headers)
    headers["Content-Disposition"] = f"{disposition}; filename*=utf-8''{quote(name)}"
    return Response(path.read_bytes(), media_type=media_type, headers=headers)


def _run_or_error(dag_id: str, run_id: str) -> RunInfo | HTMLResponse:
    if dag_id != DAG_ID:
        return _not_ours(dag_id)
    info = _load_run(dag_id, run_id)
    if info is None:
        return _message("No such run", f"DAG {dag_id} has no run {run_id}.", 404)
    return info


# ---------------------------------------------------------------- routes


@app.get("/dags/{dag_id}/runs/{run_id}/", response_class=HTMLResponse, name="run_page")
def run_page(dag_id: str, run_id: str, district: str | None = None) -> Response:
    """What the run produced, quarantined and defaulted, with a link to every file it wrote."""
    if district is not None and not CODE_RE.match(district):
        raise HTTPException(400, "district must be a GSO code (digits)")
    info = _run_or_error(dag_id, run_id)
    if isinstance(info, HTMLResponse):
        return info
    return _page("run", run=_run_model(info, district))


@app.get("/dags/{dag_id}/runs/{run_id}/reports/{name}", name="report_file")
def report_file(dag_id: str, run_id: str, name: str) -> Response:
    """A report file (.docx, .pdf, .evidence.json), the province's set (.docx, .pdf, .xlsx) or the run summary."""
    info = _run_or_error(dag_id, run_id)
    if isinstance(info, HTMLResponse):
        return info
    if info.period is None or not PERIOD_RE.match(info.period):
        raise HTTPException(404, "this run names no reporting period")
    if _report_file_kind(name, info.period, _province_code(info.period)) is None:
        raise HTTPException(404, f"no such report file for period {info.period}")
    reports = report_dir(_data_root(), info.period)
    path = reports / name
    docx = _set_commit(name)
    if not _is_file(path) or (docx != name and not _is_file(reports / docx)):  # a leftover without its .docx
        raise HTTPException(404, f"{name} was not written")
    return _serve(path, name)


def safe_relative(path: str) -> list[str] | None:
    """The segments of ``path`` when it names a file inside a folder, None when it could leave it.

    Refused: empty, absolute, ``.``/``..`` or empty segments, backslashes, NUL, percent signs (a second
    round of decoding), dot files, anything but letters, digits, ``_.-``, deeper than ``MAX_DEPTH``.
    """
    if not path or path.startswith("/") or "\\" in path or "\x00" in path or "%" in path:
        return None
    parts = path.split("/")
    if len(parts) > MAX_DEPTH or any(p in ("", ".", "..") or not SEGMENT_RE.match(p) for p in parts):
        return None
    return parts


@app.get("/dags/{dag_id}/runs/{run_id}/quality/{code}/{path:path}", name="quality_file")
def quality_file(dag_id: str, run_id: str, code: str, path: str) -> Response:
    """The district's quality results page and the files it links to relatively; nothing outside its folder."""
    if not CODE_RE.match(code):
        raise HTTPException(400, "district must be a GSO code (digits)")
    parts = safe_relative(path or RESULTS_PAGE)
    if parts is None:
        raise HTTPException(400, "not a file of the quality folder")
    info = _run_or_error(dag_id, run_id)
    if isinstance(info, HTMLResponse):
        return info
    if info.period is None or not PERIOD_RE.match(info.period):
        raise HTTPException(404, "this run names no reporting period")
    folder = DistrictFiles(_data_root(), info.period, code).quality.path
    target = folder
    for part in parts:
        target = target / part
    if isinstance(target, Path):  # a symbolic link must not lead out of the folder either
        try:
            target.resolve().relative_to(folder.resolve())
        except (OSError, ValueError):
            raise HTTPException(400, "not a file of the quality folder") from None
    if not _is_file(target):
        raise HTTPException(404, f"{'/'.join(parts)} was not written for district {code}, period {info.period}")
    return _serve(target, parts[-1])


@app.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/{map_index}", name="task_instance")
def task_instance(dag_id: str, run_id: str, task_id: str, map_index: str) -> Response:
    """Redirect to the run page of the district of a map index of task group ``district``.

    ``map_index`` is a string: the UI leaves ``{MAP_INDEX}`` unreplaced for a task that is not mapped.
    """
    info = _run_or_error(dag_id, run_id)
    if isinstance(info, HTMLResponse):
        return info
    run_page_url = "../../"  # from .../runs/{run_id}/tasks/{task_id}/{map_index} to .../runs/{run_id}/
    index = int(map_index) if re.fullmatch(r"\d{1,6}", map_index) else -1
    if not task_id.startswith(DISTRICT_GROUP) or index < 0:
        return RedirectResponse(run_page_url, status_code=307)
    units = _units_of(info)
    if index >= len(units):
        return _message("No district for this map index",
                        f"Run {run_id} has {len(units)} district(s); map index {index} is none of them.", 404)
    return RedirectResponse(f"{run_page_url}?district={quote(units[index][0])}", status_code=307)
