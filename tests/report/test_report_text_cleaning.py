"""Operator text reaches the signed letter without control, bidi or invisible characters, and never silently.

Also the report set as ``write_report`` publishes it: a failed PDF conversion keeps the earlier set,
and a PDF left without its .docx is removed by the next write.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from model_data import MODEL_FEEDBACK, PERIOD, TEMPLATE, model_rows
from test_report_pdf import fake_soffice

from tthc import pipeline, report, warehouse
from tthc.district_month import DistrictMonth
from tthc.inputs import OperatorInputs, load_inputs
from tthc.report import build_context, render_report
from tthc.text import clean_text, clean_tree, unwanted_characters

FORBIDDEN = ("\x0c", "\u202e", "\u2066", "\x00", "\t")
# Each operator text field, dirty (a form feed, U+202E, U+2066, a NUL and a tab) and as it must reach the letter.
FIELDS = {
    "inspections.findings": ("Phát hiện\f01 trường hợp \u202eyêu cầu\u2066 thêm giấy tờ\x00;\tđã xử lý.",
                             "Phát hiện 01 trường hợp yêu cầu thêm giấy tờ; đã xử lý."),
    "resources": ("Các nguồn lực\tcho công tác\fkiểm soát \u202ethủ tục\u2066 hành chính\x00 được bảo đảm.",
                  "Các nguồn lực cho công tác kiểm soát thủ tục hành chính được bảo đảm."),
    "assessment[0]": ("Ủy ban\fnhân dân \u202ehuyện\u2066 đã chỉ đạo\x00\tquyết liệt.",
                      "Ủy ban nhân dân huyện đã chỉ đạo quyết liệt."),
    "assessment[1]": ("Dòng một\ndòng\thai\u2069.", "Dòng một\ndòng hai."),
    "shortcomings[0]": ("Một số\fxã \u202echưa\u2066 cập nhật\x00\tkịp thời", "Một số xã chưa cập nhật kịp thời"),
}


def raw_inputs(which: int) -> dict[str, Any]:
    """The fields as a file or run parameter gives them: ``which`` 0 is the dirty text, 1 the clean one."""
    text = {field: pair[which] for field, pair in FIELDS.items()}
    return {"inspections": {"count": 2, "violations": 1, "findings": text["inspections.findings"]},
            "resources": text["resources"], "assessment": [text["assessment[0]"], text["assessment[1]"]],
            "shortcomings": [text["shortcomings[0]"]]}


def document_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as package:
        return package.read("word/document.xml").decode("utf-8")


def page_breaks(xml: str) -> int:
    return len(re.findall(r'<w:br [^>]*w:type="page"', xml))


def assert_clean_letter(xml: str) -> None:
    assert not [char for char in FORBIDDEN if char in xml]
    assert page_breaks(xml) == page_breaks(document_xml(TEMPLATE))
    assert "Các nguồn lực cho công tác kiểm soát thủ tục hành chính được bảo đảm." in xml


@pytest.mark.parametrize(("dirty", "clean"), [
    ("a\fb", "a b"), ("a\tb", "a b"), ("a\u000bb", "a b"), ("a\x00b", "ab"), ("a\x07b", "ab"), ("a\x1bb", "ab"),
    ("a\x7fb", "ab"), ("a\x85b", "a\nb"), ("a\x9bb", "ab"), ("a\u202ab\u202bc\u202cd\u202de\u202ef", "abcdef"),
    ("a\u2066b\u2067c\u2068d\u2069e", "abcde"), ("a\u200eb\u200fc\u061cd", "abcd"), ("a\u200bb\u200cc\u200dd", "abcd"),
    ("\ufeffa\u2060b\u00adc", "abc"), ("a\u2028b\u2029c", "a\nb\nc"), ("a\ufffeb\uffffc\ufdd0d", "abcd"),
])  # fmt: skip
def test_clean_text_removes_or_replaces_and_says_so(dirty: str, clean: str) -> None:
    assert clean_text(dirty) == (clean, True)
    assert unwanted_characters(dirty)


@pytest.mark.parametrize("text", ["Thủ tục hành chính", "dòng một\ndòng hai", "100%; 50 000 đồng", ""])
def test_ordinary_text_and_newlines_are_not_cleaning(text: str) -> None:
    assert clean_text(text) == (text, False)
    assert clean_text(text.replace("\n", "\r\n")) == (text, False)  # a browser form's line ending
    decomposed = "Thu\u0309 tu\u0323c"  # typed with a combining input method: NFC, and no warning
    assert clean_text(decomposed) == ("Thủ tục", False)


def test_clean_tree_names_the_paths_for_the_configuration() -> None:
    tree = {"report_defaults": {"recipient": "Sở\u202e Nội vụ", "distribution": ["Như trên", "Lưu:\tVT"]}, "n": 1}
    cleaned, paths = clean_tree(tree)
    assert cleaned == {"report_defaults": {"recipient": "Sở Nội vụ", "distribution": ["Như trên", "Lưu: VT"]}, "n": 1}
    assert paths == ["report_defaults.recipient", "report_defaults.distribution[1]"]


def test_operator_file_text_is_cleaned_with_a_warning_per_field(config, unit, tmp_path: Path) -> None:
    path = tmp_path / PERIOD.name / f"{unit.code}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(raw_inputs(0)), encoding="utf-8")  # JSON is YAML; escapes carry \f and \0
    dirty, warnings = load_inputs(tmp_path, PERIOD.name, unit.code)
    assert dirty == OperatorInputs.model_validate(raw_inputs(1))
    for field in FIELDS:
        assert any(f"{path}: field {field} contained" in w for w in warnings), field
    assert any("U+202E RIGHT-TO-LEFT OVERRIDE" in w and "U+000C FORM FEED" in w for w in warnings)
    assert len(warnings) == len(FIELDS)

    def rendered(inputs: OperatorInputs, name: str) -> str:
        context, _ = build_context(unit=unit, province=config.hierarchy_for("2023-11").province,
                                   settings=config.report_settings(unit.code, PERIOD.name), targets=config.targets,
                                   period=PERIOD, dossier_rows=model_rows(config), feedback=dict(MODEL_FEEDBACK),
                                   inputs=inputs)
        return document_xml(render_report(TEMPLATE, context, tmp_path / name))

    xml = rendered(dirty, "dirty.docx")
    assert_clean_letter(xml)
    assert xml == rendered(OperatorInputs.model_validate(raw_inputs(1)), "clean.docx")
    assert "Dòng một</w:t><w:br/>" in xml  # a newline is still a line break


@pytest.fixture
def stored(config, unit, tmp_path: Path) -> tuple[Path, str]:
    """A data root whose warehouse holds the model rows, with the evidence of the same computation."""
    root, url = tmp_path / "data", f"sqlite:///{tmp_path / 'warehouse.db'}"
    rows = model_rows(config)
    with warehouse.connected(url) as engine:
        warehouse.replace_period(engine, PERIOD.name, unit.code, rows, dict(MODEL_FEEDBACK), "run-1")
    evidence = {"run_id": "run-1", "dossier_metrics": rows, "feedback_metrics": MODEL_FEEDBACK}
    path = DistrictMonth(config, PERIOD, unit, root, url).files.evidence
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(evidence, default=str), encoding="utf-8")
    return root, url


def test_run_parameter_text_is_cleaned_with_a_warning_per_field(config, unit, stored, monkeypatch) -> None:
    monkeypatch.setattr(report.pdf, "find_soffice", lambda: None)
    month = DistrictMonth(config, PERIOD, unit, *stored)
    out = pipeline.write_report(month, input_params=raw_inputs(0))
    for field in FIELDS:
        assert any(f"given in the trigger form: field {field} contained" in w for w in out["warnings"]), field
    assert_clean_letter(document_xml(Path(out["path"])))
    assert out["pdf"] is None


def test_failed_conversion_keeps_the_earlier_set(config, unit, stored, tmp_path, monkeypatch) -> None:
    month = DistrictMonth(config, PERIOD, unit, *stored)
    fake_soffice(tmp_path / "ok", monkeypatch, 'out=; while [ "$#" -gt 1 ]; do [ "$1" = --outdir ] && out=$2; '
                 'shift; done; mkdir -p "$out"; printf "%%PDF-fake" > "$out/$(basename "$1" .docx).pdf"')
    first = pipeline.write_report(month)
    files = month.files.report_set
    before = {kind: path.read_bytes() for kind, path in files.items()}
    assert before["pdf"] == b"%PDF-fake" and first["pdf"] == str(files["pdf"])

    fake_soffice(tmp_path / "broken", monkeypatch, "echo 'Error: source file could not be loaded' >&2; exit 1")
    with pytest.raises(RuntimeError, match="could not be loaded"):
        pipeline.write_report(month, input_params={"resources": "Một câu khác."})
    assert {kind: path.read_bytes() for kind, path in files.items()} == before


def test_a_pdf_left_without_its_docx_is_removed_by_the_next_write(config, unit, stored, monkeypatch) -> None:
    monkeypatch.setattr(report.pdf, "find_soffice", lambda: None)
    month = DistrictMonth(config, PERIOD, unit, *stored)
    files = month.files.report_set
    files["pdf"].parent.mkdir(parents=True)
    files["pdf"].write_bytes(b"%PDF- of an interrupted write")
    (files["pdf"].parent / f".{files['docx'].name}.tmp-0123").write_bytes(b"half a docx")
    (files["pdf"].parent / "run-summary.json").write_text('{"reports": ["an earlier run"]}')
    pipeline.write_report(month)
    assert sorted(p.name for p in files["pdf"].parent.iterdir()) == sorted([files["docx"].name,
                                                                            files["evidence"].name])


def test_rows_of_another_computation_are_refused(config, unit, stored) -> None:
    month = DistrictMonth(config, PERIOD, unit, *stored)
    path = month.files.evidence
    evidence = json.loads(path.read_text(encoding="utf-8"))
    evidence["feedback_metrics"]["feedback_received"] = 6
    path.write_text(json.dumps(evidence), encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"different computations .*feedback_received"):
        pipeline.write_report(month)
    assert not any(p.exists() for p in month.files.report_set.values())
