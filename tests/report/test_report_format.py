"""Every rule of the "Format" section of report.md (Decree 30/2020/ND-CP), checked on the rendered model report.

Properties are read as Word resolves them: the run, then the paragraph's style and the styles it
is based on, then the document defaults. A rule checked on the template's styles alone would miss
direct formatting added by a clerk in Word.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Length, Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from model_data import required

from tthc.report import convert_to_pdf

FONT = "Times New Roman"
EMU_PER_MM = 36000
TWIP = Length(635)
LIBERATION = Path("/usr/share/fonts/truetype/liberation")


@pytest.fixture(scope="module")
def document(model_docx):
    return docx.Document(model_docx)


# --------------------------------------------------------------------------------------------- resolution


def _defaults(document) -> dict:
    rpr = document.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    size = rpr.find(qn("w:sz"))
    fonts = rpr.find(qn("w:rFonts"))
    return {
        "size": Pt(int(size.get(qn("w:val"))) / 2) if size is not None else Pt(10),
        "name": fonts.get(qn("w:ascii")) if fonts is not None else None,
        "bold": False,
        "italic": False,
    }


def font(paragraph: Paragraph, attr: str, run=None):
    """The effective font property of a run (or of all text runs of the paragraph, which must agree)."""
    if run is None:
        values = {font(paragraph, attr, r) for r in paragraph.runs if r.text.strip()}
        assert len(values) == 1, f"{paragraph.text!r}: runs differ in {attr}: {values}"
        return values.pop()
    value = getattr(run.font, attr)
    style = paragraph.style
    while value is None and style is not None:
        value = getattr(style.font, attr)
        style = style.base_style
    return _defaults(paragraph.part.document)[attr] if value is None else value


def fmt(paragraph: Paragraph, attr: str):
    """The effective paragraph property (direct formatting, then the style chain)."""
    value = getattr(paragraph.paragraph_format, attr)
    style = paragraph.style
    while value is None and style is not None:
        value = getattr(style.paragraph_format, attr)
        style = style.base_style
    return value


def pt(paragraph: Paragraph) -> float:
    return font(paragraph, "size").pt


def texts(paragraphs) -> list[Paragraph]:
    return [p for p in paragraphs if p.text.strip()]


def is_rule(paragraph: Paragraph) -> bool:
    borders = paragraph._p.pPr.find(qn("w:pBdr")) if paragraph._p.pPr is not None else None
    bottom = borders.find(qn("w:bottom")) if borders is not None else None
    return not paragraph.text.strip() and bottom is not None and bottom.get(qn("w:val")) == "single"


def rule_mm(paragraph: Paragraph, container_mm: float) -> float:
    left = fmt(paragraph, "left_indent") or Length(0)
    right = fmt(paragraph, "right_indent") or Length(0)
    return container_mm - (left + right) / EMU_PER_MM


def following(paragraphs: list[Paragraph], paragraph: Paragraph, step: int = 1) -> Paragraph:
    """The paragraph ``step`` after ``paragraph`` (python-docx makes a new proxy object on each access)."""
    index = next(i for i, p in enumerate(paragraphs) if p._p is paragraph._p)
    return paragraphs[index + step]


def cell_mm(cell) -> float:
    return cell.width / EMU_PER_MM


def text_mm(document) -> float:
    section = document.sections[0]
    return (section.page_width - section.left_margin - section.right_margin) / EMU_PER_MM


def all_paragraphs(container):
    """Paragraphs in document order, descending into tables."""
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                for cell in row.cells:
                    yield from all_paragraphs(cell)
        else:
            yield block


def heading_table(document) -> Table:
    return document.tables[0]


def signature_table(document) -> Table:
    return next(t for t in document.tables if t.rows[0].cells[0].paragraphs[0].text == "Nơi nhận:")


def body_paragraphs(document) -> list[Paragraph]:
    """The top-level paragraphs from the opening paragraph to the closing sentence."""
    body = [p for p in document.paragraphs if p.text.strip()]
    start = next(i for i, p in enumerate(body) if p.text.startswith("Thực hiện "))
    end = next(i for i, p in enumerate(body) if p.text.startswith("Trên đây là Báo cáo"))
    return body[start : end + 1]


# ------------------------------------------------------------------------------------------------- page


def test_a4_portrait_and_margins(document):
    for section in document.sections:
        assert abs(section.page_width - Mm(210)) < Mm(0.5) and abs(section.page_height - Mm(297)) < Mm(0.5)
        assert section.page_height > section.page_width
        # Word stores margins in twips (1/1440 in): 15 mm is 850 twips, 0.007 mm short; allow one twip.
        for margin, low, high in ((section.top_margin, 20, 25), (section.bottom_margin, 20, 25),
                                  (section.left_margin, 30, 35), (section.right_margin, 15, 20)):
            assert Mm(low) - TWIP <= margin <= Mm(high) + TWIP


def test_times_new_roman_throughout_and_black(document, model_docx):
    for paragraph in all_paragraphs(document):
        for run in paragraph.runs:
            if run.text.strip():
                assert font(paragraph, "name", run) == FONT, paragraph.text
    for section in document.sections:
        for header in (section.header, section.first_page_header):
            for paragraph in header.paragraphs:
                for run in paragraph.runs:
                    assert font(paragraph, "name", run) == FONT
    # No theme font or colour anywhere: a theme attribute wins over the explicit Times New Roman/black.
    parts = [document.styles.element, document.element]
    parts += [h._element for s in document.sections for h in (s.header, s.first_page_header)]
    for part in parts:
        for fonts in part.iter(qn("w:rFonts")):
            assert not [a for a in fonts.attrib if a.endswith("Theme") or a.endswith("theme")], fonts.attrib
            assert {fonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "cs", "eastAsia")} <= {FONT, None}
        for color in part.iter(qn("w:color")):
            assert color.get(qn("w:val")) in ("000000", "auto") and color.get(qn("w:themeColor")) is None


def test_spaces_are_kept(document):
    """The blank number and day are runs of spaces: Word keeps them only with xml:space="preserve"."""
    parts = [document.element, *(s.header._element for s in document.sections)]
    for part in parts:
        for text in part.iter(qn("w:t")):
            value = text.text or ""
            if "  " in value or value != value.strip():
                assert text.get(qn("xml:space")) == "preserve", value


def test_text_is_nfc(document):
    everything = [p.text for p in all_paragraphs(document)]
    everything += [p.text for s in document.sections for p in s.header.paragraphs]
    for text in everything:
        assert unicodedata.is_normalized("NFC", text), text


# ------------------------------------------------------------------------------------------------ header


def test_heading_table_is_borderless_with_two_rules(document):
    table = heading_table(document)
    assert len(table.columns) == 2
    borders = table._tbl.tblPr.find(qn("w:tblBorders"))
    assert borders is not None
    assert {edge.get(qn("w:val")) for edge in borders} <= {"nil", "none"}
    assert len(list(borders)) == 6
    assert not list(table._tbl.iter(qn("w:tcBorders")))
    style = table._tbl.tblPr.find(qn("w:tblStyle"))
    assert style is None or document.styles.element.find(
        f".//w:style[@w:styleId='{style.get(qn('w:val'))}']//w:tblBorders", namespaces=document.styles.element.nsmap
    ) is None
    left, right = table.rows[0].cells
    assert [is_rule(p) for p in left.paragraphs].count(True) == 1
    assert [is_rule(p) for p in right.paragraphs].count(True) == 1


def test_issuing_body(document):
    left = heading_table(document).rows[0].cells[0]
    lines = texts(left.paragraphs)
    assert [p.text for p in lines[:2]] == ["ỦY BAN NHÂN DÂN", "HUYỆN THÁP MƯỜI"]
    for paragraph in lines[:2]:
        assert paragraph.text == paragraph.text.upper()
        assert 12 <= pt(paragraph) <= 13 and font(paragraph, "bold") is True
        assert fmt(paragraph, "alignment") == WD_ALIGN_PARAGRAPH.CENTER
    rule = next(p for p in left.paragraphs if is_rule(p))
    assert following(left.paragraphs, lines[1])._p is rule._p  # right under the name
    assert 0 < rule_mm(rule, cell_mm(left)) < cell_mm(left) / 2


def test_number_line_blank_and_upright(document):
    left = heading_table(document).rows[0].cells[0]
    number = next(p for p in left.paragraphs if p.text.startswith("Số:"))
    assert re.fullmatch(r"Số:\s{3,}/BC-UBND", number.text), number.text  # the number stays blank
    assert pt(number) == 13 and not font(number, "italic")


def test_national_title_motto_and_date(document):
    right = heading_table(document).rows[0].cells[1]
    title, motto, place = texts(right.paragraphs)
    assert title.text == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert 12 <= pt(title) <= 13 and font(title, "bold") is True
    assert motto.text == "Độc lập - Tự do - Hạnh phúc"
    assert 13 <= pt(motto) <= 14 and font(motto, "bold") is True
    assert fmt(motto, "alignment") == fmt(title, "alignment") == WD_ALIGN_PARAGRAPH.CENTER
    assert is_rule(following(right.paragraphs, motto))
    assert re.fullmatch(r"Tháp Mười, ngày\s{3,}tháng 11 năm 2023", place.text), place.text  # the day stays blank
    assert 13 <= pt(place) <= 14 and font(place, "italic") is True


def test_document_type_and_subject(document):
    body = document.paragraphs
    kind = next(p for p in body if p.text == "BÁO CÁO")
    subject = following(body, kind)
    assert subject.text.startswith("Công tác triển khai thực hiện Công điện 644/CĐ-TTg")
    for paragraph in (kind, subject):
        assert 13 <= pt(paragraph) <= 14 and font(paragraph, "bold") is True
        assert fmt(paragraph, "alignment") == WD_ALIGN_PARAGRAPH.CENTER
    rule = following(body, kind, 2)
    assert is_rule(rule) and 0 < rule_mm(rule, text_mm(document)) <= text_mm(document) / 2


# -------------------------------------------------------------------------------------------------- body


def test_body_paragraphs(document):
    paragraphs = body_paragraphs(document)
    assert len(paragraphs) >= 10
    for paragraph in paragraphs:
        assert 13 <= pt(paragraph) <= 14, paragraph.text
        assert fmt(paragraph, "alignment") == WD_ALIGN_PARAGRAPH.JUSTIFY, paragraph.text
        assert Mm(10) <= fmt(paragraph, "first_line_indent") <= Mm(12.7), paragraph.text
        after, before = fmt(paragraph, "space_after") or 0, fmt(paragraph, "space_before") or 0
        assert max(after, before) >= Pt(6), paragraph.text
        spacing = fmt(paragraph, "line_spacing")
        if isinstance(spacing, Length):  # exact or at-least spacing, in points
            assert Pt(pt(paragraph)) <= spacing <= Pt(pt(paragraph) * 1.5 * 1.2)
        else:
            assert 1.0 <= (spacing or 1.0) <= 1.5


# ----------------------------------------------------------------------------------- recipients, signature


def test_recipients_block(document):
    left = signature_table(document).rows[0].cells[0]
    title, *items = texts(left.paragraphs)
    assert title.text == "Nơi nhận:"
    assert pt(title) == 12 and font(title, "bold") is True and font(title, "italic") is True
    assert len(items) >= 2
    for item in items:
        assert pt(item) == 11 and not font(item, "bold")
        assert item.text.startswith("- ")
    assert all(item.text.endswith(";") for item in items[:-1])
    assert items[-1].text.startswith("- Lưu:") and items[-1].text.endswith(".")


def test_signature_block(document):
    right = signature_table(document).rows[0].cells[1]
    prefix, capacity, name = texts(right.paragraphs)
    assert (prefix.text, capacity.text, name.text) == ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Đoàn Thanh Bình")
    for paragraph in (prefix, capacity):
        assert paragraph.text == paragraph.text.upper()
    for paragraph in (prefix, capacity, name):
        assert 13 <= pt(paragraph) <= 14 and font(paragraph, "bold") is True
    table = signature_table(document)
    assert {e.get(qn("w:val")) for e in table._tbl.tblPr.find(qn("w:tblBorders"))} <= {"nil", "none"}


# ------------------------------------------------------------------------------------------ page numbers


def _has_page_field(part) -> bool:
    instructions = "".join(t.text or "" for t in part.iter(qn("w:instrText")))
    simple = [f.get(qn("w:instr")) or "" for f in part.iter(qn("w:fldSimple"))]
    return "PAGE" in instructions or any("PAGE" in s for s in simple)


def test_page_numbers_in_the_header_from_page_two(document):
    for section in document.sections:
        assert section.different_first_page_header_footer is True  # the first page has its own header
        assert not section.header.is_linked_to_previous
        assert _has_page_field(section.header._element)
        numbered = [p for p in section.header.paragraphs if _has_page_field(p._p)]
        assert numbered and all(fmt(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER for p in numbered)
        first = section.first_page_header
        assert not first.is_linked_to_previous
        assert not _has_page_field(first._element) and not "".join(p.text for p in first.paragraphs).strip()
        number_type = section._sectPr.find(qn("w:pgNumType"))
        assert number_type is None or number_type.get(qn("w:fmt")) in (None, "decimal")  # Arabic
        assert section.header_distance < section.top_margin  # in the top margin
        assert not _has_page_field(section.footer._element) if section.footer._has_definition else True


def test_annex_on_a_new_page(document):
    annex = next(p for p in document.paragraphs if p.text == "Phụ lục")
    assert fmt(annex, "page_break_before") is True


# ------------------------------------------------------------------------------------- measured with fonts


def _width_mm(text: str, path: Path, size_pt: float) -> float:
    from fontTools.ttLib import TTFont

    face = TTFont(str(path))
    cmap, metrics, units = face.getBestCmap(), face["hmtx"], face["head"].unitsPerEm
    total = 0
    for char in text:
        glyph = cmap.get(ord(char)) or cmap[ord(unicodedata.normalize("NFD", char)[0])]  # old Liberation lacks Ộ
        total += metrics[glyph][0]
    return total / units * size_pt * 25.4 / 72


def test_rule_lengths_against_the_text_they_underline(document, config):
    """Motto rule as long as the motto; issuing-body rule 1/3 to 1/2 of its widest line, for every district.

    Measured with Liberation Serif, which has the advance widths of Times New Roman.
    """
    bold = LIBERATION / "LiberationSerif-Bold.ttf"
    try:
        import fontTools  # noqa: F401
    except ImportError:
        required("fontTools is not installed (it comes with matplotlib)")
    if not bold.is_file():
        required(f"{bold} is missing: apt-get install fonts-liberation")
    left, right = heading_table(document).rows[0].cells
    motto = next(p for p in right.paragraphs if p.text.startswith("Độc lập"))
    motto_rule = following(right.paragraphs, motto)
    motto_mm = _width_mm(motto.text, bold, pt(motto))
    assert abs(rule_mm(motto_rule, cell_mm(right)) - motto_mm) <= 0.05 * motto_mm
    title = texts(right.paragraphs)[0]
    assert _width_mm(title.text, bold, pt(title)) < cell_mm(right)  # the national title fits on one line
    body_rule = next(p for p in left.paragraphs if is_rule(p))
    size = pt(texts(left.paragraphs)[0])
    for unit in config.hierarchy_for("2023-11").reporting_units:
        widest = max(_width_mm(line, bold, size) for line in ("ỦY BAN NHÂN DÂN", unit.name.upper()))
        assert widest < cell_mm(left), unit.name
        assert widest / 3 <= rule_mm(body_rule, cell_mm(left)) <= widest / 2, unit.name


# ----------------------------------------------------------------------------------------------- the PDF


def test_pdf_has_page_numbers_from_page_two(model_docx, soffice, tmp_path):
    if shutil.which("pdftotext") is None:
        required("pdftotext is not installed: apt-get install poppler-utils")
    source = tmp_path / model_docx.name
    shutil.copyfile(model_docx, source)
    pdf = convert_to_pdf(source)
    assert pdf == source.with_suffix(".pdf") and pdf.read_bytes().startswith(b"%PDF")
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    pages = pages.stdout.split("\f")
    pages = [[line.strip() for line in page.splitlines() if line.strip()] for page in pages if page.strip()]
    assert len(pages) >= 3
    assert pages[0][0] != "1" and "ỦY BAN NHÂN DÂN" in pages[0][0]  # no number on the first page
    for number, page in enumerate(pages[1:], start=2):
        assert page[0] == str(number)
    annex = next(page for page in pages if "Phụ lục" in page)
    assert annex[1] == "Phụ lục"  # the annex starts its page, right under the page number
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info
