"""The wording has one source a clerk can edit: the template and its phrase file.

What is checked: the template and the context agree at every depth; the template holds no logic a
clerk must read (placeholders are plain names, choices are whole paragraphs); LibreOffice opens it;
a sentence changed in Word, or a phrase changed in the phrase file, reaches the next report with no
code change; a broken phrase file stops the run naming the file, the entry and what is allowed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import docx
import pytest
import yaml
from docx.oxml.ns import qn
from docxtpl import DocxTemplate
from jinja2 import Environment, nodes
from model_data import MODEL_FEEDBACK, PERIOD, ROOT, TEMPLATE, make_row, model_rows

from tthc.config import ConfigError, Targets, load_config
from tthc.inputs import OperatorInputs
from tthc.phrases import CASES
from tthc.report import build_context, pdf_bytes, render_report

PHRASES = ROOT / "include" / "templates" / "bao-cao-thang.phrases.yaml"
# Values the context offers that the bundled template does not write: the document properties
# (``meta``), names a clerk may want in a sentence, the online-payment figures (the model
# report's sentence on online payment gives none) and the late feedback (the annex shows its two parts).
OFFERED_UNUSED = re.compile(
    r"^(meta\..*|province\..*|unit\.(code|name)|shortcomings\.online_payment\..*|annex\.feedback\.feedback_late)$")


def template_paths(path: Path) -> set[str]:
    """Every dotted name the template reads, loop variables resolved (``annex.communes[].stt``)."""
    template = DocxTemplate(str(path))
    template.init_docx()
    tree = Environment().parse(template.patch_xml(template.get_xml()))
    used: set[str] = set()

    def dotted(node: nodes.Node, aliases: dict[str, str]) -> str | None:
        if isinstance(node, nodes.Getattr):
            base = dotted(node.node, aliases)
            return None if base is None else f"{base}.{node.attr}"
        if isinstance(node, nodes.Name):
            return aliases.get(node.name, node.name)
        return None

    def visit(node: nodes.Node, aliases: dict[str, str]) -> None:
        if isinstance(node, nodes.For):
            source = dotted(node.iter, aliases)
            assert source and isinstance(node.target, nodes.Name)
            used.add(source)
            for child in node.body:
                visit(child, {**aliases, node.target.name: f"{source}[]"})
            return
        name = dotted(node, aliases) if isinstance(node, (nodes.Getattr, nodes.Name)) else None
        if name:
            used.add(name)
            return
        for child in node.iter_child_nodes():
            visit(child, aliases)

    visit(tree, {})
    return used


def context_paths(value, prefix: str = "") -> tuple[set[str], set[str]]:
    """(every path of the context, its leaves): dicts are walked, a list's items share ``[]``."""
    if isinstance(value, dict):
        paths, leaves = {prefix} if prefix else set(), set()
        for key, item in value.items():
            sub_paths, sub_leaves = context_paths(item, f"{prefix}.{key}" if prefix else key)
            paths |= sub_paths
            leaves |= sub_leaves
        return paths, leaves
    if isinstance(value, list) and value:
        paths, leaves = {prefix}, set()
        for item in value:
            sub_paths, sub_leaves = context_paths(item, f"{prefix}[]")
            paths |= sub_paths
            leaves |= sub_leaves
        return paths, leaves
    return {prefix}, {prefix}


@pytest.fixture(scope="module")
def full_context(config, unit):
    """A context where every optional part is present: history, every shortcoming, every office input."""
    rows = model_rows(config)
    for row in rows:
        if row["level"] == "tong":
            row["pending_overdue"] = 2
    feedback = {**MODEL_FEEDBACK, "feedback_late": 1, "feedback_answered_late": 1, "feedback_answered_on_time": 4,
                "feedback_about_procedures": 2}
    inputs = OperatorInputs.model_validate({
        "inspections": {"count": 2, "violations": 1, "findings": "đã nhắc nhở"}, "resources": "Đủ nguồn lực.",
        "assessment": ["Đánh giá."], "shortcomings": ["Hạn chế khác."]})
    previous = make_row("tong", "872", {k: 1 for k in ("received", "received_online", "carried_over", "resolved",
                                                       "resolved_early", "resolved_on_time", "resolved_late",
                                                       "withdrawn", "pending", "pending_overdue",
                                                       "digitized_dossiers", "digitized_results", "fee_dossiers",
                                                       "paid_online")}, period=PERIOD.previous().name)
    settings = config.report_settings(unit.code, PERIOD.name).model_copy(
        update={"inspection_plan": "Kế hoạch số 1/KH-UBND", "inspection_lead": "Phòng Nội vụ"})
    context, _ = build_context(
        unit=unit, province=config.hierarchy_for(PERIOD).province,
        settings=settings, period=PERIOD, dossier_rows=rows,
        targets=Targets(online_payment_rate=100, on_time_rate=100, dossier_digitization_rate=100.01,
                        result_digitization_rate=100),
        feedback=feedback, inputs=inputs, history=[previous])
    assert all(context["shortcomings"][key] for key in
               ("online_payment", "on_time", "dossier_digitization", "result_digitization", "feedback_late",
                "pending_overdue")), "the fixture must exercise every shortcoming"
    return context


def test_template_and_context_agree_at_every_depth(full_context):
    used = template_paths(TEMPLATE)
    paths, leaves = context_paths(full_context)
    assert used - paths == set(), "the template reads names the context does not give"
    unused = {leaf for leaf in leaves - used if not OFFERED_UNUSED.match(leaf)}
    assert unused == set(), "the context gives values no sentence of the template writes"


def paragraphs(path: Path) -> list[str]:
    document = docx.Document(str(path))
    found = [p.text for p in document.paragraphs]
    found += [p.text for table in document.tables for row in table.rows for cell in row.cells for p in cell.paragraphs]
    return found


def test_the_template_holds_plain_placeholders_and_whole_paragraph_choices():
    """No Jinja a clerk must read: ``{{ name.path }}`` in sentences, ``{%p … %}`` / ``{%tr … %}`` alone in theirs."""
    placeholder = re.compile(r"\{\{ [a-z_]+(\.[a-z_]+)* \}\}")
    control = re.compile(r"^\{%(p|tr) (if|elif|for) [^%]+ %\}$|^\{%(p|tr) (else|endif|endfor) %\}$")
    for text in paragraphs(TEMPLATE):
        if "{%" in text:
            assert control.match(text), f"a choice or loop inside a sentence: {text!r}"
            continue
        rest = placeholder.sub("", text)
        assert "{" not in rest and "}" not in rest, f"not a plain placeholder: {text!r}"


def test_libreoffice_opens_the_template(soffice):
    converted = pdf_bytes(TEMPLATE.read_bytes(), TEMPLATE.name)
    assert converted is not None and converted.startswith(b"%PDF")


def edit_in_word(source: Path, target: Path, old: str, new: str) -> None:
    """What a clerk does: change words inside a run and save; python-docx keeps the rest as it was."""
    document = docx.Document(str(source))
    runs = [run for p in document.paragraphs for run in p.runs if old in run.text]
    assert len(runs) == 1, f"{old!r} is in {len(runs)} runs"
    runs[0].text = runs[0].text.replace(old, new)
    document.save(str(target))


def report_text(context: dict, template: Path, out: Path) -> str:
    document = docx.Document(str(render_report(template, context, out)))
    return "".join(t.text or "" for t in document.element.body.iter(qn("w:t")))


def test_a_sentence_changed_in_word_reaches_the_report(model_context, tmp_path):
    edited = tmp_path / "edited.docx"
    edit_in_word(TEMPLATE, edited, "thường xuyên chỉ đạo Bộ phận Một cửa {{ unit.kind }} và",
                 "luôn chỉ đạo sát sao Bộ phận Một cửa {{ unit.kind }} và")
    text = report_text(model_context[0], edited, tmp_path / "report.docx")
    assert "UBND huyện luôn chỉ đạo sát sao Bộ phận Một cửa huyện" in text
    assert "thường xuyên chỉ đạo Bộ phận Một cửa" not in text


def test_a_placeholder_split_across_runs_by_word_still_fills(model_context, tmp_path):
    """Word splits runs where formatting changes; a placeholder cut in two must still be one placeholder."""
    document = docx.Document(str(TEMPLATE))
    paragraph = next(p for p in document.paragraphs if p.text.startswith("Kính gửi:"))
    run = paragraph.runs[0]
    head, tail = run.text.split("recipient", 1)
    run.text = head + "recip"
    extra = paragraph.add_run("ient" + tail)
    extra.bold = True
    edited = tmp_path / "split.docx"
    document.save(str(edited))
    context = model_context[0]
    assert f"Kính gửi: {context['recipient']}" in report_text(context, edited, tmp_path / "r.docx")


def config_with_phrases(tmp_path: Path, change) -> Path:
    """A configuration file like the bundled one whose phrase file is a copy changed by ``change``."""
    phrases = yaml.safe_load(PHRASES.read_text(encoding="utf-8"))
    change(phrases)
    (tmp_path / "phrases.yaml").write_text(yaml.safe_dump(phrases, allow_unicode=True), encoding="utf-8")
    raw = yaml.safe_load((ROOT / "include" / "config" / "pipeline.yaml").read_text(encoding="utf-8"))
    raw.update(include_dir=str(ROOT / "include"), phrases=str(tmp_path / "phrases.yaml"))
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_phrase_changed_in_the_phrase_file_reaches_the_report(unit, tmp_path):
    def reword(phrases):
        phrases["digitization"]["level_none"] = "chưa phát sinh hồ sơ"
        phrases["digitization"]["on_target"] = ", đạt kết quả rất tốt"

    config = load_config(config_with_phrases(tmp_path, reword))
    rows = [dict(r, dossier_digitization_rate=None) if r["level"] == "xa" else r for r in model_rows(config)]
    context, _ = build_context(unit=unit, province=config.hierarchy_for(PERIOD).province,
                               targets=config.targets, period=PERIOD,
                               settings=config.report_settings(unit.code, PERIOD.name), dossier_rows=rows,
                               feedback=dict(MODEL_FEEDBACK), inputs=None)
    text = report_text(context, config.template_path, tmp_path / "report.docx")
    assert "tập trung thực hiện, đạt kết quả rất tốt." in text
    assert "cấp huyện đạt 100%, cấp xã chưa phát sinh hồ sơ; tỷ lệ số hóa kết quả" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["change"].update(received_up="tăng {delta} hồ sơ ({so_truoc})"),
         r"change\.received_up: unknown placeholder \{so_truoc\}; this entry may use \{delta\}, \{previous\}, "
         r"\{current\}"),
        (lambda p: p["digitization"].pop("level_none"), r"section digitization: missing entry level_none"),
        (lambda p: p["hotline"].update(about_procedure="x"), r"section hotline: unknown entry about_procedure"),
        (lambda p: p.update(chu_de={}), r"unknown section\(s\) chu_de"),
        (lambda p: p["inspection"].update(count=" Trong tháng, đã tiến hành {count cuộc kiểm tra."),
         r"inspection\.count: .*write a brace that is text as \{\{ or \}\}"),
        (lambda p: p["hotline"].update(none_about_procedures=3), r"hotline\.none_about_procedures: expected text"),
    ],
)
def test_a_broken_phrase_file_stops_at_load_naming_the_entry(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(config_with_phrases(tmp_path, change))
    assert str(tmp_path / "phrases.yaml") in str(caught.value)


def test_every_case_of_the_code_is_in_the_bundled_phrase_file():
    bundled = yaml.safe_load(PHRASES.read_text(encoding="utf-8"))
    assert {section: set(cases) for section, cases in bundled.items()} == \
        {section: set(cases) for section, cases in CASES.items()}


def test_phrases_are_not_set_per_unit(tmp_path):
    raw = yaml.safe_load((ROOT / "include" / "config" / "pipeline.yaml").read_text(encoding="utf-8"))
    raw["include_dir"] = str(ROOT / "include")
    raw.setdefault("report_units", {}).setdefault("871", {})["phrases"] = {"hotline": {}}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unit 871.*phrases are not set per unit; edit the phrase file"):
        load_config(path)


def test_rates_equal_at_both_levels_share_one_phrase(config, unit):
    rows = [dict(r, result_digitization_rate=Decimal("80.00")) if r["level"] in ("huyen", "xa") else r
            for r in model_rows(config)]
    context, _ = build_context(unit=unit, province=config.hierarchy_for(PERIOD).province,
                               targets=config.targets, period=PERIOD,
                               settings=config.report_settings(unit.code, PERIOD.name), dossier_rows=rows,
                               feedback=dict(MODEL_FEEDBACK), inputs=None)
    assert context["digitization"]["result"] == "cấp huyện, cấp xã đạt tỷ lệ 80%"
