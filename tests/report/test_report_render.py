"""Rendering: the template's variables, escaping, determinism, strictness, atomic writes."""

import io
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from jinja2 import UndefinedError
from model_data import MODEL_FEEDBACK, PERIOD, ROOT, TEMPLATE, model_rows

from tthc.inputs import load_inputs
from tthc.report import build_context, render_report


def all_text(path) -> str:
    document = docx.Document(path)
    parts = [t.text or "" for t in document.element.body.iter(qn("w:t"))]
    for section in document.sections:
        for header in (section.header, section.first_page_header):
            parts += [t.text or "" for t in header._element.iter(qn("w:t"))]
    return "".join(parts)


def test_every_nested_placeholder_resolves(model_docx):
    # render_report uses StrictUndefined: reaching here means no placeholder named a missing key.
    text = all_text(model_docx)
    assert "{{" not in text and "{%" not in text and "}}" not in text


def test_unknown_placeholder_fails_instead_of_printing_a_blank(tmp_path, model_context):
    template = tmp_path / "typo.docx"
    document = docx.Document()
    document.add_paragraph("Ủy ban nhân dân {{ unit.nmae }}")
    document.save(template)
    with pytest.raises(UndefinedError):
        render_report(template, model_context[0], tmp_path / "out.docx")
    assert not (tmp_path / "out.docx").exists()
    assert list(tmp_path.iterdir()) == [template]  # no temporary file left beside


def test_markup_characters_in_config_values_are_escaped(config, unit, tmp_path):
    settings = config.report_settings(unit.code, PERIOD.name).model_copy(
        update={
            "recipient": "Sở <Nội vụ> & Văn phòng \"UBND\" tỉnh",
            "distribution": ["Như trên", "LĐVP.HĐND&UBND huyện", "Phòng <Tư pháp>"],
            "archive": "VT, A&B <s>",
            "inspection_lead": "Phòng Nội vụ & Thanh tra",
        }
    )
    inputs, _ = load_inputs(config.inputs_path, PERIOD.name, unit.code)
    context, _ = build_context(
        unit=unit, province=config.hierarchy_for(PERIOD).province,
        settings=settings, targets=config.targets, period=PERIOD,
        dossier_rows=model_rows(config), feedback=dict(MODEL_FEEDBACK), inputs=inputs,
    )  # fmt: skip
    out = render_report(TEMPLATE, context, tmp_path / "escaped.docx")
    text = all_text(out)  # python-docx parses every part: a raw "&" or "<" would fail here
    for value in ('Kính gửi: Sở <Nội vụ> & Văn phòng "UBND" tỉnh', "- LĐVP.HĐND&UBND huyện;",
                  "- Phòng <Tư pháp>;", "- Lưu: VT, A&B <s>.", "Giao Phòng Nội vụ & Thanh tra làm"):
        assert value in text


def test_same_inputs_give_byte_identical_files(model_context, config, unit, tmp_path):
    first = render_report(TEMPLATE, model_context[0], tmp_path / "a.docx").read_bytes()
    # A context built again from scratch, chart included, gives the same bytes.
    inputs, _ = load_inputs(config.inputs_path, PERIOD.name, unit.code)
    again, _ = build_context(
        unit=unit, province=config.hierarchy_for(PERIOD).province,
        settings=config.report_settings(unit.code, PERIOD.name),
        targets=config.targets, period=PERIOD, dossier_rows=model_rows(config), feedback=dict(MODEL_FEEDBACK),
        inputs=inputs,
    )  # fmt: skip
    assert again["chart"] == model_context[0]["chart"]
    second = render_report(TEMPLATE, again, tmp_path / "b.docx").read_bytes()
    assert first == second


def test_document_properties_and_zip_entries_are_fixed(model_docx):
    with zipfile.ZipFile(model_docx) as package:
        assert {info.date_time for info in package.infolist()} == {(2023, 11, 15, 0, 0, 0)}
        names = package.namelist()
        assert names[0] == "[Content_Types].xml"
        assert any(name.startswith("word/media/") and name.endswith(".png") for name in names)
        png = package.read(next(n for n in names if n.startswith("word/media/")))
    assert b"tIME" not in png and b"Software" not in png  # no timestamp or version in the chart
    props = docx.Document(model_docx).core_properties
    assert props.created == props.modified == props.last_printed == datetime(2023, 11, 15, tzinfo=UTC)
    assert props.author == "Ủy ban nhân dân huyện Tháp Mười" and props.revision == 1
    assert props.title == "Báo cáo tháng 11/2023 của Ủy ban nhân dân huyện Tháp Mười"


def test_rerender_replaces_the_file(model_context, tmp_path):
    out = tmp_path / "deep" / "872.docx"
    out.parent.mkdir()
    out.write_bytes(b"old, broken")
    render_report(TEMPLATE, model_context[0], out)
    assert zipfile.is_zipfile(io.BytesIO(out.read_bytes()))
    assert sorted(p.name for p in out.parent.iterdir()) == ["872.docx"]


def test_same_bytes_from_another_process(model_docx, tmp_path):
    """Another interpreter (another hash seed, as on another worker) writes the same bytes."""
    script = (
        "import sys; from pathlib import Path; from model_data import *; from tthc.config import load_config; "
        "from tthc.inputs import load_inputs; from tthc.report import build_context, render_report; "
        "c = load_config(); h = c.hierarchy_for('2023-11'); u = h.get('872'); "
        "i, _ = load_inputs(c.inputs_path, '2023-11', '872'); "
        "x, _ = build_context(unit=u, province=h.province, settings=c.report_settings('872', '2023-11'), "
        "targets=c.targets, period=PERIOD, dossier_rows=model_rows(c), feedback=dict(MODEL_FEEDBACK), inputs=i); "
        "render_report(TEMPLATE, x, Path(sys.argv[1]))"
    )
    out = tmp_path / "other.docx"
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONHASHSEED": "12345",
           "PYTHONPATH": os.pathsep.join([str(here), str(ROOT / "plugins"), str(ROOT)])}  # fmt: skip
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, cwd=tmp_path)
    assert out.read_bytes() == model_docx.read_bytes()
