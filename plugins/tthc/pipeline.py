"""The steps of one reporting unit's month, as plain functions the DAG's tasks call.

Why here and not in the DAG file: each step is domain work (extract, land, compute, store,
render) that must be testable without Airflow and identical whether run by the scheduler, by
``dags test`` or by hand. Steps exchange locations and small summaries, never data frames, so the
tasks of one run may run on different hosts against an object-storage data root.

Every step takes the unit's month (``tthc.district_month.DistrictMonth``: configuration, period, unit,
data root, warehouse) as its first argument, then what is particular to it: the fetch callable of an
extraction, the operator inputs, the run id. Where its files live is ``tthc.locations``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tthc.config import PipelineConfig
from tthc.district_month import DistrictMonth
from tthc.landing import land_table, read_landed
from tthc.periods import Period, PeriodError
from tthc.storage import atomic_write_bytes, remove_file, remove_leftover_temps
from tthc.units import ReportingUnit

log = logging.getLogger(__name__)

Fetcher = Callable[[str, date, date], Any]  # (unit code, from, to) -> tthc.sources.http.Extract


def unit_label(unit: ReportingUnit) -> str:
    """How a unit is shown on its map index in the Airflow UI: its name and its code."""
    return f"{unit.name} ({unit.code})"


def plan(config: PipelineConfig, period: Period, codes: list[str] | None,
         now: datetime | None = None, with_inputs: bool = False) -> list[dict[str, str]]:
    """The units a run reports on: small dicts that travel through XCom to the mapped task group.

    A period the pipeline cannot report on fails here, at the start of the run and without retries:
    one that ended before the configured start of the schedule, or one that has not ended yet (its
    report would count an unfinished month as if it were whole). Operator inputs given with the run
    (``with_inputs``) are one office's words: the run must then report on exactly one unit.
    """
    from tthc.inputs import InputsError

    check_reportable(period, config.schedule.start_date, now or datetime.now(UTC))
    from tthc.units import UnitsError

    try:
        units = config.hierarchy_for(period).select(codes)
    except UnitsError as exc:  # the units in force change with the period (the 2025 reform): say which period
        raise UnitsError(f"period {period.name}: {exc}") from None
    if with_inputs and len(units) != 1:
        raise InputsError(f"operator inputs were given with this run but it reports on {len(units)} units: "
                          "inputs are one office's words; choose exactly one unit, or leave the inputs empty")
    return [{"code": u.code, "label": unit_label(u), "period": period.name} for u in units]


def check_reportable(period: Period, schedule_start: date, now: datetime) -> None:
    """Raise ``PeriodError`` naming the period, the bound and the setting when ``period`` cannot be reported."""
    if period.end_date <= schedule_start:
        raise PeriodError(
            f"period {period.name} ([{period.start_date}, {period.end_date})) ends before the pipeline's start "
            f"{schedule_start} (schedule.start_date in include/config/pipeline.yaml); lower that setting to "
            "report earlier months")
    if period.end > now:
        raise PeriodError(
            f"period {period.name} has not ended yet (it ends {period.end.isoformat()}): a report now would count "
            "an unfinished month. Run it after the period closes")


def extract_dossiers(month: DistrictMonth, fetch: Fetcher) -> dict[str, Any]:
    """Fetch the dossiers open during the period and land them (no personal data) as Parquet."""
    return _extract(month, fetch, "dossiers")


def extract_feedback(month: DistrictMonth, fetch: Fetcher) -> dict[str, Any]:
    """Fetch the feedback received in the period and land it (no personal data) as Parquet."""
    return _extract(month, fetch, "feedback")


def _extract(month: DistrictMonth, fetch: Fetcher, source: str) -> dict[str, Any]:
    """One source of one unit: fetch the window, land ``<source>.parquet`` and ``<source>.rejected.json``."""
    unit, period, files = month.unit, month.period, month.files
    extract = fetch(unit.code, period.start_date, period.end_date)
    path = land_table(files.landed(source), extract.table)
    _write_rejected(files.rejected(source), extract.rejected)
    rejected = len({r["id"] for r in extract.rejected})
    log.info("district %s: landed %d %s at %s (%d requests, %d passes, %d repeats merged, %d retried, "
             "%d set aside for wrong types)", unit.code, extract.count, source, path, extract.requests,
             extract.passes, extract.repeats, extract.transient_failures, rejected)
    return {"path": str(path), "records": extract.count, "requests": extract.requests,
            "passes": extract.passes, "repeats": extract.repeats, "retried": extract.transient_failures,
            "rejected": rejected, "warnings": [f"{unit.code}: {note}" for note in extract.notes]}


def _write_rejected(path: Any, rejected: list[dict[str, str]]) -> None:
    """Beside the landed extract: the records set aside for a wrong JSON type (id, field, types; no value).

    Written even when empty, so a rerun replaces an earlier run's list; the quality gate counts them
    (check ``field_types``).
    """
    atomic_write_bytes(path, json.dumps({"records": rejected}, ensure_ascii=False, indent=1).encode("utf-8"))


def validate_sources(month: DistrictMonth, input_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check the landed extracts and the operator inputs with Great Expectations before any number is computed.

    Writes results, the results page, quarantined records and the clean extracts the metrics step reads under
    ``quality/<YYYY-MM>/<unit>/``. A blocking finding raises ``QualityError`` after removing whatever an
    earlier run of this period left for the district (report, evidence, clean extracts, warehouse rows),
    so that no stale or partial report survives data that no longer passes.
    """
    from tthc import inputs, warehouse
    from tthc.quality import QualityError
    from tthc.quality.checks import INPUTS, SYSTEMS
    from tthc.quality.district import validate_district

    config, period, unit = month.config, month.period, month.unit
    with warehouse.connected(month.warehouse_url) as engine:
        history = warehouse.history(engine, unit.code,
                                    [period.previous(n).name for n in range(1, config.quality.volume_periods + 1)])
    operator_inputs, inputs_error = None, None
    try:
        operator_inputs = month_inputs(month, input_params)[0]
    except inputs.InputsError as exc:
        inputs_error = (f"{SYSTEMS[INPUTS]}: {exc}. Fix: correct the file or the office fields of the trigger form, "
                        "then rerun")
    try:
        summary = validate_district(config.quality, month.root, period, unit, history=history,
                                    operator_inputs=operator_inputs, inputs_error=inputs_error)
    except QualityError:
        discard_outputs(month)
        raise
    return {"summary": str(month.files.quality.summary),
            "results_page": summary["results_page"], "records": summary["records"],
            "quarantined": summary["quarantined"], "seconds": summary["seconds"],
            "warnings": [f"{unit.code}: {w}" for w in summary["warnings"]]}


def discard_outputs(month: DistrictMonth) -> list[str]:
    """Remove the unit's report set, evidence, clean extracts and warehouse rows of the period; returns what went.

    Files go first and the .docx first of them (``withdraw_report``), the rows last: a process killed
    midway leaves rows without a report, which the failed task and the run summary report, never a
    report whose figures are gone from the warehouse.
    """
    from tthc import warehouse
    from tthc.quality.checks import DOSSIERS, FEEDBACK

    period, unit, files = month.period, month.unit, month.files
    removed = withdraw_report(month)
    folder = files.report_dir
    stem = files.report_set["docx"].name.removesuffix(".docx")
    doomed = [p for p in folder.glob(f"{stem}.*")] if folder.exists() else []
    doomed += [files.evidence, *(files.evidence_ids(source) for source in (DOSSIERS, FEEDBACK)),
               *(files.quality.clean(source) for source in (DOSSIERS, FEEDBACK))]
    removed += [str(path) for path in doomed if remove_file(path)]
    with warehouse.connected(month.warehouse_url) as engine:
        rows = warehouse.delete_period(engine, period.name, unit.code)
    if removed or rows:
        log.warning("district %s %s: removed %d stale file(s) %s and %d warehouse row(s)", unit.code, period.name,
                    len(removed), removed, rows)
    return removed


def withdraw_report(month: DistrictMonth) -> list[str]:
    """Remove the unit's report set of the period (the .docx first) and the period's run summary; returns what went.

    Called before anything that makes the set stale (new rows in the warehouse, a new rendering), so a
    process killed at any later point leaves no report rather than one that disagrees with the
    warehouse. The set's final marker goes first: a new rendering is a draft until made final again. The
    run summary goes too, whole: it lists the reports written by the run that made it, and editing one
    district's entry while other districts' tasks do the same would lose updates; the run's ``summarize``
    task writes it again at the end of every run.
    """
    files = month.files.report_set
    removed = [str(path) for path in (month.files.report_final, month.files.run_summary, files["docx"], files["pdf"],
                                      files["evidence"]) if remove_file(path)]
    for path in files.values():
        removed += [str(leftover) for leftover in remove_leftover_temps(path)]
    province = month.config.hierarchy_for(month.period).province
    return removed + withdraw_province(month.root, province.code, month.period)


def withdraw_province(root: Any, province_code: str, period: Period) -> list[str]:
    """Remove the province's consolidated set of the period (the .docx first): its figures include every unit's.

    Called whenever a unit's set is withdrawn, so the province's report never outlives a figure it added
    up; the run's ``consolidate_province`` task writes it again.
    """
    from tthc.locations import province_set

    files = province_set(root, province_code, period.name)
    removed = [str(path) for path in (files["docx"], files["pdf"], files["xlsx"]) if remove_file(path)]
    for path in files.values():
        removed += [str(leftover) for leftover in remove_leftover_temps(path)]
    return removed


def publish_report(month: DistrictMonth, docx: bytes, pdf: bytes | None, evidence: bytes) -> dict[str, Any]:
    """Replace the unit's report set with these bytes: the old set withdrawn, then evidence, PDF, and the .docx last.

    Why a set: the three say the same thing (the letter, its PDF, the record ids behind its figures)
    and must never come from two computations. They are replaced as a whole: ``withdraw_report``
    removes the .docx first, this writes it last, so the .docx is the set's commit: a report exists
    exactly when its .docx does, and a .pdf or evidence file without its .docx is a leftover of an
    interrupted write (from the same computation as the warehouse rows) that the next write of the set
    removes. Each file is written atomically. Without a PDF (no LibreOffice on the worker) the set is the
    .docx and its evidence, and no earlier PDF survives beside them.
    """
    files = month.files.report_set
    withdraw_report(month)
    atomic_write_bytes(files["evidence"], evidence)
    if pdf is not None:
        atomic_write_bytes(files["pdf"], pdf)
    atomic_write_bytes(files["docx"], docx)
    return {**files, "pdf": files["pdf"] if pdf is not None else None}


def same_figure(a: Any, b: Any) -> bool:
    """Equal figures whatever their type: a Decimal from the warehouse, its text from the evidence, an int."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except InvalidOperation:
        return str(a) == str(b)


def figures_disagree(evidence: dict[str, Any], dossier_rows: list[dict[str, Any]],
                     feedback_row: dict[str, Any] | None) -> str | None:
    """What differs between the evidence's figures and the warehouse rows (None when nothing does).

    Why: the report shows the warehouse's rows and copies the evidence beside it; both must come from
    the same computation, or the auditor's ids would not add up to the printed figures.
    """
    stored = {(str(r["level"]), str(r["unit_code"])): r for r in dossier_rows}
    written = {(str(r.get("level")), str(r.get("unit_code"))): r for r in evidence.get("dossier_metrics") or []}
    if set(stored) != set(written):
        return f"dossier rows {sorted(set(stored) ^ set(written))} are in only one of them"
    for key, row in written.items():
        differ = [name for name, value in row.items() if not same_figure(value, stored[key].get(name))]
        if differ:
            return f"dossier row {'/'.join(key)} differs in {', '.join(differ)}"
    expected = evidence.get("feedback_metrics") or {}
    if feedback_row is None:
        return "the warehouse has no feedback row"
    differ = [name for name, value in expected.items() if not same_figure(value, feedback_row.get(name))]
    if differ:
        return f"feedback row differs in {', '.join(differ)}"
    runs = {str(r.get("run_id")) for r in [*dossier_rows, feedback_row]}
    if runs != {str(evidence.get("run_id"))}:
        return f"rows of run(s) {sorted(runs)}, evidence of run {evidence.get('run_id')}"
    return None


def compute_metrics(month: DistrictMonth, run_id: str) -> dict[str, Any]:
    """Compute the unit's metrics from its validated extracts, check them, and replace its rows in the warehouse.

    The unit's report set of the period, the run summary and the evidence of the old rows are removed
    before the rows change, and the new evidence is written after: a process killed at any point
    leaves either the old rows with their report, or no report (the task failed, and the run says so),
    never a report or an evidence file that disagrees with the warehouse.
    """
    from tthc import metrics, warehouse
    from tthc.locations import evidence_ids_key
    from tthc.quality import QualityError
    from tthc.quality.checks import DOSSIERS, FEEDBACK
    from tthc.quality.district import read_summary, validate_metrics

    period, unit, quality = month.period, month.unit, month.files.quality
    checked = read_summary(quality)
    if checked is None or checked.get("blocked") or not checked.get("clean"):
        raise metrics.DataError(f"district {unit.code}, period {period.name}: no validated extracts under "
                                f"{quality.path}: run the validate step first")
    d_flags = metrics.dossier_flags(read_landed(quality.clean(DOSSIERS)), unit, period)
    f_flags = metrics.feedback_flags(read_landed(quality.clean(FEEDBACK)), period)
    dossier_rows = metrics.dossier_metrics(d_flags, unit, period)
    feedback_row = metrics.feedback_metrics(f_flags, unit, period)
    try:
        validate_metrics(month.config.quality, month.root, period, unit, dossier_rows, feedback_row)
    except QualityError:
        discard_outputs(month)
        raise
    checked = read_summary(quality) or checked
    ids = {DOSSIERS: metrics.evidence_ids(d_flags, "MaHoSo", metrics.DOSSIER_COUNTS, group="unit_code"),
           FEEDBACK: metrics.evidence_ids(f_flags, "id", metrics.FEEDBACK_COUNTS)}
    files = {source: month.files.evidence_ids(source) for source in ids}
    record_ids = {source: {"file": evidence_ids_key(period.name, unit.code, source),
                           "sha256": hashlib.sha256(data).hexdigest(), "rows": len(flags)}
                  for (source, data), flags in zip(ids.items(), (d_flags, f_flags), strict=True)}
    evidence = json.dumps(
        build_evidence(unit, period, dossier_rows, feedback_row, record_ids, run_id, quality=checked),
        ensure_ascii=False, indent=1, default=str).encode("utf-8")
    withdrawn = withdraw_report(month)
    for path in (month.files.evidence, *files.values()):  # the evidence first: it names the id files
        if remove_file(path):
            withdrawn.append(str(path))
    if withdrawn:
        log.info("district %s %s: withdrew %s before replacing the figures", unit.code, period.name, withdrawn)
    with warehouse.connected(month.warehouse_url) as engine:
        warehouse.replace_period(engine, period.name, unit.code, dossier_rows, feedback_row, run_id)
    for source, data in ids.items():
        atomic_write_bytes(files[source], data)
    atomic_write_bytes(month.files.evidence, evidence)  # last: the evidence exists only with its id files
    total = next(r for r in dossier_rows if r["level"] == "tong")
    log.info("district %s %s: received %d, resolved %d, pending %d, feedback %d", unit.code, period.name,
             total["received"], total["resolved"], total["pending"], feedback_row["feedback_received"])
    return {"rows": len(dossier_rows) + 1, "received": total["received"], "resolved": total["resolved"],
            "feedback": feedback_row["feedback_received"]}


def build_evidence(unit: ReportingUnit, period: Period, dossier_rows: list[dict[str, Any]],
                   feedback_row: dict[str, Any], record_ids: dict[str, dict[str, Any]], run_id: str,
                   quality: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every figure of the report and where the record ids behind it are, for an auditor (no personal data).

    ``record_ids``: per source, the id file beside the evidence (``file`` under the data root, its ``sha256``
    and ``rows``), one row per record with its handling unit (the district's own desk or a commune) and a flag
    per count: level ``xa`` counts the communes' rows, ``tong`` every row, as in docs/metrics.md section 7.
    """
    from tthc.metrics import DOSSIER_RATES

    return {
        "period": period.name,
        "window": [period.start.isoformat(), period.end.isoformat()],
        "unit": {"code": unit.code, "name": unit.name},
        "run_id": run_id,
        "rates": {name: {"numerator": list(num), "denominator": den} for name, (num, den) in DOSSIER_RATES.items()},
        "dossier_metrics": dossier_rows,
        "feedback_metrics": feedback_row,
        "record_ids": record_ids,
        "quality": _quality_evidence(quality),
    }


def _quality_evidence(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """What validation found: warnings, and per source the records quarantined (excluded from every figure)."""
    if not summary:
        return None
    return {
        "warnings": summary.get("warnings", []),
        "quarantined": summary.get("quarantined", {}),
        "quarantined_ids": {source: part.get("quarantined_ids", [])
                            for source, part in (summary.get("sources") or {}).items()
                            if part.get("quarantined_ids")},
        "findings": [{k: f.get(k) for k in ("source", "check", "severity", "outcome", "rule", "count", "ids")}
                     for part in (summary.get("sources") or {}).values() for f in part.get("findings", [])],
        "results": summary.get("results_page"),
    }


def write_report(month: DistrictMonth, input_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Render the unit's report from the warehouse rows of the period (the numbers stored are the numbers shown).

    The rows must be those of the evidence the step copies beside the report (``figures_disagree``).
    The .docx and its PDF are made in a scratch folder first; only then is the set published
    (``publish_report``), so a failed or killed conversion leaves the earlier set, or none, never a
    new .docx without its PDF.
    """
    from tthc import inputs, report, warehouse

    config, period, unit = month.config, month.period, month.unit
    source = month.files.evidence
    if not source.exists():
        raise RuntimeError(f"no evidence of the metrics of district {unit.code}, period {period.name} at {source}: "
                           "run the compute step first")
    evidence_bytes = source.read_bytes()
    with warehouse.connected(month.warehouse_url) as engine:
        dossier_rows = warehouse.dossier_rows(engine, period.name, unit.code)
        feedback_row = warehouse.feedback_row(engine, period.name, unit.code)
        history = warehouse.history(engine, unit.code, [period.previous(n).name for n in range(1, 13)])
    if not dossier_rows or feedback_row is None:
        raise RuntimeError(f"no metrics in the warehouse for district {unit.code}, period {period.name}: "
                           "run the compute step first")
    disagreement = figures_disagree(json.loads(evidence_bytes.decode("utf-8")), dossier_rows, feedback_row)
    if disagreement:
        raise RuntimeError(f"district {unit.code}, period {period.name}: the warehouse rows and the evidence at "
                           f"{source} come from different computations ({disagreement}): run the compute step again")
    operator_inputs, record, warnings = month_inputs(month, input_params)
    if record.source == inputs.TIMED_OUT:
        warnings.append(f"the office did not answer the inputs form in time: {record.describe()}")
    context, context_warnings = report.build_context(
        unit=unit, province=config.hierarchy_for(period).province,
        settings=config.report_settings(unit.code, period.name),
        targets=config.targets, period=period, dossier_rows=dossier_rows, feedback=feedback_row,
        inputs=operator_inputs, history=history,
    )
    warnings += context_warnings
    name = month.files.report_set["docx"].name
    # Without LibreOffice on the worker there is no PDF; the run summary says so once for all districts.
    docx, pdf = report.render_documents(config.template_path, context, name)
    published = publish_report(month, docx, pdf, _with_inputs_evidence(evidence_bytes, record))
    for warning in warnings:
        log.warning("district %s %s: %s", unit.code, period.name, warning)
    return {"path": str(published["docx"]), "evidence": str(published["evidence"]),
            "pdf": str(published["pdf"]) if published["pdf"] else None,
            "warnings": [f"{unit.code}: {w}" for w in warnings]}


class SignOffError(Exception):
    """A report cannot be made final: no report set, or its office signs off and did not approve it."""


def finalize_report(month: DistrictMonth, decision: dict[str, Any] | None, run_id: str,
                    now: datetime | None = None) -> dict[str, Any]:
    """Mark the unit's report set of the period final: who approved it and when, in its evidence and its marker.

    ``decision`` is the office's sign-off (``approved``, ``by`` {id, name}, ``at``, ``comment``), None when the
    unit has no sign-off (``office_inputs``): its report is final as written, or when the office was not asked
    again because it approved this very rendering before (kept as it was). A unit that signs off needs an
    approval: anything else raises ``SignOffError``, leaving the set a draft. The evidence gets ``final`` (the
    same record as the marker ``tthc.locations.DistrictFiles.report_final``, which is written last and holds
    the .docx's digest, so a marker never vouches for another rendering).
    """
    unit, period, files = month.unit, month.period, month.files
    report_set = files.report_set
    if not report_set["docx"].exists():
        raise SignOffError(f"district {unit.code}, period {period.name}: no report at {report_set['docx']} to make "
                           "final: run write_report first")
    signs_off = month.config.office_inputs.for_unit(unit.code).sign_off
    kept = final_record(month)
    if signs_off and decision is None and kept is not None and kept.get("signed_off"):
        log.info("district %s %s: report approved before (this rendering): kept final", unit.code, period.name)
        return {**kept, "marker": str(files.report_final), "reused": True}
    if signs_off and not (decision and decision.get("approved")):
        raise SignOffError(f"district {unit.code}, period {period.name}: the office signs its report off "
                           f"(office_inputs.units.{unit.code}.sign_off) and has not approved this rendering: "
                           "it stays a draft. Clear task district.sign_off of this unit to ask again")
    approval = (decision or {}) if signs_off else {}
    record: dict[str, Any] = {
        "final": True, "signed_off": signs_off, "approved_by": approval.get("by"),
        "approved_at": approval.get("at"), "comment": approval.get("comment"), "run_id": run_id,
        "finalized_at": (now or datetime.now(UTC)).isoformat(),
        "docx_sha256": hashlib.sha256(report_set["docx"].read_bytes()).hexdigest()}
    evidence = json.loads(report_set["evidence"].read_text(encoding="utf-8"))
    evidence["final"] = record
    atomic_write_bytes(report_set["evidence"], json.dumps(evidence, ensure_ascii=False, indent=1,
                                                          default=str).encode("utf-8"))
    atomic_write_bytes(files.report_final, json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
    who = (record["approved_by"] or {}).get("name") or (record["approved_by"] or {}).get("id")
    log.info("district %s %s: report final (%s)", unit.code, period.name,
             f"approved by {who} at {record['approved_at']}" if signs_off else "no sign-off configured")
    return {**record, "marker": str(files.report_final), "reused": False}


def final_record(month: DistrictMonth) -> dict[str, Any] | None:
    """The final marker of the unit's report set of the period, None when the set is a draft (or absent).

    A marker whose digest is not that of the .docx beside it (a rendering made after the approval, by a
    process that died before withdrawing the marker) does not count.
    """
    files = month.files
    try:
        record = json.loads(files.report_final.read_text(encoding="utf-8"))
        docx = files.report_set["docx"].read_bytes()
    except (OSError, ValueError):
        return None
    return record if record.get("docx_sha256") == hashlib.sha256(docx).hexdigest() else None


def _with_inputs_evidence(evidence: bytes, record: Any) -> bytes:
    """The metrics evidence with ``inputs``: where the report's office inputs came from and which were defaulted."""
    from tthc.report.context import inputs_evidence

    content = json.loads(evidence.decode("utf-8"))
    content["inputs"] = inputs_evidence(record)
    return json.dumps(content, ensure_ascii=False, indent=1, default=str).encode("utf-8")


# --- the office inputs of a unit's month: the form, what it used, kept ---------------------------------------


def given_inputs(month: DistrictMonth, input_params: dict[str, Any] | None) -> tuple[Any, str, list[str]]:
    """The period's inputs file overlaid by the run's parameters: (inputs or None, their source, warnings).

    An invalid file or parameter raises ``InputsError`` naming it. A missing file is not worth a warning when
    the run's parameters gave the inputs, and when nothing gave them the report's context says so itself.
    """
    from tthc import inputs

    config, period, unit = month.config, month.period, month.unit
    file_inputs, file_warnings = inputs.load_inputs(config.inputs_path, period.name, unit.code)
    given = inputs.inputs_from_params(input_params, base=file_inputs)
    with_params = any(value is not None for value in (input_params or {}).values())
    source = {(True, True): "file and run parameters", (True, False): "file",
              (False, True): "run parameters"}.get((file_inputs is not None, with_params), inputs.NONE)
    warnings = file_warnings if file_inputs is not None else []
    return given, source, warnings + inputs.text_warnings(input_params, "given in the trigger form")


def month_inputs(month: DistrictMonth, input_params: dict[str, Any] | None = None) -> tuple[Any, Any, list[str]]:
    """The inputs the unit's month uses: (``OperatorInputs`` or None, the ``StoredInputs`` saying whence, warnings).

    An answer of the office stored for the period (``record_inputs``) stands unless the period's file or
    run parameters replace the form (``office_inputs``); otherwise the file and run parameters, as before.
    """
    from tthc import inputs

    settings = month.config.office_inputs.for_unit(month.unit.code)
    given, source, warnings = given_inputs(month, input_params)
    stored = inputs.read_stored(month.files.office_inputs)
    record = inputs.settle(month.unit.code, month.period.name, settings, given, source, stored)
    if record.source == inputs.ANSWERED:  # neither the file nor the parameters were used
        warnings = []
    return record.inputs, record, warnings


def _previous_inputs(month: DistrictMonth) -> Any:
    """The unit's inputs of the previous month: what it used (kept), else its inputs file; None when neither."""
    from tthc import inputs
    from tthc.locations import office_inputs_path

    previous = month.period.previous(1).name
    try:
        stored = inputs.read_stored(office_inputs_path(month.root, previous, month.unit.code))
        if stored is not None and stored.inputs is not None:
            return stored.inputs
        return inputs.load_inputs(month.config.inputs_path, previous, month.unit.code)[0]
    except inputs.InputsError as exc:
        log.warning("district %s %s: previous month's inputs not used to pre-fill the form: %s", month.unit.code,
                    month.period.name, exc)
        return None


def office_form(month: DistrictMonth, input_params: dict[str, Any] | None = None, prefix: str = "") -> dict[str, Any]:
    """Whether the unit's office is asked for the month's inputs, why, and the form's values if it is.

    ``{"ask": bool, "reason": str, "prefill": {field: value} or None}`` (``tthc.inputs.plan_form``); the
    prefill's keys are the form's (``prefix`` + ``tthc.inputs.FORM_FIELDS``). An invalid inputs file does not
    stop the form: the office is asked without it, and the validate step reports the file.
    """
    from tthc import inputs

    settings = month.config.office_inputs.for_unit(month.unit.code)
    if not settings.ask:  # nothing to read: not asked
        return {"ask": False, "reason": inputs.plan_form(settings, None, "", None, None).reason, "prefill": None}
    try:
        given, source, _ = given_inputs(month, input_params)
    except inputs.InputsError as exc:
        log.warning("district %s %s: %s; the form is not pre-filled from it", month.unit.code, month.period.name, exc)
        given, source = None, inputs.NONE
    stored = inputs.read_stored(month.files.office_inputs)
    plan = inputs.plan_form(settings, given, source, stored, _previous_inputs(month) if given is None else None)
    return {"ask": plan.ask, "reason": plan.reason,
            "prefill": inputs.form_values(plan.prefill, prefix) if plan.ask else None}


def record_inputs(month: DistrictMonth, input_params: dict[str, Any] | None, answer: dict[str, Any] | None,
                  run_id: str, prefix: str = "", now: datetime | None = None) -> dict[str, Any]:
    """Settle and keep the inputs the unit's month uses: under the data root, then in the warehouse.

    ``answer`` is the form's result (None when it was not asked). An office's answer is validated as an inputs
    file is: an invalid one raises ``InputsError`` naming the unit, the period and the field, and is not kept,
    so the form asks again when it is cleared. A record reused from an earlier run is left as it was.
    """
    from tthc import inputs, warehouse

    unit, period, path = month.unit, month.period, month.files.office_inputs
    settings = month.config.office_inputs.for_unit(unit.code)
    try:
        given, source, warnings = given_inputs(month, input_params)
    except inputs.InputsError as exc:  # reported (and blocking) in the validate step, as before the form
        given, source, warnings = None, inputs.NONE, [f"{exc}: the validate step reports it"]
    stored = inputs.read_stored(path)
    try:
        record = inputs.settle(unit.code, period.name, settings, given, source, stored, answer, prefix)
    except inputs.InputsError as exc:
        raise inputs.InputsError(f"{exc}. Clear task district.office_inputs of this unit (and the tasks after it) "
                                 "to ask the office again") from None
    reused = record is stored
    if answer is not None and record.source == inputs.ANSWERED:
        warnings = inputs.text_warnings(inputs.raw_from_form(answer.get("params_input"), prefix), "entered in the form")
    if not reused:
        record = record.model_copy(update={"run_id": run_id,
                                           "stored_at": (now or datetime.now(UTC)).isoformat()})
        with warehouse.connected(month.warehouse_url) as engine:
            warehouse.replace_office_inputs(engine, _inputs_row(record))
        atomic_write_bytes(path, record.to_json())
    line = record.describe()
    log.info("district %s %s: %s%s (%s)", unit.code, period.name, line, " (kept from an earlier run)" if reused else "",
             path)
    if record.source == inputs.TIMED_OUT:
        warnings.append(f"the office did not answer the inputs form in time: {line}")
    return {"source": record.source, "defaulted": record.defaulted, "answered_by": record.answered_by,
            "answered_at": record.answered_at, "reused": reused, "path": str(path),
            "warnings": [f"{unit.code}: {w}" for w in warnings]}


def _inputs_row(record: Any) -> dict[str, Any]:
    """The warehouse row of a ``StoredInputs``."""
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return {"period": record.period, "district_code": record.unit_code, "source": record.source,
            "inputs": record.inputs.model_dump_json() if record.inputs is not None else None,
            "defaulted": ",".join(record.defaulted), "answered_by": (record.answered_by or {}).get("id"),
            "answered_at": when(record.answered_at), "stored_at": when(record.stored_at), "run_id": record.run_id or ""}


def write_province_outputs(config: PipelineConfig, period: Period, root: Any, warehouse_url: str) -> dict[str, Any]:
    """The province's consolidated report (.docx, PDF) and workbook of the period, from every unit with its report.

    Reads, for each unit in force, its warehouse rows when its report's .docx exists (a report is
    published with the rows it shows, ``publish_report``), so the province's figures are those of the
    reports it gathers, whichever runs wrote them. A unit whose office signs its report off counts only
    once it approved it (``final_record``): a draft is left out, as a missing report. Units without a report
    are named in the report, the workbook and the result (``missing``). The set is published as the units'
    are: the old one withdrawn, then the workbook, the PDF and the .docx last. With no unit reported,
    nothing is written.
    """
    from tthc import report, warehouse
    from tthc.locations import province_set
    from tthc.province import consolidate, unit_month
    from tthc.report.province import build_province_context
    from tthc.workbook import workbook_bytes

    hierarchy = config.hierarchy_for(period)
    province, months = hierarchy.province, {}
    with warehouse.connected(warehouse_url) as engine:
        for unit in hierarchy.reporting_units:
            month = DistrictMonth(config, period, unit, root, warehouse_url)
            if not month.files.report_set["docx"].exists():
                continue
            if config.office_inputs.for_unit(unit.code).sign_off and final_record(month) is None:
                log.warning("province %s %s: %s's report is a draft its office has not approved: left out",
                            province.code, period.name, unit.code)
                continue
            rows, feedback = (warehouse.dossier_rows(engine, period.name, unit.code),
                              warehouse.feedback_row(engine, period.name, unit.code))
            if rows and feedback is not None:
                months[unit.code] = unit_month(unit, rows, feedback)
    consolidation = consolidate(province, period, hierarchy.reporting_units, months)
    missing = [unit.code for unit in consolidation.missing]
    result: dict[str, Any] = {"province": province.code, "period": period.name, "units": len(consolidation.units),
                              "reported": len(months), "missing": missing, "complete": consolidation.complete,
                              "path": None, "pdf": None, "workbook": None, "warnings": []}
    withdraw_province(root, province.code, period)
    if not months:
        result["warnings"].append(f"{province.code}: no unit has its report for {period.name}: no consolidated report")
        log.warning("province %s %s: no unit has its report; nothing consolidated", province.code, period.name)
        return result
    context, warnings = build_province_context(consolidation, config.province_report_settings(period.name),
                                               config.targets)
    files = province_set(root, province.code, period.name)
    docx, pdf = report.render_documents(config.province_template_path, context, files["docx"].name)
    workbook = workbook_bytes(consolidation)
    atomic_write_bytes(files["xlsx"], workbook)
    if pdf is not None:
        atomic_write_bytes(files["pdf"], pdf)
    atomic_write_bytes(files["docx"], docx)
    result["digest"] = hashlib.sha256(docx + workbook).hexdigest()  # both are byte-stable: same figures, same digest
    for warning in warnings:
        log.warning("province %s %s: %s", province.code, period.name, warning)
    log.info("province %s %s: consolidated %d of %d unit(s)%s", province.code, period.name, len(months),
             len(consolidation.units), f"; missing {', '.join(missing)}" if missing else "")
    return {**result, "path": str(files["docx"]), "pdf": str(files["pdf"]) if pdf is not None else None,
            "workbook": str(files["xlsx"]), "warnings": [f"{province.code}: {w}" for w in warnings]}


def province_announcement(outputs: dict[str, Any], root: Any) -> dict[str, Any] | None:
    """What to announce of the province's outputs (the Asset event's extra), or None when there is nothing new.

    Announced once per complete period: when every unit in force has its report and the outputs differ
    from those last announced (their digest is kept beside them). A rerun that writes the same
    figures, hence the same bytes, announces nothing; one that changes a figure announces again.
    """
    from tthc.locations import province_announced

    if not outputs.get("complete") or not outputs.get("digest"):
        return None
    marker = province_announced(root, outputs["province"], outputs["period"])
    try:
        if json.loads(marker.read_text(encoding="utf-8")).get("digest") == outputs["digest"]:
            return None
    except (OSError, ValueError):
        pass  # never announced, or an unreadable marker: announce
    extra = {key: outputs.get(key) for key in ("period", "province", "units", "path", "pdf", "workbook", "digest")}
    atomic_write_bytes(marker, json.dumps(extra, ensure_ascii=False, indent=1).encode("utf-8"))
    return extra
