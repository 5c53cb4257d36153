"""The results page an operator opens: what it says, that it escapes source values, that it loads nothing.

The first tests render the page from hand-made summaries and GX-shaped results (no GX run): verdict,
failing checks, counts, ids, fixes, links. The last ones run the gate over a blocked and a quarantined
district (``tests.quality.pages``) and scan every page written under the data root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from markupsafe import escape

from tests.quality.pages import IMG_VALUE, SCRIPT_ID, page_text, scan_html, start_tags
from tthc.locations import QualityFiles
from tthc.quality import BLOCK, QUARANTINE, WARN
from tthc.quality.checks import get_check
from tthc.quality.page import CSP, SHOWN_IDS, page_model, render_page, write_page
from tthc.quality.policy import POLICY_HINT, block_message, decide
from tthc.quality.runner import Finding

NO_DUE = "expect_column_values_to_not_be_null"


def finding(source: str, check: str, severity: str, ids: list[str], **more: Any) -> Finding:
    spec = get_check(source, check)
    return Finding(source, check, severity, spec.rule, spec.fix, spec.record_level,
                   more.pop("expectations", [f"{NO_DUE}(NgayHenTra)"]), ids=sorted(ids), **more)


def gx_result(suite: str, failed: dict[str, tuple[int, int, list[Any]]], passed: tuple[str, ...] = ()
              ) -> dict[str, Any]:
    """A GX-shaped result: per failed check (unexpected, element count, sample values), and passed checks."""
    items = [{"success": False, "expectation_config": {"type": NO_DUE, "kwargs": {"column": "NgayHenTra"},
                                                       "meta": {"check": check, "source": suite}},
              "result": {"element_count": total, "unexpected_count": bad, "partial_unexpected_list": values}}
             for check, (bad, total, values) in failed.items()]
    items += [{"success": True, "expectation_config": {"type": NO_DUE, "kwargs": {"column": "MaHoSo"},
                                                       "meta": {"check": check, "source": suite}}, "result": {}}
              for check in passed]
    return {"suite_name": suite, "success": not failed, "results": items,
            "statistics": {"evaluated_expectations": len(items), "successful_expectations": len(passed)}}


def summary_of(outcomes: list[Any], blocked: bool, name: str = "Huyện Tháp Mười") -> dict[str, Any]:
    """The summary ``validate_district`` writes, from policy outcomes."""
    quarantine = {o.source: f"/data/quality/2023-11/872/quarantine/{o.source}.parquet" for o in outcomes
                  if o.quarantined_ids}
    return {
        "period": "2023-11", "window": ["2023-10-15T00:00:00+07:00", "2023-11-15T00:00:00+07:00"],
        "unit": {"code": "872", "name": name}, "validated_at": "2023-11-16T02:00:00+00:00", "blocked": blocked,
        "message": block_message("872", name, "2023-11", outcomes, "/data/index.html") if blocked else None,
        "warnings": [w for o in outcomes for w in o.warnings],
        "quarantined": {o.source: len(o.quarantined_ids) for o in outcomes},
        "records": {o.source: o.records for o in outcomes}, "rejected": {}, "volume": None,
        "sources": {o.source: o.to_dict() for o in outcomes},
        "results": {o.source: f"{o.source}.json" for o in outcomes},
        "clean": {}, "quarantine": quarantine, "results_page": "/data/index.html",
    }


def blocked_case() -> tuple[dict[str, Any], dict[str, Any]]:
    """Dossiers blocked (5 without a due date, above the limit of 3); feedback with one record quarantined."""
    no_due = [f"NO-DUE-{i}" for i in range(5)]
    dossiers = decide("dossiers", [finding("dossiers", "finished_has_due_date", QUARANTINE, no_due)], 25, 3)
    fb = decide("feedback", [finding("feedback", "status_in_set", QUARANTINE, ["PB-BAD"],
                                     expectations=["expect_column_values_to_be_in_set(status)"])], 6, 3)
    results = {"dossiers": gx_result("dossiers", {"finished_has_due_date": (5, 25, [None] * 5)},
                                     ("schema", "time_format")),
               "feedback": gx_result("feedback", {"status_in_set": (1, 6, ["closed"])}, ("schema",))}
    return summary_of([dossiers, fb], blocked=True), results


def test_a_blocked_page_says_at_once_what_failed_why_and_what_to_fix() -> None:
    summary, results = blocked_case()
    html = render_page(summary, results)
    body = html[html.index("<body>"):]

    assert body.index("BLOCKED") < body.index('id="dossiers"')  # the verdict comes first
    assert "Huyện Tháp Mười (872), period 2023-11" in html  # diacritics kept
    assert "2023-10-15 00:00 to 2023-11-15 00:00 (UTC+07:00), end excluded" in html
    assert "dossiers.finished_has_due_date" in html and "feedback.status_in_set" in html
    assert "a finished dossier (TrangThaiHoSo 9 or 10) has NgayHenTra" in html  # the rule
    assert "5 of 25 dossier(s) fail quarantinable checks" in html  # the blocking reason, whole
    assert "5 dossier(s)" in html and "5 of 25 value(s) unexpected" in html
    assert all(f"<li>NO-DUE-{i}</li>" in html for i in range(5))
    assert escape(get_check("dossiers", "finished_has_due_date").fix) in html
    assert escape(POLICY_HINT) in html
    assert "quarantine/feedback.parquet" in html and "<li>PB-BAD</li>" in html
    assert "&#34;closed&#34;" in html  # the unexpected value, escaped
    assert "Not computed: the district is blocked at validation" in html

    model = page_model(summary, results)
    assert model["verdict"]["word"] == "BLOCKED" and len(model["blocking"]) == 1
    by_key = {s["key"]: s for s in model["sources"]}
    assert by_key["dossiers"]["status"] == "blocked" and by_key["feedback"]["status"] == "quarantined"
    assert by_key["dossiers"]["failed"][0]["outcome"] == "blocked"
    assert "dossiers.schema" in by_key["dossiers"]["passed"] and "dossiers.field_types" in by_key["dossiers"]["passed"]
    assert "dossiers.volume" in by_key["dossiers"]["not_evaluated"]
    assert by_key["inputs"]["status"] == "skipped"


def test_quarantined_and_clean_verdicts() -> None:
    dossiers = decide("dossiers", [finding("dossiers", "time_format", QUARANTINE, ["A", "B"]),
                                   finding("dossiers", "fee_non_negative", WARN, ["C"])], 100, 3)
    fb = decide("feedback", [], 10, 3)
    results = {"dossiers": gx_result("dossiers", {"time_format": (2, 100, ["2023-11-01 08:00"]),
                                                  "fee_non_negative": (1, 100, [-5])}),
               "feedback": gx_result("feedback", {}, ("schema",))}
    html = render_page(summary_of([dossiers, fb], blocked=False), results)
    assert "Passed with 2 quarantined" in html and "BLOCKED" not in html
    assert '<a href="quarantine/dossiers.parquet">' in html and "<li>A</li>" in html and "<li>B</li>" in html
    assert "warned (kept)" in html and "<li>C</li>" in html
    assert "Not checked yet: the metrics step checks the figures" in html

    clean = render_page(summary_of([decide("dossiers", [], 10, 3), decide("feedback", [], 10, 3)], blocked=False),
                        {"dossiers": gx_result("dossiers", {}, ("schema",)), "feedback": gx_result("feedback", {})})
    assert ">Passed</p>" in clean and "quarantine/" not in clean


def test_long_id_lists_are_capped_with_the_count_and_the_full_list_named() -> None:
    blocked_ids = [f"X-{i:05d}" for i in range(1500)]
    quarantined_ids = [f"Q-{i:04d}" for i in range(250)]
    dossiers = decide("dossiers", [finding("dossiers", "id_unique", BLOCK, blocked_ids)], 9000, 90)
    fb = decide("feedback", [finding("feedback", "time_format", QUARANTINE, quarantined_ids)], 30000, 300)
    summary = summary_of([dossiers, fb], blocked=True)
    assert summary["sources"]["dossiers"]["findings"][0]["ids_truncated"]  # summary.json keeps 1000 per finding
    html = render_page(summary, {})
    assert f"{1500 - SHOWN_IDS} more not shown; the full list is in dossiers.json" in html
    assert f"{250 - SHOWN_IDS} more not shown; the full list is in summary.json" in html
    assert "<li>X-00199</li>" in html and "X-00200" not in html
    assert "1500 dossier(s)" in html and "250 feedback item(s)" in html


def test_records_rejected_at_extraction_are_listed_by_id_and_field() -> None:
    rejected = finding("dossiers", "field_types", QUARANTINE, ["H19.22-1", "H19.22-2"],
                       expectations=["MaDonVi: expected string, got object"],
                       observed=["MaDonVi: expected string, got object: 2 record(s)"],
                       id_notes={"H19.22-1": "MaDonVi: expected string, got object",
                                 "H19.22-2": "MaDonVi: expected string, got object; KenhThucHien: expected integer, "
                                             "got string"})
    summary = summary_of([decide("dossiers", [rejected], 12, 3)], blocked=False)
    summary["quarantine"] = {}  # none of them were landed: no quarantine file
    summary["rejected"] = {"dossiers": 2}
    html = render_page(summary, {"dossiers": gx_result("dossiers", {})})
    assert "<li>H19.22-1: MaDonVi: expected string, got object</li>" in html
    assert "KenhThucHien: expected integer, got string" in html
    assert "12 dossier(s) (10 landed, 2 set aside at extraction" in html
    assert "2 had a field of the wrong JSON type and" in html and "quarantine/dossiers.parquet" not in html


def test_source_values_are_escaped_and_nothing_runs() -> None:
    hostile = [SCRIPT_ID, IMG_VALUE]
    dossiers = decide("dossiers", [finding("dossiers", "unit_in_district", BLOCK, hostile,
                                           observed=[f"observed {IMG_VALUE}"])], 10, 3)
    results = {"dossiers": gx_result("dossiers", {"unit_in_district": (2, 10, [SCRIPT_ID, IMG_VALUE])})}
    html = render_page(summary_of([dossiers], blocked=True, name="Huyện <b>Tháp</b> Mười"), results)

    tags = [tag for tag, _ in start_tags(html)]
    assert "script" not in tags and "img" not in tags and "b" not in tags
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert not any(name.startswith("on") for _, attrs in start_tags(html) for name in attrs)


def test_the_page_is_self_contained() -> None:
    summary, results = blocked_case()
    html = render_page(summary, results)
    tags = start_tags(html)
    assert tags[0] == ("html", {"lang": "en"})
    metas = [attrs for tag, attrs in tags if tag == "meta"]
    assert {"charset": "utf-8"} in metas
    assert {"http-equiv": "Content-Security-Policy", "content": CSP} in metas
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    hrefs = [attrs["href"] for tag, attrs in tags if "href" in attrs]
    assert set(hrefs) >= {"dossiers.json", "feedback.json", "summary.json", "quarantine/feedback.parquet"}
    assert all(":" not in href and not href.startswith(("/", "..")) for href in hrefs)
    assert not [attrs for _, attrs in tags if {"src", "srcset"} & set(attrs)]
    assert "http://" not in html and "https://" not in html and "url(" not in html and "@import" not in html


def test_writing_the_page_replaces_the_old_data_docs(tmp_path: Path) -> None:
    old = tmp_path / "data_docs" / "static"
    old.mkdir(parents=True)
    (old / "bootstrap.css").write_text("from a CDN")
    summary, results = blocked_case()
    path = write_page(QualityFiles(tmp_path), summary, results)
    assert path == tmp_path / "index.html" and "BLOCKED" in path.read_text(encoding="utf-8")
    assert not (tmp_path / "data_docs").exists()


def test_every_page_of_a_gate_run_is_self_contained(gate_root: tuple[Path, dict[str, Path]]) -> None:
    root, folders = gate_root
    pages, problems = scan_html(root)
    assert pages == [folders["872"] / "index.html", folders["874"] / "index.html"]  # 874's old Data Docs are gone
    assert problems == []


def test_a_gate_run_page_shows_the_blocked_and_the_quarantined(gate_root: tuple[Path, dict[str, Path]]) -> None:
    _, folders = gate_root
    blocked = page_text(folders["874"])
    summary = json.loads((folders["874"] / "summary.json").read_text(encoding="utf-8"))
    assert summary["results_page"] == str(folders["874"] / "index.html")
    assert "BLOCKED" in blocked and "Huyện Thanh Bình (874)" in blocked
    assert "dossiers.finished_has_due_date" in blocked and "<li>NO-DUE-0</li>" in blocked
    assert "feedback.status_in_set" in blocked and "<li>PB-BAD</li>" in blocked
    assert "quarantine/feedback.parquet" in blocked

    passed = page_text(folders["872"])
    assert "Passed with 3 quarantined" in passed and 'href="metrics.json"' in passed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in passed  # a hostile dossier id, quarantined
    assert "&gt;&lt;img src=x onerror=alert(2)&gt;" in passed  # a hostile unit code, in the unexpected values
    tags = [tag for tag, _ in start_tags(passed)]
    assert "script" not in tags and "img" not in tags
