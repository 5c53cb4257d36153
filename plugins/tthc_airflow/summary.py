"""The end-of-run summary: what was read, what was written, what needs a look.

Why a task of its own: an operator reading the run (or the README's run command) needs one
place that says how many districts, records and reports, and which warnings, and the run must
fail when any district has no report so that the failure notifies.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)
STEPS = ("extract_dossiers", "extract_feedback", "validate", "compute_metrics", "write_report")


def _by_index(ti: Any, step: str, count: int) -> list[Any]:
    values = ti.xcom_pull(task_ids=f"district.{step}", map_indexes=list(range(count)))
    if not isinstance(values, list):
        values = [values]
    values = list(values) + [None] * (count - len(values))
    return values[:count]


def summarize_run(context: Any, units: list[dict[str, str]] | None) -> dict[str, Any]:
    """The run's summary (printed, and written beside the period's reports); fails when a report is missing."""
    from airflow.sdk.exceptions import AirflowFailException

    if units is None:  # plan_run failed: its own message says why; nothing else ran
        raise AirflowFailException("no district was planned: task plan_run failed, its log says why "
                                   "(e.g. the period of this run, or the units asked for)")
    ti = context["ti"]
    results = {step: _by_index(ti, step, len(units)) for step in STEPS}
    lines, warnings, missing, report_paths, quality = [], [], [], [], []
    dossiers = feedback = reports = retried = quarantined = 0
    for i, unit in enumerate(units):
        dossier, fb, checked, _, report = (results[step][i] for step in STEPS)
        dossiers += (dossier or {}).get("records", 0)
        feedback += (fb or {}).get("records", 0)
        retried += (dossier or {}).get("retried", 0) + (fb or {}).get("retried", 0)
        if checked:
            quarantined += sum(checked.get("quarantined", {}).values())
            quality.append({"unit": unit["label"], "results_page": checked.get("results_page"),
                            "quarantined": checked.get("quarantined", {})})
        for part in (dossier, fb, checked, report):
            warnings += (part or {}).get("warnings", [])
        if report:
            reports += 1
            report_paths.append(report["path"])
            lines.append(f"  {unit['label']}: {report['path']}")
        else:
            missing.append(unit["label"])
            lines.append(f"  {unit['label']}: NO REPORT (see its failed task)")
    no_pdf = sum(1 for r in results["write_report"] if r and not r.get("pdf"))
    if no_pdf:
        warnings.append(f"{no_pdf} report(s) without PDF: LibreOffice is not installed on the worker "
                        "(make system-deps)")
    period = units[0]["period"] if units else "?"
    province = ti.xcom_pull(task_ids="consolidate_province") or {}
    warnings += province.get("warnings", [])
    if province.get("missing"):
        warnings.append(f"the province's consolidated report of {period} leaves out the units without a report: "
                        f"{', '.join(province['missing'])}")
    summary = {"period": period, "run_id": context["run_id"], "districts": len(units), "dossiers_read": dossiers,
               "feedback_read": feedback, "source_requests_retried": retried, "reports_written": reports,
               "reports": report_paths, "records_quarantined": quarantined, "quality": quality,
               "warnings": warnings, "missing": missing,
               "province": {key: province.get(key) for key in ("province", "reported", "units", "complete", "path",
                                                                "pdf", "workbook", "missing")} if province else None}
    if units:
        from tthc.locations import run_summary_path
        from tthc.storage import atomic_write_bytes
        from tthc_airflow.hooks import data_root

        target = run_summary_path(data_root(), period)
        atomic_write_bytes(target, json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))
    print(f"Period {period}: {len(units)} district(s), {dossiers} dossiers and {feedback} feedback items read, "
          f"{quarantined} quarantined, {reports} report(s) written, {len(warnings)} warning(s)")
    if province.get("path"):
        lines.append(f"  province {province['province']} ({province['reported']}/{province['units']} units): "
                     f"{province['path']}, {province['workbook']}")
    print("\n".join(lines))
    for warning in warnings:  # at WARNING level: the log view highlights them instead of folding them away
        log.warning("%s", warning)
    if missing:
        # No retry: the districts' tasks have ended; summarizing again minutes later cannot change the answer.
        raise AirflowFailException(f"{len(missing)} district(s) have no report for {period}: {', '.join(missing)}")
    return summary
