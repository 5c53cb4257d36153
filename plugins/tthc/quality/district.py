"""One district's month through the quality gate: validate, decide, write what an operator opens.

Layout under the data root, per period and district (``quality/<YYYY-MM>/<unit code>/``; the names are
``tthc.locations``):

- ``index.html``: the results page an operator opens (``tthc.quality.page``): the verdict first, then
  per source the checks that failed, their rules, the records and ids, what was quarantined or blocked
  and what to fix. One self-contained file (inline CSS, no script, nothing loaded from elsewhere, every
  source value escaped), written by the validation and written again by the metrics step with its own
  results, so it is never older than the newest results beside it;
- ``<suite>.json``: each GX validation result as GX writes it (``dossiers``, ``feedback``, ``inputs``,
  and after the metrics step ``metrics``), linked from the page for engineers;
- ``summary.json``: the findings per source, what was blocked, warned about or quarantined (every
  quarantined id), the page's other input;
- ``quarantine/<source>.parquet``: the records set aside, as landed (no personal data is ever landed),
  with a ``quality_checks`` column naming the checks each failed. Records set aside at extraction for
  a field of the wrong JSON type (check ``field_types``) were never landed: the summary and the page
  list them by id and field;
- ``dossiers.parquet``, ``feedback.parquet``: the clean extracts, the only input of the metrics step.
"""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from tthc.landing import read_landed_batches
from tthc.locations import DistrictFiles, QualityFiles, results_name
from tthc.metrics import DataError
from tthc.periods import Period
from tthc.quality import QualityError
from tthc.quality.checks import DOSSIERS, FEEDBACK, ID_COLUMNS, INPUTS, METRICS, checks_of, get_check
from tthc.quality.page import write_page
from tthc.quality.policy import SourceOutcome, block_message, decide
from tthc.quality.runner import Finding, GxSession, findings, remove_tree
from tthc.quality.suites import VolumeBaseline
from tthc.storage import atomic_write_bytes, remove_file
from tthc.units import ReportingUnit

log = logging.getLogger(__name__)

SOURCE_SUITES = (DOSSIERS, FEEDBACK, INPUTS)
METRIC_SUITES = (METRICS,)
# (whole, part) pairs of docs/metrics.md: a part never exceeds its whole.
DOSSIER_PARTS = (
    ("received", "received_online"), ("received", "digitized_dossiers"), ("received", "fee_dossiers"),
    ("fee_dossiers", "paid_online"), ("resolved", "resolved_early"), ("resolved", "resolved_on_time"),
    ("resolved", "resolved_late"), ("resolved", "digitized_results"), ("pending", "pending_overdue"),
)


def volume_baseline(history: list[dict[str, Any]], drop_max_share: float) -> VolumeBaseline | None:
    """Mean received of earlier periods (warehouse ``tong`` rows) and the least accepted now; None without history."""
    rows = [row for row in history if row.get("received") is not None]
    if not rows:
        return None
    mean = sum(int(row["received"]) for row in rows) / len(rows)
    return VolumeBaseline(tuple(str(row["period"]) for row in rows), mean, mean * (1 - drop_max_share))


def rejected_finding(path: Any, source: str, severity: str) -> Finding | None:
    """The ``field_types`` finding of a source from its extract's ``<source>.rejected.json`` (``path``); None when none.

    Why here and not in a suite: a record with a field of the wrong JSON type is set aside at
    extraction and never landed (its value never kept), so no GX expectation can see it; only its
    id, the field and the two type names are known. Turned into a finding, the policy quarantines or
    blocks it like any other record. An absent file means nothing was rejected (an extract of an
    earlier version).
    """
    if not path.exists():
        return None
    try:
        records = json.loads(path.read_bytes().decode("utf-8"))["records"]
        problems = [(str(r["id"]), f"{r['field']}: expected {r['expected']}, got {r['got']}") for r in records]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not the extract's list of rejected records ({type(exc).__name__}: {exc}); "
                        "rerun the district's extract task") from None
    if not problems:
        return None
    check = get_check(source, "field_types")
    ids_by_problem: dict[str, set[str]] = {}
    notes: dict[str, list[str]] = {}
    for record_id, problem in problems:
        ids_by_problem.setdefault(problem, set()).add(record_id)
        if problem not in notes.setdefault(record_id, []):
            notes[record_id].append(problem)
    ranked = sorted(ids_by_problem, key=lambda p: (-len(ids_by_problem[p]), p))  # the commonest first
    return Finding(source=source, check=check.name, severity=severity, rule=check.rule, fix=check.fix,
                   record_level=True, expectations=ranked, ids=sorted(notes),
                   observed=[f"{p}: {len(ids_by_problem[p])} record(s)" for p in ranked],
                   id_notes={record_id: "; ".join(found) for record_id, found in notes.items()})


def _severities(quality: Any, source: str) -> dict[str, str]:
    return {check.name: quality.severity(source, check.name) for check in checks_of(source)}


def _write_json(path: Any, payload: Any) -> Any:
    return atomic_write_bytes(path, json.dumps(payload, ensure_ascii=False, indent=1, default=str).encode("utf-8"))


def _split(path: Any, id_column: str, ids: list[str], checks_by_id: dict[str, list[str]], rows: int
           ) -> tuple[bytes, bytes, int]:
    """Parquet bytes of the landed extract at ``path`` without ``ids`` and of those records with a ``quality_checks``
    column naming the checks each failed, and how many were held; read and written ``rows`` records at a time.

    Why in batches: a unit's whole extract as one Arrow table, filtered twice, was the largest thing this
    step held after GX; a batch at a time, only the compressed output grows with the unit.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.array(ids, type=pa.string())
    kept_out, held_out, held_rows = io.BytesIO(), io.BytesIO(), 0
    with path.open("rb") as handle:
        parquet = pq.ParquetFile(handle)
        schema = parquet.schema_arrow
        with (pq.ParquetWriter(kept_out, schema, compression="zstd") as kept,
              pq.ParquetWriter(held_out, schema.append(pa.field("quality_checks", pa.string())),
                               compression="zstd") as held):
            for batch in parquet.iter_batches(batch_size=rows):
                table = pa.Table.from_batches([batch], schema=schema)
                chosen = pc.is_in(table[id_column], value_set=wanted)
                kept.write_table(table.filter(pc.invert(chosen)))
                set_aside = table.filter(chosen)
                if set_aside.num_rows:
                    reasons = [",".join(checks_by_id.get(str(i), [])) for i in set_aside[id_column].to_pylist()]
                    held.write_table(set_aside.append_column("quality_checks", pa.array(reasons, type=pa.string())))
                    held_rows += set_aside.num_rows
    return kept_out.getvalue(), held_out.getvalue(), held_rows


def validate_district(quality: Any, root: Any, period: Period, unit: ReportingUnit, *,
                      history: list[dict[str, Any]] | None = None, operator_inputs: Any = None,
                      inputs_error: str | None = None, session: GxSession | None = None) -> dict[str, Any]:
    """Validate the landed extracts (and operator inputs) of one district; write results, quarantine, clean extracts.

    Returns the summary (also written as ``summary.json``). Raises ``QualityError`` when a check blocks,
    after writing the results and the results page an operator needs, and without any clean extract.
    The page is written whether it blocks or passes (it costs milliseconds), so it never describes an
    earlier run; the metrics step writes it again with its own results.
    """
    from tthc.quality.prepare import (
        DOSSIER_DERIVED,
        FEEDBACK_DERIVED,
        inputs_frame,
        prepare_dossiers,
        prepare_feedback,
    )
    from tthc.quality.suites import dossier_suite, feedback_suite, inputs_suite

    started = time.perf_counter()
    session = session or GxSession()
    gx_ready = time.perf_counter()
    files = DistrictFiles(root, period.name, unit.code)
    qfolder = files.quality
    volume = volume_baseline(history or [], quality.volume_drop_max_share)
    rejected = {source: rejected_finding(files.rejected(source), source, quality.severity(source, "field_types"))
                for source in (DOSSIERS, FEEDBACK)}
    rows = quality.batch_records

    results: dict[str, dict[str, Any]] = {}
    outcomes: list[SourceOutcome] = []
    sizes: dict[str, int] = {}
    received = 0
    # Each source is read and checked ``batch_records`` records at a time (GxSession.run_batches): memory
    # bounded by the batch, not by the unit.
    def batches(source: str) -> Any:
        return read_landed_batches(files.landed(source), rows)

    plans = [(DOSSIERS, (prepare_dossiers(batch, period) for batch in batches(DOSSIERS)),
              dossier_suite(unit, period, DOSSIER_DERIVED, volume), ["q_received_in_period"]),
             (FEEDBACK, (prepare_feedback(batch) for batch in batches(FEEDBACK)),
              feedback_suite(unit, period, FEEDBACK_DERIVED), [])]
    for source, frames, expectations, keep in plans:
        id_column = ID_COLUMNS[source]
        results[source], gathered = session.run_batches(source, frames, expectations, source, id_column,
                                                        _severities(quality, source), keep)
        found = findings(results[source], id_column)
        size = sizes[source] = len(gathered)
        if source == DOSSIERS:
            received = int(gathered["q_received_in_period"].sum())
        set_aside = rejected.get(source)
        if set_aside is not None:  # they count among the source's records for the quarantine limit
            found.insert(0, set_aside)
            size += len(set(set_aside.ids) - set(gathered[id_column].dropna().astype(str)))
        outcomes.append(decide(source, found, size, quality.quarantine_limit(size)))
        del gathered
    if operator_inputs is not None:
        results[INPUTS] = session.run(INPUTS, inputs_frame(operator_inputs, unit.code), inputs_suite(unit, period),
                                      INPUTS, ID_COLUMNS[INPUTS], _severities(quality, INPUTS))
        outcomes.append(decide(INPUTS, findings(results[INPUTS], ID_COLUMNS[INPUTS]), 1, quality.quarantine_limit(1)))
    if inputs_error:
        outcomes.append(SourceOutcome(INPUTS, 1, 0, blocking=[inputs_error]))
    validated = time.perf_counter()

    blocked = any(o.blocked for o in outcomes)
    where = str(qfolder.page)
    message = block_message(unit.code, unit.name, period.name, outcomes, where) if blocked else None
    for suite, result in results.items():
        _write_json(qfolder.results(suite), result)
    for stale in (*SOURCE_SUITES, *METRIC_SUITES):  # an earlier run's results describe other data
        if stale not in results:
            remove_file(qfolder.results(stale))
    remove_tree(qfolder.quarantine_dir)
    quarantine: dict[str, str] = {}
    clean: dict[str, str] = {}
    for source in (DOSSIERS, FEEDBACK):
        outcome = next(o for o in outcomes if o.source == source)
        target = qfolder.clean(source)
        checks_by_id: dict[str, list[str]] = {}
        for finding in outcome.findings:
            if finding.outcome == "quarantined":
                for record_id in finding.ids:
                    checks_by_id.setdefault(record_id, []).append(finding.check)
        kept, held, held_rows = _split(files.landed(source), ID_COLUMNS[source], outcome.quarantined_ids,
                                       checks_by_id, rows)
        if held_rows:  # records rejected at extraction were never landed: they are not in this file
            quarantine[source] = str(atomic_write_bytes(qfolder.quarantined(source), held))
        if blocked:
            remove_file(target)
        else:
            clean[source] = str(atomic_write_bytes(target, kept))
    summary: dict[str, Any] = {
        "period": period.name,
        "window": [period.start.isoformat(), period.end.isoformat()],
        "unit": {"code": unit.code, "name": unit.name},
        "validated_at": datetime.now(UTC).isoformat(),
        "blocked": blocked,
        "message": message,
        "warnings": [w for o in outcomes for w in o.warnings],
        "quarantined": {o.source: len(o.quarantined_ids) for o in outcomes if o.source in (DOSSIERS, FEEDBACK)},
        "records": sizes,
        "rejected": {source: len(found.ids) if found else 0 for source, found in rejected.items()},
        "volume": None if volume is None else {"periods": list(volume.periods), "mean_received": volume.mean_received,
                                               "min_received": volume.min_received,
                                               "received": received},
        "sources": {o.source: o.to_dict() for o in outcomes},
        "results": {suite: results_name(suite) for suite in results},
        "clean": clean,
        "quarantine": quarantine,
        "results_page": where,
    }
    page_started = time.perf_counter()
    write_page(qfolder, summary, results)
    finished = time.perf_counter()
    summary["seconds"] = {"gx_import": round(session.import_seconds, 3), "gx_setup": round(gx_ready - started, 3),
                          "validate": round(validated - gx_ready, 3), "write": round(page_started - validated, 3),
                          "results_page": round(finished - page_started, 3), "total": round(finished - started, 3)}
    _write_json(qfolder.summary, summary)
    log.info("district %s %s: quality %s in %.2f s (validation %.2f s, results page %.3f s); quarantined %s; "
             "%d warning(s); results: %s",
             unit.code, period.name, "BLOCKED" if blocked else "passed", finished - started, validated - gx_ready,
             finished - page_started, summary["quarantined"], len(summary["warnings"]), where)
    if blocked:
        raise QualityError(message)
    return summary


def read_summary(quality: QualityFiles) -> dict[str, Any] | None:
    """The gate's ``summary.json`` in a unit's quality folder; None when the unit was not validated."""
    if not quality.summary.exists():
        return None
    return json.loads(quality.summary.read_bytes().decode("utf-8"))


def validate_metrics(quality: Any, root: Any, period: Period, unit: ReportingUnit, dossier_rows: list[dict[str, Any]],
                     feedback_row: dict[str, Any], session: GxSession | None = None) -> SourceOutcome:
    """The metrics suite over the computed rows, before they are stored; the results page written again over all.

    Raises ``QualityError`` when a metrics check fails (they block: a wrong number must not be stored).
    """
    from tthc.metrics import DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS
    from tthc.quality.prepare import metrics_frame
    from tthc.quality.suites import metrics_suite

    session = session or GxSession()
    qfolder = DistrictFiles(root, period.name, unit.code).quality
    frame = metrics_frame(dossier_rows, feedback_row, DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS, DOSSIER_PARTS)
    results = {METRICS: session.run(METRICS, frame, metrics_suite(), METRICS, ID_COLUMNS[METRICS],
                                    _severities(quality, METRICS))}
    found = findings(results[METRICS], ID_COLUMNS[METRICS])
    rows = len(frame)
    outcome = decide(METRICS, found, rows, 0)
    for suite, result in results.items():
        _write_json(qfolder.results(suite), result)
    where = str(qfolder.page)
    summary = read_summary(qfolder)
    earlier = {suite: json.loads((qfolder.path / name).read_bytes().decode("utf-8"))
               for suite, name in ((summary or {}).get("results") or {}).items()
               if suite not in results and (qfolder.path / name).exists()}
    message = block_message(unit.code, unit.name, period.name, [outcome], where) if outcome.blocked else None
    if summary:
        summary.pop("data_docs", None)  # written by an earlier version
        summary["results_page"] = where
        summary.setdefault("sources", {})[METRICS] = outcome.to_dict()
        summary.setdefault("results", {}).update({suite: results_name(suite) for suite in results})
        summary["warnings"] = [*summary.get("warnings", []), *outcome.warnings]
        if outcome.blocked:
            summary["blocked"] = True
            summary["message"] = message
        _write_json(qfolder.summary, summary)
    else:  # metrics checked without a validation summary (tests, a hand run): the page says what is known
        summary = {"period": period.name, "window": [period.start.isoformat(), period.end.isoformat()],
                   "unit": {"code": unit.code, "name": unit.name}, "blocked": outcome.blocked, "message": message,
                   "warnings": outcome.warnings, "sources": {METRICS: outcome.to_dict()},
                   "results": {suite: results_name(suite) for suite in results}, "results_page": where}
    write_page(qfolder, summary, {**earlier, **results})
    if outcome.blocked:
        raise QualityError(message)
    return outcome
