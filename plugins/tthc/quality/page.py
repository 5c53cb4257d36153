"""The quality results page: one self-contained HTML file per district and period, ``index.html``.

Why our own page and not Great Expectations' Data Docs: opened on a closed network, Data Docs were
unstyled with an empty results list (Bootstrap, jQuery, Font Awesome and Vega come from public CDNs);
with internet every view fetched a logo from a public bucket with the context id in the query string;
they linked to newsletters and tutorials; source values reached the HTML unescaped (a ``<script>`` in
a dossier field ran in the operator's browser); and building them cost a GX file context per district.
This page is rendered from what the gate already writes (``summary.json`` and the GX results
``<suite>.json``), with inline CSS only, no script, and no address outside its own folder: it opens
from a file share, object storage or a laptop alike. A Content-Security-Policy meta tag forbids any
other load as a second line of defence.

Why Jinja2 with a template file beside this module (``page.html.j2``): the markup is reviewed and
edited as HTML, apart from the logic; Jinja2 ships with Airflow. Autoescape is forced on (Jinja2's
``select_autoescape`` would not recognise a ``.j2`` name), and the template never marks a value safe:
every source value (ids, observed values, messages) is escaped. The view model is built here, in
Python, so the template only lays it out and the tests can check the model without parsing HTML.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from tthc.locations import QUALITY_SUMMARY, DistrictFiles, QualityFiles, quarantine_name, results_name
from tthc.quality.checks import DOSSIERS, FEEDBACK, INPUTS, METRICS, SOURCES, SYSTEMS, checks_of
from tthc.quality.policy import NOUNS, POLICY_HINT
from tthc.quality.runner import describe, exception_text, remove_tree
from tthc.storage import atomic_write_bytes

TEMPLATE = Path(__file__).with_name("page.html.j2")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
SHOWN_IDS = 200  # ids listed per failed check; the rest are counted and their full list named
SHOWN_VALUES = 10  # unexpected values shown per failed expectation
VALUE_CHARS = 200
TITLES = {DOSSIERS: "Dossiers: one-stop system", FEEDBACK: "Feedback: hotline 1022", INPUTS: "Operator inputs",
          METRICS: "Computed metrics"}
OUTCOME_WORDS = {"blocked": "blocked", "quarantined": "quarantined", "warned": "warned (kept)"}


def write_page(folder: QualityFiles, summary: dict[str, Any], results: dict[str, dict[str, Any]]) -> Any:
    """Render the page into the quality folder (atomically) and remove Data Docs an earlier version left there."""
    path = atomic_write_bytes(folder.page, render_page(summary, results).encode("utf-8"))
    remove_tree(folder.old_data_docs)
    return path


def render_page(summary: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    """The HTML of the page from a summary (``validate_district``'s shape) and the GX results by suite name."""
    return _template().render(page=page_model(summary, results), csp=CSP)


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE.name)


def page_model(summary: dict[str, Any], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Everything the template shows, as plain values: verdict, then one block per source, then the raw files."""
    unit = summary.get("unit") or {}
    period = str(summary.get("period", ""))
    parts = summary.get("sources") or {}
    blocked = bool(summary.get("blocked"))
    quarantined = sum(len(part.get("quarantined_ids") or []) for part in parts.values())
    warnings = list(summary.get("warnings") or [])
    if blocked:
        verdict = {"kind": "blocked", "word": "BLOCKED",
                   "text": "No report is written for this district and period until the data is fixed."}
    elif quarantined:
        verdict = {"kind": "quarantined", "word": f"Passed with {quarantined} quarantined",
                   "text": "The report is computed without the quarantined records, which are listed below."}
    else:
        verdict = {"kind": "passed", "word": "Passed", "text": "Every record checked is used in the report."}
    sources = [_source(source, parts.get(source), results.get(source), summary) for source in SOURCES]
    files = [{"href": results_name(suite), "label": results_name(suite),
              "what": f"GX validation result of suite {suite}"} for suite in SOURCES if suite in results]
    files.append({"href": QUALITY_SUMMARY, "label": QUALITY_SUMMARY,
                  "what": "the findings and decisions of this page, every quarantined id"})
    return {
        "unit": f"{unit.get('name', '')} ({unit.get('code', '')})",
        "period": period,
        "window": _window(summary.get("window")),
        "checked_at": _moment(summary.get("validated_at")),
        "verdict": verdict,
        "blocking": [reason for source in sources for reason in source["blocking"]],
        "policy_hint": POLICY_HINT,
        "warnings": warnings,
        "volume": _volume(summary.get("volume"), parts.get(DOSSIERS)),
        "sources": sources,
        "files": files,
    }


def _source(source: str, part: dict[str, Any] | None, result: dict[str, Any] | None,
            summary: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = {"key": source, "title": TITLES[source], "system": SYSTEMS[source],
                             "checked": part is not None, "blocking": [], "warnings": [], "failed": [],
                             "passed": [], "not_evaluated": [], "quarantine": None, "records": None,
                             "expectations": None, "note": None}
    if part is None:
        model["status"], model["status_text"], model["note"] = "skipped", "not checked", _not_checked(source, summary)
        return model
    rejected = int((summary.get("rejected") or {}).get(source) or 0)
    records = int(part.get("records") or 0)
    noun = NOUNS[source]
    model["records"] = f"{records} {noun}" + (
        f" ({records - rejected} landed, {rejected} set aside at extraction for a field of the wrong JSON type)"
        if rejected else "")
    failing = _failed_expectations(result)
    period, code = summary.get("period", "<YYYY-MM>"), (summary.get("unit") or {}).get("code", "<unit>")
    model["failed"] = [_finding(f, failing.get(f["check"], []), source, period, code)
                       for f in part.get("findings") or []]
    failed_names = {f["check"] for f in part.get("findings") or []}
    evaluated = {((item.get("expectation_config") or {}).get("meta") or {}).get("check")
                 for item in (result or {}).get("results", [])}
    if source in (DOSSIERS, FEEDBACK):
        evaluated.add("field_types")  # decided at extraction: an absent or empty list means none rejected
    for check in checks_of(source):
        if check.name in failed_names:
            continue
        (model["passed"] if check.name in evaluated else model["not_evaluated"]).append(check.key)
    if result is not None:
        stats = result.get("statistics") or {}
        model["expectations"] = (f"{stats.get('successful_expectations', 0)} of "
                                 f"{stats.get('evaluated_expectations', 0)} GX expectations met")
    model["blocking"] = list(part.get("blocking") or [])
    model["warnings"] = list(part.get("warnings") or [])
    quarantined = list(part.get("quarantined_ids") or [])
    if quarantined:
        never_landed = {i for f in part.get("findings") or [] if f["check"] == "field_types"
                        and f.get("outcome") == "quarantined" for i in f.get("ids") or []}
        file = (summary.get("quarantine") or {}).get(source)
        model["quarantine"] = {
            "count": f"{len(quarantined)} {noun}",
            "file": quarantine_name(source) if file else None,
            "in_file": len(quarantined) - len(never_landed & set(quarantined)),
            "never_landed": len(never_landed & set(quarantined)),
        }
    if part.get("blocked"):
        model["status"], model["status_text"] = "blocked", "blocked"
    elif quarantined:
        model["status"], model["status_text"] = "quarantined", f"passed, {len(quarantined)} {noun} quarantined"
    elif model["warnings"]:
        model["status"], model["status_text"] = "warned", f"passed with {len(model['warnings'])} warning(s)"
    else:
        model["status"], model["status_text"] = "passed", "passed"
    return model


def _not_checked(source: str, summary: dict[str, Any]) -> str:
    if source == INPUTS:
        return ("Not checked: no operator inputs for this period (include/inputs/<YYYY-MM>/<unit>.yaml or the run "
                "parameter 'inputs')")
    if source == METRICS:
        if summary.get("blocked"):
            return "Not computed: the district is blocked at validation"
        return "Not checked yet: the metrics step checks the figures after the validation passes"
    return "Not checked"


def _finding(finding: dict[str, Any], failing: list[dict[str, Any]], source: str, period: str,
             code: str) -> dict[str, Any]:
    ids = [str(i) for i in finding.get("ids") or []]
    notes = finding.get("id_notes") or {}
    count = int(finding.get("count") or len(ids))
    shown = ids[:SHOWN_IDS]
    if finding.get("ids_truncated") and finding["check"] == "field_types":
        relative = DistrictFiles(PurePosixPath(), str(period), str(code)).rejected(source)  # relative to the data root
        full_list = f"{relative} under the data root"
    elif finding.get("ids_truncated"):
        full_list = f"{results_name(source)} (the GX result: unexpected_index_list of each failed expectation)"
    else:
        full_list = QUALITY_SUMMARY
    if failing:
        expectations = failing
    else:  # a check without a GX expectation (field_types), or results that are gone: the finding's own words
        expectations = [{"text": text, "unexpected": None, "samples": [], "error": None}
                        for text in finding.get("expectations") or []]
    return {
        "key": f"{source}.{finding['check']}",
        "rule": finding.get("rule", ""),
        "severity": finding.get("severity", ""),
        "outcome": finding.get("outcome", ""),
        "outcome_text": OUTCOME_WORDS.get(finding.get("outcome", ""), finding.get("outcome", "")),
        "fix": finding.get("fix", ""),
        "records": f"{count} {NOUNS[source]}" if ids else None,
        "ids": [{"id": i, "note": notes.get(i)} for i in shown],
        "hidden": count - len(shown) if ids else 0,
        "full_list": full_list,
        "expectations": expectations,
        "observed": list(finding.get("observed") or []),
    }


def _failed_expectations(result: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """The failed GX expectations of a suite's result by check: what each expected, how many values broke it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in (result or {}).get("results", []):
        if item.get("success"):
            continue
        config = item.get("expectation_config") or {}
        check = (config.get("meta") or {}).get("check")
        details = item.get("result") or {}
        unexpected = None
        if details.get("unexpected_count") is not None:
            unexpected = f"{details['unexpected_count']} of {details.get('element_count', '?')} value(s) unexpected"
        elif "observed_value" in details:
            unexpected = f"observed {_value(details['observed_value'])}"
        values = [_value(v) for v in (details.get("partial_unexpected_list") or [])[:SHOWN_VALUES]]
        out.setdefault(str(check), []).append({"text": describe(config), "unexpected": unexpected, "samples": values,
                                               "error": exception_text(item.get("exception_info"))})
    return out


def _value(value: Any) -> str:
    """A source value as JSON text (strings quoted, so an empty string shows), cut to a readable length."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS] + "…"


def _volume(volume: dict[str, Any] | None, dossiers: dict[str, Any] | None) -> str | None:
    if dossiers is None:
        return None
    if not volume:
        return "Volume: not compared (no earlier periods of this district in the warehouse)."
    flagged = any(f.get("check") == "volume" for f in dossiers.get("findings") or [])
    return (f"Volume: {volume.get('received')} dossiers received in the period; the mean of "
            f"{', '.join(volume.get('periods') or [])} was {float(volume.get('mean_received') or 0):.1f}, the least "
            f"accepted {float(volume.get('min_received') or 0):.1f}: "
            + ("a fall beyond what is allowed (see dossiers.volume)." if flagged else "within what is allowed."))


def _moment(text: Any) -> str:
    try:
        return datetime.fromisoformat(str(text)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return str(text or "")


def _window(window: Any) -> str:
    """``2023-10-15 00:00 to 2023-11-15 00:00 (UTC+07:00), end excluded`` from the summary's ISO pair."""
    try:
        start, end = (datetime.fromisoformat(str(w)) for w in window)
    except (TypeError, ValueError):
        return ""
    offset = start.strftime("%z")
    zone = f" (UTC{offset[:3]}:{offset[3:]})" if offset else ""
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}{zone}, end excluded"
