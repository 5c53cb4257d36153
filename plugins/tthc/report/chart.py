"""The annex chart: on-time and result-digitization rates per commune, and the unit's recent trend.

Why its own module: it is the one part of the report drawn rather than written, and the one that
must be made deterministic by hand (matplotlib stamps its version, follows the host's settings and
fonts): identical data must give an identical picture, or a rerun would change a signed report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from tthc.numbers import fmt_decimal, fmt_rate
from tthc.units import ReportingUnit

CHART_WIDTH_MM = 160
CHART_DPI = 150
ABSENT_CELL = "—"  # a rate with no case; the annex explains it
SERIES = (("on_time_rate", "Tỷ lệ giải quyết đúng hạn", "#1f4e79"),
          ("result_digitization_rate", "Tỷ lệ số hóa kết quả", "#9dc3e6"))


def chart_png(
    unit: ReportingUnit,
    communes: Sequence[tuple[str, Mapping[str, Any]]],
    trend: Sequence[tuple[str, Mapping[str, Any]]],
    period_label: str,
) -> bytes:
    """The annex chart as PNG bytes, identical for identical data: commune bars, the trend, or both (not neither).

    Left to matplotlib's defaults a PNG carries the library version, and the picture follows the
    host's matplotlibrc and fonts; here the settings start from matplotlib's defaults, the font is
    the one bundled with matplotlib (DejaVu Sans, which has every Vietnamese letter), the size and
    DPI are fixed and the metadata is emptied. pyplot is not used: it keeps global state across
    tasks of a worker.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    percent = FuncFormatter(lambda value, _pos: fmt_rate(round(value, 2)))
    rc: dict[str, Any] = {"font.family": "DejaVu Sans", "font.size": 8, "svg.hashsalt": "tthc", "axes.titlesize": 9,
          "axes.spines.top": False, "axes.spines.right": False}
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # a matplotlibrc on the worker must not change the picture
        matplotlib.rcParams.update(rc)  # type: ignore[arg-type]  # matplotlib types its keys as a Literal
        bars_h = 0.6 + 0.28 * len(communes) if communes else 0  # a unit reporting for itself has no bars
        trend_h = 2.2 if trend else 0
        heights = [height for height in (bars_h, trend_h) if height]
        fig = Figure(figsize=(CHART_WIDTH_MM / 25.4, bars_h + trend_h + 0.6), dpi=CHART_DPI)
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(heights), 1, squeeze=False, height_ratios=heights if len(heights) > 1 else None)
        panels = iter(row[0] for row in axes)
        if communes:
            _commune_bars(next(panels), communes, period_label, percent)
        if trend:
            _trend_lines(next(panels), unit, trend, percent)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return out.getvalue()


Labelled = Sequence[tuple[str, Mapping[str, Any]]]


def _commune_bars(ax: Any, communes: Labelled, period_label: str, percent: Any) -> None:
    """Both rates of each commune as paired horizontal bars, each with its figure ("—" where nothing arose)."""
    for i, (key, label, color) in enumerate(SERIES):
        ys = [pos + (i - 0.5) * 0.38 for pos in range(len(communes))]
        values = [float(row[key]) if row[key] is not None else 0.0 for _, row in communes]
        ax.barh(ys, values, height=0.36, color=color, label=label)
        for y, value, (_, row) in zip(ys, values, communes, strict=True):
            text = ABSENT_CELL if row[key] is None else fmt_decimal(row[key])
            ax.text(value + 1, y, text, va="center", fontsize=6)
    ax.set_yticks(range(len(communes)), [name for name, _ in communes])
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.xaxis.set_major_formatter(percent)
    ax.set_title(f"Theo đơn vị cấp xã, tháng {period_label}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)


def _trend_lines(ax: Any, unit: ReportingUnit, trend: Labelled, percent: Any) -> None:
    """Both rates of the unit over its recent periods; a period without a rate leaves a gap in its line."""
    xs = range(len(trend))
    for key, label, color in SERIES:
        points = [(x, float(row[key])) for x, (_, row) in zip(xs, trend, strict=True) if row[key] is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, color=color, label=label)
    ax.set_xticks(list(xs), [label for label, _ in trend], rotation=45, ha="right")
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter(percent)
    ax.set_title(f"{unit.name}: {len(trend)} kỳ báo cáo gần nhất")
