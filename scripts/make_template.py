"""Build the first version of the report template ``include/templates/bao-cao-thang.docx``.

The .docx is the source of truth after the first build: office staff change wording, spacing or
styles by opening it in Word or LibreOffice and saving it, not by editing this script. This
script only records how the first version was made (page setup and named styles after Decree
30/2020/ND-CP, the docxtpl/Jinja placeholders filled by ``tthc.report.build_context``), so that it
can be rebuilt from scratch if the file is ever lost. Running it overwrites the template and any
edit made in Word.

Usage: ``.venv/bin/python scripts/make_template.py [--out PATH]``

Placeholders: ``{{ ... }}`` writes a value, ``{% if %}...{% endif %}`` inside a paragraph picks a
wording, a paragraph holding only ``{%p ... %}`` repeats or drops the paragraphs between it and its
``{%p end... %}``, and a table row holding ``{%tr ... %}`` does the same for rows. The variables
are documented in ``tthc.report.build_context``; ``tests/report`` checks that every variable of the
template is one the context provides.
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
from tthc.report import normalise_package  # noqa: E402  (the package lives under plugins/)

BUILT = datetime(2023, 11, 1)  # fixed document dates: rebuilding gives the same file
DEFAULT_OUT = ROOT / "include" / "templates" / "bao-cao-thang.docx"

FONT = "Times New Roman"
# Decree 30/2020 page: A4 portrait, margins top/bottom 20-25 mm, left 30-35 mm, right 15-20 mm.
PAGE_W, PAGE_H = 210, 297
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 20, 20, 30, 15
TEXT_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT  # 165 mm
# Header table: the national title (12 pt bold, about 88 mm in Times New Roman) must fit the right column.
HEADER_LEFT_W, HEADER_RIGHT_W = 65, TEXT_W - 65
# Rules, measured with the metrics of Times New Roman (Liberation Serif): the motto at 13 pt bold is
# 56 mm wide; the issuing body's widest line is 43-55 mm for every district of the province, so a
# 20 mm rule is between 1/3 and 1/2 of it.
MOTTO_RULE_W = 56
BODY_RULE_W = 20
SUBJECT_RULE_W = 40
SIGN_LEFT_W, SIGN_RIGHT_W = 80, TEXT_W - 80
BLANK = "      "  # the number and the day stay blank for the clerical office


# ---------------------------------------------------------------------------------------------------- styles


# Schema order of the children we add ourselves (Word reports a file with children out of order as corrupt).
TBL_PR_ORDER = (
    "w:tblStyle", "w:tblpPr", "w:tblOverlap", "w:bidiVisual", "w:tblStyleRowBandSize", "w:tblStyleColBandSize",
    "w:tblW", "w:jc", "w:tblCellSpacing", "w:tblInd", "w:tblBorders", "w:shd", "w:tblLayout", "w:tblCellMar",
    "w:tblLook", "w:tblCaption", "w:tblDescription",
)  # fmt: skip
P_PR_ORDER = (
    "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr", "w:widowControl", "w:numPr",
    "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
    "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
    "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr",
    "w:sectPr", "w:pPrChange",
)  # fmt: skip


def _insert(parent, child, order: tuple[str, ...]) -> None:
    """Insert ``child`` where the schema wants it among ``parent``'s children."""
    tag = child.tag.replace(f"{{{child.nsmap['w']}}}", "w:")
    parent.insert_element_before(child, *order[order.index(tag) + 1 :])


def _fonts(rpr) -> None:
    """Times New Roman for every script, replacing theme fonts (a theme font would win over an explicit one)."""
    fonts = rpr.get_or_add_rFonts()
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _black(rpr) -> None:
    color = rpr.get_or_add_color()
    for attr in list(color.attrib):
        del color.attrib[attr]
    color.set(qn("w:val"), "000000")


def _normalise_styles(doc) -> None:
    """Make the document defaults and every style Times New Roman and black, so no style a clerk picks is not."""
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _fonts(rpr)
    _black(rpr)
    for tag, val in (("w:sz", "28"), ("w:szCs", "28")):
        rpr.find(qn(tag)).set(qn("w:val"), val)
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "vi-VN")
    lang.set(qn("w:eastAsia"), "vi-VN")
    ppr = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr"))
    spacing = ppr.find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), "240")
    for style_rpr in styles.iter(qn("w:rPr")):
        if style_rpr.find(qn("w:rFonts")) is not None:
            _fonts(style_rpr)
        if style_rpr.find(qn("w:color")) is not None:
            _black(style_rpr)


def _drop_unneeded_parts(doc) -> None:
    """Drop the thumbnail of python-docx's blank default document and the Word 2010 duplicate of the styles."""
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            doc.part.drop_rel(rid)
    package_rels = doc.part.package.rels
    for rid, rel in list(package_rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            package_rels.pop(rid)


def _style(doc, name: str, style_id: str, *, size: float, bold: bool = False, italic: bool = False,
           align=WD_ALIGN_PARAGRAPH.CENTER, before: float = 0, after: float = 0, line: float = 1.0,
           first_indent_mm: float | None = None, keep_next: bool = False, base: str = "Normal"):
    style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.style_id = style_id
    style.base_style = doc.styles[base]
    style.quick_style = True
    style.font.name = FONT
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = italic
    style.font.color.rgb = RGBColor(0, 0, 0)
    _fonts(style.element.get_or_add_rPr())
    fmt = style.paragraph_format
    fmt.alignment = align
    fmt.space_before = Pt(before)
    fmt.space_after = Pt(after)
    fmt.line_spacing = line
    fmt.first_line_indent = Mm(first_indent_mm) if first_indent_mm is not None else Mm(0)
    fmt.left_indent = Mm(0)
    fmt.right_indent = Mm(0)
    fmt.widow_control = True
    fmt.keep_with_next = keep_next
    return style


def _styles(doc) -> None:
    """The named styles a clerk sees in Word's style gallery, one per part of the Decree 30 layout."""
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    normal.font.color.rgb = RGBColor(0, 0, 0)
    _fonts(normal.element.get_or_add_rPr())
    left, justify = WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.JUSTIFY
    _style(doc, "BC Cơ quan ban hành", "BCCoQuan", size=13, bold=True)
    _style(doc, "BC Số ký hiệu", "BCSoKyHieu", size=13, before=6)
    _style(doc, "BC Quốc hiệu", "BCQuocHieu", size=12, bold=True)
    _style(doc, "BC Tiêu ngữ", "BCTieuNgu", size=13, bold=True)
    _style(doc, "BC Địa danh ngày tháng", "BCDiaDanh", size=14, italic=True, before=6)
    _style(doc, "BC Đường kẻ", "BCDuongKe", size=2)
    _style(doc, "BC Tên loại", "BCTenLoai", size=14, bold=True, before=24, keep_next=True)
    _style(doc, "BC Trích yếu", "BCTrichYeu", size=14, bold=True, keep_next=True)
    _style(doc, "BC Kính gửi", "BCKinhGui", size=14, before=12, after=12)
    _style(doc, "BC Nội dung", "BCNoiDung", size=14, align=justify, after=6, line=1.15, first_indent_mm=12.7)
    _style(doc, "BC Đề mục", "BCDeMuc", size=14, bold=True, align=justify, after=6, line=1.15,
           first_indent_mm=12.7, keep_next=True)
    _style(doc, "BC Nơi nhận", "BCNoiNhan", size=12, bold=True, italic=True, align=left, before=12)
    _style(doc, "BC Nơi nhận mục", "BCNoiNhanMuc", size=11, align=left)
    _style(doc, "BC Chức vụ", "BCChucVu", size=14, bold=True, keep_next=True)
    _style(doc, "BC Chức vụ đầu", "BCChucVuDau", size=14, bold=True, before=12, keep_next=True,
           base="BC Chức vụ")
    _style(doc, "BC Người ký", "BCNguoiKy", size=14, bold=True, before=84)
    _style(doc, "BC Số trang", "BCSoTrang", size=13)
    annex_title = _style(doc, "BC Phụ lục", "BCPhuLuc", size=14, bold=True, keep_next=True)
    annex_title.paragraph_format.page_break_before = True
    _style(doc, "BC Phụ lục tên", "BCPhuLucTen", size=14, bold=True, keep_next=True)
    _style(doc, "BC Phụ lục ghi chú", "BCPhuLucGhiChu", size=14, italic=True, after=6)
    _style(doc, "BC Phụ lục đề mục", "BCPhuLucDeMuc", size=13, bold=True, align=left, before=12, after=6,
           keep_next=True)
    _style(doc, "BC Bảng", "BCBang", size=10)
    _style(doc, "BC Bảng tên đơn vị", "BCBangTen", size=10, align=left)
    _style(doc, "BC Bảng tiêu đề", "BCBangTieuDe", size=9, bold=True)
    _style(doc, "BC Bảng tổng", "BCBangTong", size=10, bold=True)
    _style(doc, "BC Bảng ghi chú", "BCBangGhiChu", size=12, italic=True, align=left, before=6)
    _style(doc, "BC Biểu đồ", "BCBieuDo", size=12)


# ----------------------------------------------------------------------------------------------- helpers


def _border(paragraph, side: str = "bottom") -> None:
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    edge = OxmlElement(f"w:{side}")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        edge.set(qn(key), value)
    borders.append(edge)
    _insert(ppr, borders, P_PR_ORDER)


def _rule(container, width_mm: float, container_mm: float) -> None:
    """A solid rule ``width_mm`` long, centred: an empty paragraph whose bottom border spans its indents.

    A paragraph border rather than a drawn line: it stays in place when the text around it changes,
    Word and LibreOffice draw it the same way, and a clerk can lengthen it with the ruler.
    """
    paragraph = container.add_paragraph(style="BC Đường kẻ")
    side = Mm((container_mm - width_mm) / 2)
    paragraph.paragraph_format.left_indent = side
    paragraph.paragraph_format.right_indent = side
    _border(paragraph)


def _table_props(table, widths_mm: list[float], *, borders: bool, cell_margin_mm: float) -> None:
    tbl_pr = table._tbl.tblPr
    table.autofit = False  # w:tblLayout fixed: the column widths below hold
    edges = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge = OxmlElement(f"w:{side}")
        if borders:
            for key, value in (("w:val", "single"), ("w:sz", "4"), ("w:space", "0"), ("w:color", "000000")):
                edge.set(qn(key), value)
        else:
            edge.set(qn("w:val"), "nil")
        edges.append(edge)
    _insert(tbl_pr, edges, TBL_PR_ORDER)
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:w"), str(round(cell_margin_mm / 25.4 * 1440)))
        edge.set(qn("w:type"), "dxa")
        margins.append(edge)
    _insert(tbl_pr, margins, TBL_PR_ORDER)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def _first(cell, text: str, style: str):
    """Fill a new cell's own empty paragraph (python-docx gives each cell one), so no blank line is left."""
    paragraph = cell.paragraphs[0]
    paragraph.style = style
    paragraph.add_run(text)
    return paragraph


def _page_number(paragraph) -> None:
    """A PAGE field: Word and LibreOffice put the page's number there."""
    def fld(kind: str):
        run = paragraph.add_run()
        char = OxmlElement("w:fldChar")
        char.set(qn("w:fldCharType"), kind)
        run._r.append(char)

    fld("begin")
    instr = paragraph.add_run()._r
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = " PAGE "
    instr.append(text)
    fld("separate")
    paragraph.add_run("2")
    fld("end")


# -------------------------------------------------------------------------------------------------- parts


def _page(doc) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(PAGE_W), Mm(PAGE_H)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP), Mm(MARGIN_BOTTOM)
    section.left_margin, section.right_margin = Mm(MARGIN_LEFT), Mm(MARGIN_RIGHT)
    section.header_distance, section.footer_distance = Mm(10), Mm(10)
    # Page numbers centred in the top margin from page 2: the first page has its own, empty header.
    section.different_first_page_header_footer = True
    header = section.header
    header.is_linked_to_previous = False
    number = header.paragraphs[0]
    number.style = "BC Số trang"
    _page_number(number)
    first = section.first_page_header
    first.is_linked_to_previous = False
    first.paragraphs[0].style = "BC Số trang"


def _heading(doc) -> None:
    table = doc.add_table(rows=1, cols=2)
    _table_props(table, [HEADER_LEFT_W, HEADER_RIGHT_W], borders=False, cell_margin_mm=0)
    left, right = table.rows[0].cells
    _first(left, "ỦY BAN NHÂN DÂN", "BC Cơ quan ban hành")
    left.add_paragraph("{{ unit.name_upper }}", style="BC Cơ quan ban hành")
    _rule(left, BODY_RULE_W, HEADER_LEFT_W)
    left.add_paragraph(f"Số:{BLANK}/BC-UBND", style="BC Số ký hiệu")
    _first(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "BC Quốc hiệu")
    right.add_paragraph("Độc lập - Tự do - Hạnh phúc", style="BC Tiêu ngữ")
    _rule(right, MOTTO_RULE_W, HEADER_RIGHT_W)
    right.add_paragraph(
        f"{{{{ unit.short_name }}}}, ngày{BLANK}tháng {{{{ period.header_month }}}} năm {{{{ period.year }}}}",
        style="BC Địa danh ngày tháng",
    )
    doc.add_paragraph("BÁO CÁO", style="BC Tên loại")
    doc.add_paragraph("Công tác triển khai thực hiện {{ implements.full }}", style="BC Trích yếu")
    _rule(doc, SUBJECT_RULE_W, TEXT_W)
    doc.add_paragraph("Kính gửi: {{ recipient }}", style="BC Kính gửi")


DIGITIZATION = (
    "- UBND {{ unit.kind }} thường xuyên chỉ đạo Bộ phận Một cửa {{ unit.kind }} và các {{ unit.children_kinds }} "
    "thực hiện nghiêm quy trình giải quyết thủ tục hành chính theo cơ chế một cửa, một cửa liên thông và thực hiện "
    "thủ tục hành chính trên môi trường điện tử. Việc thực hiện số hóa hồ sơ kết quả giải quyết thủ tục hành chính "
    "được các ngành {{ unit.kind }}, UBND các {{ unit.children_kinds }} tập trung thực hiện"
    "{% if digitization.on_target %}, đạt kết quả cao{% endif %}. "
    "Trong tháng {{ period.label }}, tỷ lệ số hóa hồ sơ trong giải quyết thủ tục hành chính "
    "{% if digitization.dossier.same %}{{ levels.huyen }}, {{ levels.xa }} đạt tỷ lệ {{ digitization.dossier.huyen }}"
    "{% else %}{{ levels.huyen }} {% if digitization.dossier.huyen %}đạt {{ digitization.dossier.huyen }}"
    "{% else %}không phát sinh{% endif %}, {{ levels.xa }} {% if digitization.dossier.xa %}đạt "
    "{{ digitization.dossier.xa }}{% else %}không phát sinh{% endif %}{% endif %}; "
    "tỷ lệ số hóa kết quả giải quyết thủ tục hành chính "
    "{% if digitization.result.same %}{{ levels.huyen }}, {{ levels.xa }} đạt tỷ lệ {{ digitization.result.huyen }}"
    "{% else %}{{ levels.huyen }} {% if digitization.result.huyen %}đạt {{ digitization.result.huyen }}"
    "{% else %}không phát sinh{% endif %}, {{ levels.xa }} {% if digitization.result.xa %}đạt "
    "{{ digitization.result.xa }}{% else %}không phát sinh{% endif %}{% endif %}."
)
INSPECTIONS = (
    "- Công tác kiểm tra công vụ được thực hiện thường xuyên{% if inspection.plan %}, Ủy ban nhân dân "
    "{{ unit.kind }} tiếp tục thực hiện {{ inspection.plan }}{% endif %}.{% if inspection.lead %} Giao "
    "{{ inspection.lead }} làm Trưởng đoàn kiểm tra công vụ tại các cơ quan, đơn vị thuộc Ủy ban nhân dân "
    "{{ unit.kind }} và Ủy ban nhân dân các {{ unit.children_kinds }} và thường xuyên kiểm tra đột xuất hoặc lồng "
    "ghép với kiểm tra cải cách hành chính để kịp thời nhắc nhở, chấn chỉnh việc thực thi công vụ.{% endif %}"
    "{% if inspection.count %} Trong tháng, đã tiến hành {{ inspection.count_fmt }} cuộc kiểm tra.{% endif %}"
    "{% if inspection.known %}{% if inspection.violations %} Qua kiểm tra, phát hiện {{ inspection.violations_fmt }} "
    "trường hợp nhũng nhiễu hoặc tự đặt thêm quy định trong giải quyết thủ tục hành chính: {{ inspection.findings }}"
    "{% else %} Đến nay, chưa phát hiện trường hợp nhũng nhiễu hoặc tự đặt thêm quy định trong giải quyết thủ tục "
    "hành chính cho tổ chức, cá nhân.{% endif %}{% endif %}"
)
HOTLINE = (
    "- Việc xử lý, giải quyết các phản ánh kiến nghị của tổ chức, cá nhân trong giải quyết thủ tục hành chính và qua "
    "Tổng đài 1022 được UBND {{ unit.kind }} {% if hotline.late %}quan tâm giải quyết{% else %}giải quyết kịp thời"
    "{% endif %}. {% if hotline.received %}Trong tháng, có tiếp nhận {{ hotline.received_fmt }} phản ánh qua Tổng đài "
    "1022 ({% if hotline.about %}có {{ hotline.about_fmt }} phản ánh về thực hiện thủ tục hành chính{% else %}không "
    "có phản ánh về thực hiện thủ tục hành chính{% endif %}), các ngành {{ unit.kind }} đã chủ động phối hợp tham mưu "
    "UBND {{ unit.kind }} giải quyết{% if hotline.late %}, còn {{ hotline.late_fmt }} trường hợp chậm trễ trong việc "
    "trả lời phản ánh, kiến nghị{% else %} kịp thời, không có trường hợp chậm trễ trong việc trả lời phản ánh, kiến "
    "nghị{% endif %}.{% else %}Trong tháng, không tiếp nhận phản ánh nào qua Tổng đài 1022.{% endif %}"
)
RESOURCES = (
    "- {% if resources %}{{ resources }}{% else %}Các nguồn lực cho công tác kiểm soát thủ tục hành chính tại các cơ "
    "quan, đơn vị tiếp tục được duy trì để tiếp nhận, giải quyết hồ sơ cho tổ chức, cá nhân.{% endif %}"
)
NEUTRAL_ASSESSMENT = (
    "Công tác cải cách thủ tục hành chính tiếp tục được lãnh đạo {{ unit.kind }} quan tâm chỉ đạo thực hiện trong "
    "tháng {{ period.label }}; kết quả tiếp nhận, giải quyết thủ tục hành chính được tổng hợp tại Phụ lục kèm theo."
)


def _change(key: str, label: str, unit: str) -> str:
    c = f"change.{key}"
    return (
        f"{label} {{% if {c}.sign > 0 %}}tăng {{{{ {c}.delta }}}}{unit} (từ {{{{ {c}.previous }}}} lên "
        f"{{{{ {c}.current }}}}){{% elif {c}.sign < 0 %}}giảm {{{{ {c}.delta }}}}{unit} (từ {{{{ {c}.previous }}}} "
        f"xuống {{{{ {c}.current }}}}){{% else %}}không thay đổi ({{{{ {c}.current }}}}){{% endif %}}"
    )


CHANGE = (
    "So với tháng {{ change.previous_label }}, "
    + _change("received", "số hồ sơ tiếp nhận", " hồ sơ")
    + "{% if change.on_time %}; "
    + _change("on_time", "tỷ lệ giải quyết đúng hạn", " điểm phần trăm")
    + "{% endif %}{% if change.result_digitization %}; "
    + _change("result_digitization", "tỷ lệ số hóa kết quả giải quyết", " điểm phần trăm")
    + "{% endif %}."
)


def _lead(key: str, first: str, other: str) -> str:
    """The first shortcoming opens with "Tuy nhiên," (as in the model report); the others stand alone."""
    return f"{{% if shortcomings.first == '{key}' %}}Tuy nhiên, {first}{{% else %}}{other}{{% endif %}}"


SHORTCOMINGS = {
    "online_payment": _lead("online_payment", "việc", "Việc")
    + " thực hiện thanh toán phí, lệ phí trực tuyến đối với các thủ tục hành chính còn đơn vị thực hiện chậm.",
    "on_time": _lead("on_time", "tỷ lệ", "Tỷ lệ")
    + " hồ sơ giải quyết đúng hạn đạt {{ shortcomings.on_time.rate }}, thấp hơn chỉ tiêu "
    "{{ shortcomings.on_time.target }}; trong tháng còn {{ shortcomings.on_time.late }} hồ sơ giải quyết trễ hạn.",
    "dossier_digitization": _lead("dossier_digitization", "tỷ lệ", "Tỷ lệ")
    + " số hóa hồ sơ trong giải quyết thủ tục hành chính đạt {{ shortcomings.dossier_digitization.rate }}, chưa đạt "
    "chỉ tiêu {{ shortcomings.dossier_digitization.target }}.",
    "result_digitization": _lead("result_digitization", "tỷ lệ", "Tỷ lệ")
    + " số hóa kết quả giải quyết thủ tục hành chính đạt {{ shortcomings.result_digitization.rate }}, chưa đạt "
    "chỉ tiêu {{ shortcomings.result_digitization.target }}.",
    "feedback_late": _lead("feedback_late", "còn", "Còn")
    + " {{ shortcomings.feedback_late.count }} phản ánh, kiến nghị qua Tổng đài 1022 chậm trả lời.",
    "pending_overdue": _lead("pending_overdue", "còn", "Còn")
    + " {{ shortcomings.pending_overdue.count }} hồ sơ đang giải quyết đã quá hạn, cần tập trung xử lý dứt điểm.",
}


def _body(doc) -> None:
    body = "BC Nội dung"
    doc.add_paragraph(
        "Thực hiện {{ request }}, Ủy ban nhân dân {{ unit.kind }} báo cáo kết quả thực hiện {{ implements.full }} "
        "trong tháng {{ period.month }} năm {{ period.year }}, cụ thể như sau:",
        style=body,
    )
    doc.add_paragraph("1. Kết quả thực hiện", style="BC Đề mục")
    for text in (DIGITIZATION, INSPECTIONS, HOTLINE, RESOURCES):
        doc.add_paragraph(text, style=body)
    doc.add_paragraph("2. Đánh giá chung", style="BC Đề mục")
    doc.add_paragraph("{%p for item in assessment %}", style=body)
    doc.add_paragraph("{{ item }}", style=body)
    doc.add_paragraph("{%p endfor %}", style=body)
    doc.add_paragraph("{%p if not assessment %}", style=body)
    doc.add_paragraph(NEUTRAL_ASSESSMENT, style=body)
    doc.add_paragraph("{%p endif %}", style=body)
    doc.add_paragraph("{%p if change %}", style=body)
    doc.add_paragraph(CHANGE, style=body)
    doc.add_paragraph("{%p endif %}", style=body)
    for key, text in SHORTCOMINGS.items():
        doc.add_paragraph(f"{{%p if shortcomings.{key} %}}", style=body)
        doc.add_paragraph(text, style=body)
        doc.add_paragraph("{%p endif %}", style=body)
    doc.add_paragraph("{%p for item in shortcomings.extra %}", style=body)
    doc.add_paragraph("{{ item }}", style=body)
    doc.add_paragraph("{%p endfor %}", style=body)
    doc.add_paragraph(
        "Trên đây là Báo cáo thực hiện {{ implements.short }} của Ủy ban nhân dân {{ unit.kind_name }}./.",
        style=body,
    )


def _signature(doc) -> None:
    table = doc.add_table(rows=1, cols=2)
    _table_props(table, [SIGN_LEFT_W, SIGN_RIGHT_W], borders=False, cell_margin_mm=0)
    left, right = table.rows[0].cells
    _first(left, "Nơi nhận:", "BC Nơi nhận")
    left.add_paragraph("{%p for item in distribution %}", style="BC Nơi nhận mục")
    left.add_paragraph("- {{ item }};", style="BC Nơi nhận mục")
    left.add_paragraph("{%p endfor %}", style="BC Nơi nhận mục")
    left.add_paragraph("- Lưu: {{ archive }}.", style="BC Nơi nhận mục")
    _first(right, "{{ signer.capacity_prefix }}", "BC Chức vụ đầu")
    right.add_paragraph("{{ signer.capacity }}", style="BC Chức vụ")
    right.add_paragraph("{{ signer.name }}", style="BC Người ký")


DOSSIER_COLUMNS = [  # (heading, row key): resolution of dossiers
    ("Kỳ trước chuyển sang", "carried_over"),
    ("Tiếp nhận mới", "received"),
    ("Trong đó trực tuyến", "received_online"),
    ("Đã giải quyết", "resolved"),
    ("Trước hạn", "resolved_early"),
    ("Đúng hạn", "resolved_on_time"),
    ("Trễ hạn", "resolved_late"),
    ("Rút hồ sơ", "withdrawn"),
    ("Đang giải quyết", "pending"),
    ("Trong đó quá hạn", "pending_overdue"),
    ("Tỷ lệ đúng hạn (%)", "on_time_rate"),
]
DIGITAL_COLUMNS = [  # digitization, online submission and online payment
    ("Tiếp nhận mới", "received"),
    ("Hồ sơ được số hóa", "digitized_dossiers"),
    ("Tỷ lệ số hóa hồ sơ (%)", "dossier_digitization_rate"),
    ("Đã giải quyết", "resolved"),
    ("Kết quả được số hóa", "digitized_results"),
    ("Tỷ lệ số hóa kết quả (%)", "result_digitization_rate"),
    ("Tỷ lệ tiếp nhận trực tuyến (%)", "online_rate"),
    ("Hồ sơ có phí, lệ phí", "fee_dossiers"),
    ("Thanh toán trực tuyến", "paid_online"),
    ("Tỷ lệ thanh toán trực tuyến (%)", "online_payment_rate"),
]
FEEDBACK_ROWS = [
    ("Phản ánh, kiến nghị tiếp nhận trong kỳ", "feedback_received"),
    ("Trong đó: về thực hiện thủ tục hành chính", "feedback_about_procedures"),
    ("Đã trả lời đúng hạn", "feedback_answered_on_time"),
    ("Đã trả lời trễ hạn", "feedback_answered_late"),
    ("Chưa trả lời, đã quá hạn", "feedback_overdue"),
    ("Đang giải quyết, trong hạn", "feedback_in_progress"),
    ("Từ chối tiếp nhận", "feedback_rejected"),
]
STT_W, NAME_W = 10, 30


def _metric_table(doc, columns: list[tuple[str, str]]) -> None:
    """Heading, district level, commune level, one row per commune (``{%tr for %}``), then the total."""
    number_w = (TEXT_W - STT_W - NAME_W) / len(columns)
    table = doc.add_table(rows=7, cols=2 + len(columns))
    _table_props(table, [STT_W, NAME_W] + [number_w] * len(columns), borders=True, cell_margin_mm=0.8)
    head = table.rows[0]
    head._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))  # repeated on each page of a long table
    for cell, text in zip(head.cells, ["STT", "Đơn vị", *(h for h, _ in columns)], strict=True):
        _first(cell, text, "BC Bảng tiêu đề")

    def values(row, prefix: str, bold: bool = False) -> None:
        style = "BC Bảng tổng" if bold else "BC Bảng"
        _first(row.cells[0], f"{{{{ {prefix}.stt }}}}", style)
        _first(row.cells[1], f"{{{{ {prefix}.name }}}}", "BC Bảng tổng" if bold else "BC Bảng tên đơn vị")
        for cell, (_, key) in zip(row.cells[2:], columns, strict=True):
            _first(cell, f"{{{{ {prefix}.{key} }}}}", style)

    values(table.rows[1], "annex.huyen")
    values(table.rows[2], "annex.xa")
    _first(table.rows[3].cells[0], "{%tr for c in annex.communes %}", "BC Bảng")
    values(table.rows[4], "c")
    _first(table.rows[5].cells[0], "{%tr endfor %}", "BC Bảng")
    values(table.rows[6], "annex.tong", bold=True)


def _feedback_table(doc) -> None:
    table = doc.add_table(rows=1 + len(FEEDBACK_ROWS), cols=2)
    _table_props(table, [TEXT_W - 40, 40], borders=True, cell_margin_mm=1.5)
    _first(table.rows[0].cells[0], "Nội dung", "BC Bảng tiêu đề")
    _first(table.rows[0].cells[1], "Số lượng", "BC Bảng tiêu đề")
    for row, (label, key) in zip(table.rows[1:], FEEDBACK_ROWS, strict=True):
        _first(row.cells[0], label, "BC Bảng tên đơn vị")
        _first(row.cells[1], f"{{{{ annex.feedback.{key} }}}}", "BC Bảng")
    for row in table.rows[:-1]:  # a small table is not split across two pages
        for cell in row.cells:
            cell.paragraphs[0].paragraph_format.keep_with_next = True


def _annex(doc) -> None:
    doc.add_paragraph("Phụ lục", style="BC Phụ lục")
    doc.add_paragraph("KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH THÁNG {{ period.label }}", style="BC Phụ lục tên")
    doc.add_paragraph(
        f"(Kèm theo Báo cáo số{BLANK}/BC-UBND ngày{BLANK}tháng {{{{ period.header_month }}}} năm "
        "{{ period.year }} của Ủy ban nhân dân {{ unit.kind_name }}; số liệu từ ngày {{ period.first_day }} đến hết "
        "ngày {{ period.last_day }})",
        style="BC Phụ lục ghi chú",
    )
    doc.add_paragraph("1. Tiếp nhận và giải quyết hồ sơ thủ tục hành chính", style="BC Phụ lục đề mục")
    _metric_table(doc, DOSSIER_COLUMNS)
    doc.add_paragraph("2. Số hóa hồ sơ, kết quả và thanh toán trực tuyến", style="BC Phụ lục đề mục")
    _metric_table(doc, DIGITAL_COLUMNS)
    doc.add_paragraph(
        "Tỷ lệ tính theo phần trăm (%); “—”: không phát sinh (không có hồ sơ để tính tỷ lệ).",
        style="BC Bảng ghi chú",
    )
    doc.add_paragraph("3. Phản ánh, kiến nghị qua Tổng đài 1022", style="BC Phụ lục đề mục")
    _feedback_table(doc)
    doc.add_paragraph("{%p if chart %}", style="BC Phụ lục đề mục")
    doc.add_paragraph("4. Biểu đồ", style="BC Phụ lục đề mục")
    doc.add_paragraph("{%p endif %}", style="BC Phụ lục đề mục")
    # The picture's paragraph ends the body (Word wants a paragraph last); without a chart it stays empty.
    doc.add_paragraph("{% if chart %}{{ chart }}{% endif %}", style="BC Biểu đồ")


def build(out: Path) -> Path:
    doc = Document()
    _drop_unneeded_parts(doc)
    _normalise_styles(doc)
    _styles(doc)
    _page(doc)
    # python-docx's blank document starts with no paragraph; every block is appended in order.
    _heading(doc)
    _body(doc)
    _signature(doc)
    _annex(doc)
    for text in doc.element.body.iter(qn("w:t")):
        if "  " in (text.text or ""):  # the blank number and day: Word may collapse spaces it is not told to keep
            text.set(qn("xml:space"), "preserve")
    props = doc.core_properties
    props.title = "Báo cáo tháng về công tác cải cách thủ tục hành chính (mẫu)"
    props.author = ""
    props.last_modified_by = ""
    props.comments = "Mẫu báo cáo: sửa câu chữ trong Word hoặc LibreOffice, giữ nguyên các thẻ giữ chỗ."
    props.keywords = ""
    props.revision = 1
    props.created = props.modified = props.last_printed = BUILT
    buffer = io.BytesIO()
    doc.save(buffer)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Same bytes on every rebuild (python-docx stamps zip entries with "now"): no spurious diff in git.
    out.write_bytes(normalise_package(buffer.getvalue(), BUILT))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    print(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
