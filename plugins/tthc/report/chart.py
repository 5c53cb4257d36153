"""The annex chart: on-time and result-digitization rates per commune, and the unit's recent trend.

Why its own module: it is the one part of the report drawn rather than written, and the one that
must be made deterministic by hand: identical data must give an identical picture, or a rerun
would change a signed report.

Why it is drawn with Pillow and not matplotlib: every Airflow task is a new process, and matplotlib
cost one report about 0.6-0.8 s of imports (numpy, pyparsing, the artist classes generating their
docstrings) and 0.3 s of drawing in which ``tight_layout`` measured every text once before the
draw measured it again: most of the .docx's 1.4 s, for two panels of bars, lines and labels whose
layout is known in advance. Pillow (already installed: matplotlib needs it) imports in 30 ms, and
the layout below is computed once from the font's own measurements, so a chart costs a few tens of
milliseconds. The picture is the same content: commune bars with their figures ("—" where nothing
arose), the trend lines (a gap where a period has no rate), the same titles, legend and colours.

What makes the bytes stable: the font is the DejaVu Sans file shipped inside the pinned matplotlib
wheel (every Vietnamese letter, the same file on every worker, unlike the host's fonts), laid out
with Pillow's basic layout (the Raqm engine is used only where the host has FriBiDi, and could
shape differently), rendered by the FreeType inside the pinned Pillow wheel, drawn at twice the
size and reduced (a box filter) for smooth edges, and written without a timestamp or text chunks.
Nothing depends on the hash seed, the time or the host's settings.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tthc.numbers import fmt_decimal, fmt_rate
from tthc.units import ReportingUnit

CHART_WIDTH_MM = 160
CHART_DPI = 150
ABSENT_CELL = "—"  # a rate with no case; the annex explains it
SERIES = (("on_time_rate", "Tỷ lệ giải quyết đúng hạn", "#1f4e79"),
          ("result_digitization_rate", "Tỷ lệ số hóa kết quả", "#9dc3e6"))
FONT_FILE = "mpl-data/fonts/ttf/DejaVuSans.ttf"  # inside the matplotlib package
INK = "#000000"

PX_PER_PT = CHART_DPI / 72
SUPERSAMPLE = 2  # drawn at twice the size, then reduced: smooth lines and markers without an antialiasing library
FONT_PT, TITLE_PT, VALUE_PT = 8.0, 9.0, 6.0
PAD = 1.08 * FONT_PT * PX_PER_PT  # around the figure and between panels (matplotlib's tight_layout pad)
TICK = 3.5 * PX_PER_PT  # tick length, and the gap between a tick and its label
TITLE_PAD = 6.0 * PX_PER_PT
RULE = 0.8 * PX_PER_PT  # spines and ticks
LINE = 1.5 * PX_PER_PT  # trend lines
MARKER = 4.0 * PX_PER_PT  # trend markers' diameter (matplotlib's 3 pt marker and its 1 pt edge)
BAR_HEIGHT, BAR_OFFSET = 0.36, 0.19  # in commune rows: two bars per commune, side by side
BARS_XMAX, TREND_YMAX = 112.0, 105.0  # room right of 100% for a bar's figure; above 100% for a marker
PERCENT_TICKS = (0, 20, 40, 60, 80, 100)


# ---- the scene: what is drawn where, in pixels of the final picture ------------------------------------


@dataclass(frozen=True)
class Text:
    """A label; ``anchor`` is Pillow's (``lm``: left-middle, ``rm``, ``mt``, ``ms``...); ``angle`` turns it about its
    top-right corner (the trend's period labels)."""

    x: float
    y: float
    text: str
    size_pt: float
    anchor: str
    angle: int = 0


@dataclass(frozen=True)
class Box:
    """A filled rectangle: a bar or a legend key."""

    x0: float
    y0: float
    x1: float
    y1: float
    color: str
    series: str = ""


@dataclass(frozen=True)
class Line:
    """A polyline (spines, ticks, a stretch of a trend line), with round markers at its points when ``marker``."""

    points: tuple[tuple[float, float], ...]
    color: str
    width: float
    marker: float = 0.0
    series: str = ""


@dataclass(frozen=True)
class Scene:
    """The whole picture: its size in pixels and what is drawn, in drawing order."""

    width: int
    height: int
    items: tuple[Text | Box | Line, ...]

    def texts(self) -> list[str]:
        """Every label, in drawing order."""
        return [item.text for item in self.items if isinstance(item, Text)]


Labelled = Sequence[tuple[str, Mapping[str, Any]]]


def font_path() -> Path:
    """DejaVu Sans as shipped in the installed matplotlib; ImportError without it (the caller omits the chart).

    Why matplotlib's copy: it is pinned with the rest of the environment, so every worker draws with
    the same file, and it has every Vietnamese letter. ``find_spec`` locates the package without
    importing it (the import is what cost the time).
    """
    spec = importlib.util.find_spec("matplotlib")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / FONT_FILE
        if path.is_file():
            return path
    raise ImportError(f"matplotlib is not installed: its {Path(FONT_FILE).name} is the chart's font")


@functools.lru_cache(maxsize=8)
def _font(size_pt: float, scale: int) -> Any:
    """The font at ``size_pt`` for a picture drawn ``scale`` times the final size, with Pillow's basic layout."""
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), size_pt * PX_PER_PT * scale, layout_engine=ImageFont.Layout.BASIC)


def _shown(text: str) -> str:
    """Text as drawn: composed (NFC), so a letter with its marks is one glyph of the font."""
    return unicodedata.normalize("NFC", text)


def _width(text: str, size_pt: float) -> float:
    """Advance width of ``text`` in final pixels, measured with the font the picture is drawn with."""
    return float(_font(size_pt, SUPERSAMPLE).getlength(_shown(text))) / SUPERSAMPLE


def _line_height(size_pt: float) -> float:
    """Ascent plus descent of the font at ``size_pt``, in final pixels."""
    ascent, descent = _font(size_pt, SUPERSAMPLE).getmetrics()
    return float(ascent + descent) / SUPERSAMPLE


def _rotated_extent(text: str, size_pt: float) -> float:
    """Width (= height) of the box around ``text`` turned 45 degrees."""
    return (_width(text, size_pt) + _line_height(size_pt)) * math.sqrt(0.5)


def _percent(value: float) -> str:
    return fmt_rate(round(value, 2))


def chart_scene(unit: ReportingUnit, communes: Labelled, trend: Labelled, period_label: str) -> Scene:
    """Lay the chart out: the commune panel (when there are communes) above the trend panel (when there is a trend).

    The picture is 160 mm wide at 150 dpi and as tall as before the change to Pillow (0.6 in plus
    0.6 in and 0.28 in per commune for the bars, 2.2 in for the trend), so the annex's page breaks
    stay where they were. Margins are measured from the labels themselves, once.
    """
    bars_h = 0.6 + 0.28 * len(communes) if communes else 0.0  # a unit reporting for itself has no bars
    trend_h = 2.2 if trend else 0.0
    if not bars_h and not trend_h:
        raise ValueError("nothing to draw: neither communes nor a trend")
    width = round(CHART_WIDTH_MM / 25.4 * CHART_DPI)
    height = round((bars_h + trend_h + 0.6) * CHART_DPI)
    line, title_line = _line_height(FONT_PT), _line_height(TITLE_PT)
    tick_labels = [_percent(v) for v in PERCENT_TICKS]
    # One left edge for both panels: the widest label left of an axis, or the first period's turned label.
    left_labels = [name for name, _ in communes] + (tick_labels if trend else [])
    left = PAD + max(_width(text, FONT_PT) for text in left_labels) + 2 * TICK
    right = width - PAD
    if trend:  # the first period's label, turned, reaches left of its tick: it must stay inside the picture
        inset = _trend_x(0, len(trend), 0.0, 1.0)
        left = max(left, (PAD + _rotated_extent(trend[0][0], FONT_PT) - inset * right) / (1 - inset))
    # The vertical room left once the fixed parts are placed is shared in the old height ratio.
    chrome = 2 * PAD
    if communes:
        chrome += title_line + TITLE_PAD + 2 * TICK + line + 0.8 * line + line
    if trend:
        rotated = max(_rotated_extent(label, FONT_PT) for label, _ in trend)
        chrome += title_line + TITLE_PAD + 2 * TICK + rotated
    if communes and trend:
        chrome += PAD
    room = height - chrome
    items: list[Text | Box | Line] = []
    top = PAD
    if communes:
        plot = room * bars_h / (bars_h + trend_h)
        top = _commune_bars(items, communes, period_label, left, right, top + title_line + TITLE_PAD, plot)
        top += PAD
    if trend:
        plot = room * trend_h / (bars_h + trend_h)
        _trend_lines(items, unit, trend, left, right, top + title_line + TITLE_PAD, plot)
    return Scene(width, height, tuple(items))


def _axes(items: list[Text | Box | Line], left: float, top: float, right: float, bottom: float) -> None:
    """The left and bottom spines (no top or right one)."""
    items.append(Line(((left, top), (left, bottom), (right, bottom)), INK, RULE))


def _x_ticks(items: list[Text | Box | Line], positions: Sequence[float], labels: Sequence[str], bottom: float,
             angle: int = 0) -> None:
    for x, label in zip(positions, labels, strict=True):
        items.append(Line(((x, bottom), (x, bottom + TICK)), INK, RULE))
        if angle:
            items.append(Text(x, bottom + 2 * TICK, label, FONT_PT, "ra", angle))
        else:
            items.append(Text(x, bottom + 2 * TICK, label, FONT_PT, "ma"))


def _y_ticks(items: list[Text | Box | Line], positions: Sequence[float], labels: Sequence[str], left: float) -> None:
    for y, label in zip(positions, labels, strict=True):
        items.append(Line(((left - TICK, y), (left, y)), INK, RULE))
        items.append(Text(left - 2 * TICK, y, label, FONT_PT, "rm"))


def _commune_bars(items: list[Text | Box | Line], communes: Labelled, period_label: str, left: float, right: float,
                  top: float, plot: float) -> float:
    """Both rates of each commune as paired horizontal bars, each with its figure ("—" where nothing arose).

    Returns the bottom of the panel (below its legend).
    """
    bottom = top + plot
    n = len(communes)
    # Rows as matplotlib's autoscale placed them: the bars' extent and 5 % of it either side.
    low, high = -BAR_OFFSET - BAR_HEIGHT / 2, n - 1 + BAR_OFFSET + BAR_HEIGHT / 2
    margin = 0.05 * (high - low)
    low, high = low - margin, high + margin

    def y_of(row: float) -> float:
        return top + (row - low) / (high - low) * plot

    def x_of(value: float) -> float:
        return left + min(max(value, 0.0), BARS_XMAX) / BARS_XMAX * (right - left)

    items.append(Text((left + right) / 2, top - TITLE_PAD, f"Theo đơn vị cấp xã, tháng {period_label}", TITLE_PT, "ms"))
    for i, (key, _, color) in enumerate(SERIES):
        for row, (_, values) in enumerate(communes):
            rate = values[key]
            value = float(rate) if rate is not None else 0.0
            centre = row + (i - 0.5) * 2 * BAR_OFFSET
            if value > 0:
                items.append(Box(x_of(0), y_of(centre - BAR_HEIGHT / 2), x_of(value), y_of(centre + BAR_HEIGHT / 2),
                                 color, key))
            text = ABSENT_CELL if rate is None else fmt_decimal(rate)
            items.append(Text(x_of(value + 1), y_of(centre), text, VALUE_PT, "lm"))
    _axes(items, left, top, right, bottom)
    _y_ticks(items, [y_of(row) for row in range(n)], [name for name, _ in communes], left)
    _x_ticks(items, [x_of(v) for v in PERCENT_TICKS], [_percent(v) for v in PERCENT_TICKS], bottom)
    # The legend, centred under the axis' labels: a key, its label, and a wider gap between the two.
    line = _line_height(FONT_PT)
    y = bottom + 2 * TICK + line + 0.8 * line + line / 2
    em = FONT_PT * PX_PER_PT
    key_w, key_h, gap, spacing = 2.0 * em, 0.7 * em, 0.8 * em, 2.0 * em
    entries = [(label, color) for _, label, color in SERIES]
    total = sum(key_w + gap + _width(label, FONT_PT) for label, _ in entries) + spacing * (len(entries) - 1)
    x = (left + right) / 2 - total / 2
    for label, color in entries:
        items.append(Box(x, y - key_h / 2, x + key_w, y + key_h / 2, color, "legend"))
        items.append(Text(x + key_w + gap, y, label, FONT_PT, "lm"))
        x += key_w + gap + _width(label, FONT_PT) + spacing
    return y + line / 2


def _trend_x(index: int, count: int, left: float, right: float) -> float:
    """The x of period ``index`` of ``count``, with 5 % of the span either side (as matplotlib's autoscale)."""
    span = max(count - 1, 1)
    low, high = -0.05 * span, count - 1 + 0.05 * span
    return left + (index - low) / (high - low) * (right - left)


def _trend_lines(items: list[Text | Box | Line], unit: ReportingUnit, trend: Labelled, left: float, right: float,
                 top: float, plot: float) -> None:
    """Both rates of the unit over its recent periods; a period without a rate leaves a gap in its line."""
    bottom = top + plot

    def y_of(value: float) -> float:
        return bottom - min(max(value, 0.0), TREND_YMAX) / TREND_YMAX * plot

    xs = [_trend_x(i, len(trend), left, right) for i in range(len(trend))]
    items.append(Text((left + right) / 2, top - TITLE_PAD, f"{unit.name}: {len(trend)} kỳ báo cáo gần nhất", TITLE_PT,
                      "ms"))
    for key, _, color in SERIES:
        stretch: list[tuple[float, float]] = []
        for x, (_, values) in zip([*xs, None], [*trend, ("", {key: None})], strict=True):
            if x is not None and values[key] is not None:
                stretch.append((x, y_of(float(values[key]))))
            elif stretch:
                items.append(Line(tuple(stretch), color, LINE, MARKER, key))
                stretch = []
    _axes(items, left, top, right, bottom)
    _y_ticks(items, [y_of(v) for v in PERCENT_TICKS], [_percent(v) for v in PERCENT_TICKS], left)
    _x_ticks(items, xs, [label for label, _ in trend], bottom, angle=45)


# ---- painting ----------------------------------------------------------------------------------------


def paint(scene: Scene) -> bytes:
    """The scene as PNG bytes: drawn at ``SUPERSAMPLE`` times the size on white, reduced, no metadata but the DPI."""
    from PIL import Image, ImageDraw

    s = SUPERSAMPLE
    image = Image.new("RGB", (scene.width * s, scene.height * s), "white")
    draw = ImageDraw.Draw(image)
    for item in scene.items:
        if isinstance(item, Box):
            draw.rectangle((round(item.x0 * s), round(item.y0 * s), round(item.x1 * s) - 1, round(item.y1 * s) - 1),
                           fill=item.color)
        elif isinstance(item, Line):
            points = [(round(x * s), round(y * s)) for x, y in item.points]
            if len(points) > 1:
                draw.line(points, fill=item.color, width=max(1, round(item.width * s)), joint="curve")
            if item.marker:
                r = item.marker * s / 2
                for x, y in points:
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=item.color)
        elif item.angle:
            _turned_text(image, item, s)
        else:
            draw.text((item.x * s, item.y * s), _shown(item.text), fill=INK, font=_font(item.size_pt, s),
                      anchor=item.anchor)
    out = io.BytesIO()
    # zlib level 1: half the encoding time of the default 6 for 1.5 % more bytes (the .docx deflates it again).
    image.reduce(s).save(out, format="PNG", dpi=(CHART_DPI, CHART_DPI), compress_level=1)
    return out.getvalue()


def _turned_text(image: Any, item: Text, s: int) -> None:
    """A label turned by ``item.angle`` degrees, its box's top-right corner at the anchor point (``ra``)."""
    from PIL import Image, ImageDraw

    font = _font(item.size_pt, s)
    text = _shown(item.text)
    ascent, descent = font.getmetrics()
    flat = Image.new("L", (math.ceil(font.getlength(text)) + 2, ascent + descent + 2), 0)
    ImageDraw.Draw(flat).text((1, 1), text, fill=255, font=font)
    turned = flat.rotate(item.angle, resample=Image.Resampling.BICUBIC, expand=True)
    x, y = round(item.x * s) - turned.width, round(item.y * s)
    image.paste(INK, (x, y, x + turned.width, y + turned.height), turned)


def chart_png(
    unit: ReportingUnit,
    communes: Sequence[tuple[str, Mapping[str, Any]]],
    trend: Sequence[tuple[str, Mapping[str, Any]]],
    period_label: str,
) -> bytes:
    """The annex chart as PNG bytes, identical for identical data: commune bars, the trend, or both (not neither).

    ImportError when the chart's font (matplotlib's DejaVu Sans) or Pillow is missing: the caller
    then writes the report without a chart and says so.
    """
    return paint(chart_scene(unit, communes, trend, period_label))
