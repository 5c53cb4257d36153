"""The report rendered from Tháp Mười's metrics of November 2023 reproduces the hand-written model report.

The model (``/work/shared/reference/seed-report-thap-muoi-2023-11.txt``, copied into
``MODEL`` below when the shared folder is absent) is compared paragraph by paragraph with the
rendered body, whitespace normalised. The model's own typos are corrected by the table
``MODEL_TYPOS``; nothing else may differ.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import docx
from docx.table import Table

SEED = Path("/work/shared/reference/seed-report-thap-muoi-2023-11.txt")
# Typos of the hand-written model, corrected in the report: (as typed, as it should read).
MODEL_TYPOS = [
    ("644/CD-TTg", "644/CĐ-TTg"),  # the dispatch's symbol is CĐ (Công điện)
    ("những nhiều", "nhũng nhiễu"),  # harassment, not "many"
    ("trình chuyên môn", "trình độ chuyên môn"),
    ("đơn đốc", "đôn đốc"),
]
# Lines of the heading table that the model's text extraction lost (they are in its original).
LOST_IN_THE_MODEL = ["ỦY BAN NHÂN DÂN", "HUYỆN THÁP MƯỜI", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc"]  # fmt: skip
MODEL = """\
Số: /BC-UBND

Tháp Mười, ngày tháng 11 năm 2023

BÁO CÁO

**Công tác triển khai thực hiện Công điện 644/CD-TTg ngày 13/7/2023
của Thủ tướng Chính phủ và Công văn số 09/UBND-HCC
ngày 20/7/2023 của Ủy ban nhân dân tỉnh Đồng Tháp**

Kính gửi: Văn phòng Ủy ban nhân dân tỉnh Đồng Tháp

Thực hiện Công văn số 14/UBND-HCC ngày 15 tháng 8 năm 2023 của Ủy ban nhân dân tỉnh về việc thực hiện báo cáo \
tháng về công tác cải cách thủ tục hành chính và các báo cáo khác được giao, Ủy ban nhân dân huyện báo cáo kết quả \
thực hiện Công điện 644/CD-TTg ngày 13/7/2023 của Thủ tướng Chính phủ và Công văn số 09/UBND-HCC ngày 20/7/2023 của \
Ủy ban nhân dân tỉnh Đồng Tháp trong tháng 11 năm 2023, cụ thể như sau:

1. Kết quả thực hiện

- UBND huyện thường xuyên chỉ đạo Bộ phận Một cửa huyện và các xã, thị trấn thực hiện nghiêm quy trình giải quyết \
thủ tục hành chính theo cơ chế một cửa, một cửa liên thông và thực hiện thủ tục hành chính trên môi trường điện tử. \
Việc thực hiện số hóa hồ sơ kết quả giải quyết thủ tục hành chính được các ngành huyện, UBND các xã, thị trấn tập \
trung thực hiện, đạt kết quả cao. Trong tháng 11/2023, tỷ lệ số hóa hồ sơ trong giải quyết thủ tục hành chính cấp \
huyện, cấp xã đạt tỷ lệ 100%; tỷ lệ số hóa kết quả giải quyết thủ tục hành chính cấp huyện đạt 71,26%, cấp xã đạt \
55,49%.

- Công tác kiểm tra công vụ được thực hiện thường xuyên, Ủy ban nhân dân huyện tiếp tục thực hiện Kế hoạch số \
1537/KH-UBND ngày 03/3/2023 về kiểm tra công vụ năm 2023. Giao Phòng Nội vụ làm Trưởng đoàn kiểm tra công vụ tại \
các cơ quan, đơn vị thuộc Ủy ban nhân dân huyện và Ủy ban nhân dân các xã, thị trấn và thường xuyên kiểm tra đột \
xuất hoặc lồng ghép với kiểm tra cải cách hành chính để kịp thời nhắc nhở, chấn chỉnh việc thực thi công vụ. Đến \
nay, chưa phát hiện trường hợp những nhiều hoặc tự đặt thêm quy định trong giải quyết thủ tục hành chính cho tổ \
chức, cá nhân.

- Việc xử lý, giải quyết các phản ánh kiến nghị của tổ chức, cá nhân trong giải quyết thủ tục hành chính và qua \
Tổng đài 1022 được UBND huyện giải quyết kịp thời. Trong tháng, có tiếp nhận 05 phản ánh qua Tổng đài 1022 (không \
có phản ánh về thực hiện thủ tục hành chính), các ngành huyện đã chủ động phối hợp tham mưu UBND huyện giải quyết \
kịp thời, không có trường hợp chậm trễ

trong việc trả lời phản ánh, kiến nghị.

- Các nguồn lực cho công tác Kiểm soát thủ tục hành chính tại các cơ quan được đảm bảo thực hiện, bố trí công chức \
có trình chuyên môn tốt để thực hiện làm công tác kiểm soát thủ tục hành chính và tiếp nhận, giải quyết hồ sơ cho \
tổ chức, cá nhân tại các cơ quan, đơn vị.

2. Đánh giá chung

Công tác cải cách thủ tục hành chính được lãnh đạo huyện quan tâm đơn đốc, chỉ đạo thực hiện. Kịp thời ban hành \
các văn bản và tổ chức triển khai thực hiện các nhiệm vụ kiểm soát thủ tục hành chính, rà soát thủ tục hành chính. \
Công tác tuyên truyền cải cách thủ tục hành chính, Tổng đài 1022 tỉnh, hướng dẫn thực hiện dịch vụ công trực tuyến; \
vận động thực hiện mô hình dịch vụ công ích, mô hình hẹn giờ giải quyết thủ tục hành chính tại nhà được thường \
xuyên, sâu rộng,... đã mang lại hiệu quả tích cực; kịp thời cập nhật các văn bản mới, thực hiện tiếp nhận, giải \
quyết, trả kết quả thủ tục hành chính đúng quy định.

Tuy nhiên, việc thực hiện thanh toán phí, lệ phí trực tuyến đối với các thủ tục hành chính còn đơn vị thực hiện \
chậm.

Trên đây là Báo cáo thực hiện Công điện 644/CD-TTg của Thủ tướng Chính phủ, Công văn số 09/UBND-HCC của Ủy ban \
nhân dân tỉnh của Ủy ban nhân dân huyện Tháp Mười./.

Nơi nhận:

- Như trên;
- CT, các PCT.UBND huyện;
- LĐVP.HĐND&UBND huyện;
- Lưu: VT, NCVN (s).

**TM. ỦY BAN NHÂN DÂN
CHỦ TỊCH**

Đoàn Thanh Bình
"""


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def model_paragraphs(text: str) -> list[str]:
    """The model's paragraphs: one per line, except that a line starting in lower case continues the one before.

    The model was typed with hand line breaks in the subject line, and one paragraph is cut in
    two by a page break ("... chậm trễ" / "trong việc trả lời ...").
    """
    for typo, fixed in MODEL_TYPOS:
        text = text.replace(typo, fixed)
    paragraphs: list[str] = []
    for line in text.replace("**", "").splitlines():
        line = line.strip()
        if not line:
            continue
        if paragraphs and line[0].islower():
            paragraphs[-1] += " " + line
        else:
            paragraphs.append(line)
    return [normalise(p) for p in paragraphs]


def report_paragraphs(path: Path) -> list[str]:
    """The rendered report's non-empty paragraphs in reading order (table cells left to right), up to the annex."""
    document = docx.Document(path)
    out: list[str] = []
    for block in document.iter_inner_content():
        cells = [cell for row in block.rows for cell in row.cells] if isinstance(block, Table) else [block]
        for paragraphs in (c.paragraphs if isinstance(block, Table) else [c] for c in cells):
            out += [normalise(p.text) for p in paragraphs if p.text.strip()]
        if "Phụ lục" in out:
            return out[: out.index("Phụ lục")]
    return out


def test_the_embedded_model_is_the_shared_seed():
    if SEED.is_file():
        assert model_paragraphs(SEED.read_text(encoding="utf-8")) == model_paragraphs(MODEL)


def test_report_reproduces_the_model(model_docx, model_context):
    _, warnings = model_context
    assert warnings == []
    rendered = [p for p in report_paragraphs(model_docx) if p not in LOST_IN_THE_MODEL]
    expected = model_paragraphs(MODEL)
    for i, (got, want) in enumerate(zip(rendered, expected, strict=False)):
        assert got == want, f"paragraph {i} differs"
    assert len(rendered) == len(expected)


def test_lost_heading_lines_are_in_the_report(model_docx):
    assert report_paragraphs(model_docx)[:5] == [
        "ỦY BAN NHÂN DÂN", "HUYỆN THÁP MƯỜI", "Số: /BC-UBND", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ]  # fmt: skip
