"""The annex chart: the same bytes in any process, the promised content, and the font that has every letter."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import unicodedata
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, ImageFont

from tthc.numbers import fmt_decimal
from tthc.report import chart
from tthc.report.chart import ABSENT_CELL, SERIES, Box, Line, Text, chart_png, chart_scene
from tthc.units import ReportingUnit

ROOT = Path(__file__).resolve().parents[2]
UNIT = ReportingUnit(code="872", name="Huyện Tháp Mười", short_name="Tháp Mười", kind="huyện")
NAMES = ["Thị trấn Mỹ An", "Xã Mỹ Hòa", "Xã Trường Xuân", "Xã Hưng Thạnh", "Xã Đốc Binh Kiều",
         "Xã Thạnh Lợi", "Xã Phú Điền", "Xã Mỹ Quý", "Xã Láng Biển", "Xã Thanh Mỹ"]


def communes() -> list[tuple[str, dict[str, Decimal | None]]]:
    """Ten communes; the fourth has no resolved dossier (no on-time rate), the sixth no digitized result rate."""
    rows = []
    for i, name in enumerate(NAMES):
        on_time = None if i == 3 else Decimal("88.5") + i
        digitized = None if i == 5 else Decimal("40.25") + 5 * i
        rows.append((name, {"on_time_rate": on_time, "result_digitization_rate": digitized}))
    rows[0][1]["on_time_rate"] = Decimal("100")
    return rows


def trend(gap_at: int | None = None) -> list[tuple[str, dict[str, Decimal | None]]]:
    """Twelve periods; at ``gap_at`` the on-time rate is absent."""
    rows = []
    for j in range(12):
        month, year = (j + 11) % 12 + 1, 2022 + (j + 11) // 12
        on_time = None if j == gap_at else Decimal("95.10") + Decimal(j) / 4
        rows.append((f"{month}/{year}", {"on_time_rate": on_time, "result_digitization_rate": Decimal(50 + j)}))
    return rows


CHILD = """
import hashlib, sys
sys.path[:0] = sys.argv[1:3]
from test_report_chart import UNIT, communes, trend
from tthc.report.chart import chart_png
png = chart_png(UNIT, communes(), trend(gap_at=4), "11/2023")
print(hashlib.sha256(png).hexdigest(), "matplotlib" in sys.modules)
"""


def test_same_bytes_in_fresh_processes_with_other_hash_seeds():
    """Two task processes (other hash seeds, other matplotlib config folders) draw the very same PNG."""
    import hashlib

    here = str(Path(__file__).resolve().parent)
    digests = set()
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "MPLCONFIGDIR": f"/nonexistent/{seed}"}
        done = subprocess.run([sys.executable, "-c", CHILD, here, str(ROOT / "plugins")], env=env, check=True,
                              capture_output=True, text=True)
        digest, imported = done.stdout.split()
        assert imported == "False", "the chart imported matplotlib (0.6 s per task process)"
        digests.add(digest)
    assert digests == {hashlib.sha256(chart_png(UNIT, communes(), trend(gap_at=4), "11/2023")).hexdigest()}


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, body = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", png[at + 8 + length:at + 12 + length])[0]
        out.append((kind, body))
        at += 12 + length
    return out


def test_png_carries_no_time_nor_version_and_keeps_its_size():
    png = chart_png(UNIT, communes(), trend(), "11/2023")
    kinds = {kind for kind, _ in _chunks(png)}
    assert kinds == {b"IHDR", b"pHYs", b"IDAT", b"IEND"}  # no tIME, tEXt, iTXt, zTXt
    image = Image.open(io.BytesIO(png))
    # 160 mm at 150 dpi; as tall as before: 0.6 in + 0.28 in per commune, 2.2 in of trend, 0.6 in of margins.
    assert image.size == (945, round((0.6 + 0.28 * len(NAMES) + 2.2 + 0.6) * 150))
    assert tuple(round(d) for d in image.info["dpi"]) == (150, 150)


def test_commune_bars_figures_and_dashes():
    scene = chart_scene(UNIT, communes(), trend(), "11/2023")
    texts = scene.texts()
    assert "Theo đơn vị cấp xã, tháng 11/2023" in texts
    assert "Huyện Tháp Mười: 12 kỳ báo cáo gần nhất" in texts
    assert all(name in texts for name in NAMES)
    assert all(label in texts for _, label, _ in SERIES)  # the legend
    assert texts.count(ABSENT_CELL) == 2  # one per absent rate, and nowhere else
    assert [t for t in texts if "%" in t] == ["0%", "20%", "40%", "60%", "80%", "100%"] * 2  # both value axes
    for key, _, color in SERIES:
        bars = [b for b in scene.items if isinstance(b, Box) and b.series == key]
        present = [(name, row[key]) for name, row in communes() if row[key] is not None]
        assert len(bars) == len(present) == len(NAMES) - 1 and {b.color for b in bars} == {color}
        assert all(fmt_decimal(value) in texts for _, value in present)
        # Lengths proportional to the rates, from one left edge, in the communes' order top to bottom.
        assert len({round(b.x0, 6) for b in bars}) == 1
        scale = {round((b.x1 - b.x0) / float(value), 6) for b, (_, value) in zip(bars, present, strict=True)}
        assert len(scale) == 1
        assert [b.y0 for b in bars] == sorted(b.y0 for b in bars)
    # A rate of 100 ends at 100 / 112 of the axis; its figure stands right of the bar.
    first = next(b for b in scene.items if isinstance(b, Box) and b.series == "on_time_rate")
    figure = next(t for t in scene.items if isinstance(t, Text) and t.text == "100")
    assert figure.x > first.x1 and first.y0 < figure.y < first.y1


def _hex(pixel: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{channel:02x}" for channel in pixel)


def test_bars_are_painted_where_the_scene_puts_them():
    scene = chart_scene(UNIT, communes(), [], "11/2023")
    image = Image.open(io.BytesIO(chart.paint(scene))).convert("RGB")
    bars = [b for b in scene.items if isinstance(b, Box) and b.series]
    for bar in bars:
        centre = (round((bar.x0 + bar.x1) / 2), round((bar.y0 + bar.y1) / 2))
        assert _hex(image.getpixel(centre)) == bar.color, bar
    # Where the fourth commune's absent on-time bar would be, right above its digitization bar: white paper.
    below = [b for b in bars if b.series == "result_digitization_rate"][3]
    spot = (round((below.x0 + below.x1) / 2), round(below.y0 - (below.y1 - below.y0) / 2))
    assert image.getpixel(spot) == (255, 255, 255)
    above = [b for b in bars if b.series == "on_time_rate"][2]  # the third commune's, drawn
    assert _hex(image.getpixel((spot[0], round((above.y0 + above.y1) / 2)))) == above.color


def test_a_unit_without_communes_gets_the_trend_alone():
    scene = chart_scene(UNIT, [], trend(), "11/2023")
    assert not [item for item in scene.items if isinstance(item, Box)]  # no bar, no legend of bars
    assert not [t for t in scene.texts() if "cấp xã" in t]
    assert (scene.width, scene.height) == (945, round((2.2 + 0.6) * 150))
    with pytest.raises(ValueError, match="nothing to draw"):
        chart_scene(UNIT, [], [], "11/2023")


def test_a_period_without_a_rate_leaves_a_gap():
    scene = chart_scene(UNIT, [], trend(gap_at=4), "11/2023")
    on_time = [item for item in scene.items if isinstance(item, Line) and item.series == "on_time_rate"]
    digitized = [item for item in scene.items if isinstance(item, Line) and item.series == "result_digitization_rate"]
    assert [len(line.points) for line in on_time] == [4, 7]  # the fifth period is missing: two stretches
    assert [len(line.points) for line in digitized] == [12]
    assert all(line.marker for line in on_time + digitized)
    assert on_time[0].points[-1][0] < digitized[0].points[4][0] < on_time[1].points[0][0]


def test_every_label_lies_inside_the_picture():
    long_names = [(f"Thị trấn Mỹ Thọ Đông Hòa Hiệp Nghĩa {i}", row) for i, (_, row) in enumerate(communes())]
    for scene in (chart_scene(UNIT, long_names, trend(), "11/2023"), chart_scene(UNIT, [], trend(), "11/2023")):
        for item in scene.items:
            if not isinstance(item, Text) or item.angle:
                continue
            font = chart._font(item.size_pt, 1)
            left, top, right, bottom = font.getbbox(item.text, anchor=item.anchor)
            assert item.x + left >= 0 and item.x + right <= scene.width, item
            assert item.y + top >= 0 and item.y + bottom <= scene.height, item
        turned = [t for t in scene.items if isinstance(t, Text) and t.angle]
        assert len(turned) == 12
        # A turned label hangs left of its tick by its box's width: the first one must not leave the picture.
        first = turned[0]
        assert first.x - chart._rotated_extent(first.text, first.size_pt) >= 0


def test_the_font_is_dejavu_sans_with_every_vietnamese_letter():
    from fontTools.ttLib import TTFont

    font = chart._font(chart.FONT_PT, chart.SUPERSAMPLE)
    assert font.getname() == ("DejaVu Sans", "Book")
    assert font.layout_engine == ImageFont.Layout.BASIC  # Raqm, where FriBiDi exists, could lay out otherwise
    assert chart.font_path().is_relative_to(Path(__import__("importlib").util.find_spec("matplotlib").origin).parent)
    base = "aăâeêioôơuưy"
    tones = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]  # grave, acute, hook, tilde, dot below
    letters = {unicodedata.normalize("NFC", b + t) for b in base for t in tones} | {"đ"}
    letters |= {letter.upper() for letter in letters}
    assert len(letters) == 2 * (12 * 6 + 1)
    cmap = TTFont(str(chart.font_path())).getBestCmap()
    missing = sorted(letter for letter in letters if ord(letter) not in cmap)
    assert not missing
    # And what the chart writes is composed: a decomposed name draws the same glyphs as the composed one.
    decomposed = unicodedata.normalize("NFD", "Xã Mỹ Hòa")
    assert chart._width(decomposed, 8) == chart._width("Xã Mỹ Hòa", 8)
