"""The monthly report of one reporting unit: its template context, the .docx and the PDF.

Why split in three steps: ``build_context`` turns metric rows, configuration and operator inputs
into values the template writes (every figure already in Vietnamese format, every choice of
wording reduced to a flag), so it can be tested without Word; ``render_report`` only fills the
template, which office staff edit in Word or LibreOffice; ``convert_to_pdf`` is optional and needs
LibreOffice. The wording lives in the template (``include/templates/bao-cao-thang.docx``), the
documents cited, the recipient, the signer and the distribution in the configuration: neither needs
a code change.

Rendering is deterministic: the same inputs give a byte-identical .docx (fixed document
properties derived from the period, fixed zip timestamps, a chart drawn without dates), so a
rerun that changes nothing changes no file, and a changed file means changed figures.

Heavy libraries (docxtpl, matplotlib) are imported inside the functions that need them, so the DAG
processor can import this package cheaply.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tthc.config import Document, ReportSettings, Targets, _nfc
from tthc.inputs import OperatorInputs
from tthc.metrics import DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS
from tthc.numbers import fmt_count, fmt_date, fmt_decimal, fmt_long_date, fmt_month, fmt_rate
from tthc.periods import Period, parse_period
from tthc.storage import atomic_write_bytes
from tthc.units import ReportingUnit, Unit

log = logging.getLogger(__name__)

LEVELS = ("huyen", "xa", "tong")
# The metric names and their order are defined once, by the metrics (docs/metrics.md).
COUNT_KEYS = DOSSIER_COUNTS
RATE_KEYS = tuple(DOSSIER_RATES)
FEEDBACK_KEYS = FEEDBACK_COUNTS
# Shortcomings the data shows, in the order the report writes them; the first opens with "Tuy nhiên,".
# Each rate is the unit's total (level ``tong``) against its target.
RATE_SHORTCOMINGS = (
    ("online_payment", "online_payment_rate"),
    ("on_time", "on_time_rate"),
    ("dossier_digitization", "dossier_digitization_rate"),
    ("result_digitization", "result_digitization_rate"),
)
ABSENT_CELL = "—"  # a rate with no case in a table cell; the annex explains it
CHART_WIDTH_MM = 160
CHART_DPI = 150
TREND_PERIODS = 12
# Communes are listed "các xã, thị trấn" in a district, "các phường, xã" in a city.
_CHILD_KIND_ORDER = {"phường": 0, "xã": 1, "thị trấn": 2}


# --------------------------------------------------------------------------------------------- wording helpers


def _sentence(text: str) -> str:
    """Operator text ends with punctuation, as the sentence around it expects."""
    text = text.strip()
    return text if not text or text[-1] in ".!?…:;" else text + "."


def _item(text: str) -> str:
    """A "Nơi nhận" item without the ``;`` or ``.`` the template adds."""
    return text.strip().rstrip(";.").strip()


def _children_kinds(unit: ReportingUnit) -> str:
    kinds = list(dict.fromkeys(child.kind for child in unit.children))
    kinds.sort(key=lambda kind: _CHILD_KIND_ORDER.get(kind, len(_CHILD_KIND_ORDER)))
    return ", ".join(kinds) if kinds else "xã"


def _join(items: list[str], last: str) -> str:
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + last + items[-1]


def _citation(doc: Document, *, long_date: bool = False) -> str:
    when = fmt_long_date(doc.date) if long_date else f"ngày {fmt_date(doc.date)}"
    return f"{doc.title} {when} của {doc.issuer}"


def _label(period_name: str) -> str:
    period = parse_period(period_name)
    return f"{period.month}/{period.year}"


def _as_decimal(value: Decimal | float | None) -> Decimal | None:
    """Rates are Decimal; a float (read back from SQLite, say) goes through its text, not its binary value."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


# -------------------------------------------------------------------------------------------------- the rows


def _check_row(row: Mapping[str, Any], unit: ReportingUnit, period: Period) -> None:
    where = f"dossier row {row.get('level')}/{row.get('unit_code')}"
    if str(row.get("district_code")) != unit.code:
        raise ValueError(f"{where} belongs to district {row.get('district_code')}, not {unit.code}")
    if str(row.get("period")) != period.name:
        raise ValueError(f"{where} is for period {row.get('period')}, not {period.name}")
    missing = [key for key in (*COUNT_KEYS, *RATE_KEYS) if key not in row]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")


def _split_rows(
    dossier_rows: Iterable[Mapping[str, Any]], unit: ReportingUnit, period: Period
) -> tuple[dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    """The rows of the three levels, and the commune rows by commune code; a missing level is an error."""
    levels: dict[str, Mapping[str, Any]] = {}
    communes: dict[str, Mapping[str, Any]] = {}
    for row in dossier_rows:
        _check_row(row, unit, period)
        level, code = row["level"], str(row["unit_code"])
        target = communes if level == "commune" else levels
        key = code if level == "commune" else level
        if level not in (*LEVELS, "commune"):
            raise ValueError(f"dossier row of unknown level {level!r} for unit {code}")
        if key in target:
            raise ValueError(f"two dossier rows for level {level}, unit {code}, period {period.name}")
        target[key] = row
    missing = [level for level in LEVELS if level not in levels]
    if missing:
        raise ValueError(f"no dossier rows of level {', '.join(missing)} for {unit.name}, period {period.name}")
    return levels, communes


def _zero_row(code: str) -> dict[str, Any]:
    return {"unit_code": code, **dict.fromkeys(COUNT_KEYS, 0), **dict.fromkeys(RATE_KEYS)}


def _cells(row: Mapping[str, Any], stt: str, name: str) -> dict[str, str]:
    """One annex table row: counts and rates in the report's formats (the ``%`` is in the heading)."""
    cells = {"stt": stt, "name": name}
    cells.update({key: fmt_count(int(row[key])) for key in COUNT_KEYS})
    cells.update({key: ABSENT_CELL if row[key] is None else fmt_decimal(row[key]) for key in RATE_KEYS})
    return cells


# --------------------------------------------------------------------------------------------- the sections


def _pair(levels: Mapping[str, Mapping[str, Any]], key: str) -> dict[str, Any]:
    """A rate at both levels; ``same`` when they share one phrase ("cấp huyện, cấp xã đạt tỷ lệ 100%")."""
    huyen, xa = levels["huyen"][key], levels["xa"][key]
    return {
        "huyen": None if huyen is None else fmt_rate(huyen),
        "xa": None if xa is None else fmt_rate(xa),
        "same": huyen is not None and xa is not None and _as_decimal(huyen) == _as_decimal(xa),
    }


def _shortcomings(
    total: Mapping[str, Any], feedback: Mapping[str, Any], targets: Targets, inputs: OperatorInputs | None
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, rate_key in RATE_SHORTCOMINGS:
        rate, target = _as_decimal(total[rate_key]), _as_decimal(getattr(targets, rate_key))
        if rate is None or target is None or rate >= target:
            found[key] = None
        else:
            found[key] = {"rate": fmt_rate(rate), "target": fmt_rate(target)}
    if found["on_time"]:
        found["on_time"]["late"] = fmt_count(int(total["resolved_late"]))
    late = int(feedback["feedback_late"])
    found["feedback_late"] = {"count": fmt_count(late)} if late else None
    overdue = int(total["pending_overdue"])
    found["pending_overdue"] = {"count": fmt_count(overdue)} if overdue else None
    first = next((key for key, value in found.items() if value), None)
    extra = [_sentence(text) for text in inputs.shortcomings] if inputs else []
    return {**found, "first": first, "extra": extra}


def _rate_change(previous: Any, current: Any) -> dict[str, Any] | None:
    before, now = _as_decimal(previous), _as_decimal(current)
    if before is None or now is None:
        return None
    delta = now - before
    return {
        "sign": (delta > 0) - (delta < 0),
        "delta": fmt_decimal(abs(delta)),
        "previous": fmt_rate(previous),
        "current": fmt_rate(current),
    }


def _change(
    history: list[dict] | None, total: Mapping[str, Any], period: Period, warnings: list[str]
) -> dict[str, Any] | None:
    """Month-over-month change of the unit's totals, when ``history`` holds the previous period."""
    if not history:
        return None
    previous_period = period.previous()
    previous = next((row for row in history if str(row.get("period")) == previous_period.name), None)
    if previous is None:
        warnings.append(f"history has no row for {previous_period.name}: the month-over-month change is left out")
        return None
    before, now = int(previous["received"]), int(total["received"])
    delta = now - before
    return {
        "previous_label": f"{previous_period.month}/{previous_period.year}",
        "received": {
            "sign": (delta > 0) - (delta < 0),
            "delta": fmt_count(abs(delta)),
            "previous": fmt_count(before),
            "current": fmt_count(now),
        },
        "on_time": _rate_change(previous.get("on_time_rate"), total["on_time_rate"]),
        "result_digitization": _rate_change(
            previous.get("result_digitization_rate"), total["result_digitization_rate"]
        ),
    }


def _inspection(settings: ReportSettings, inputs: OperatorInputs | None) -> dict[str, Any]:
    found = inputs.inspections if inputs else None
    return {
        "plan": settings.inspection_plan,
        "lead": settings.inspection_lead,
        "known": found is not None,
        "count": found.count if found else None,
        "count_fmt": fmt_count(found.count) if found and found.count is not None else None,
        "violations": found.violations if found else 0,
        "violations_fmt": fmt_count(found.violations) if found else None,
        "findings": _sentence(found.findings) if found and found.findings else None,
    }


def _hotline(feedback: Mapping[str, Any]) -> dict[str, Any]:
    values = {"received": "feedback_received", "about": "feedback_about_procedures", "late": "feedback_late"}
    out: dict[str, Any] = {}
    for name, key in values.items():
        out[name] = int(feedback[key])
        out[f"{name}_fmt"] = fmt_count(out[name])
    return out


def _chart_png(
    unit: ReportingUnit,
    communes: Sequence[tuple[str, Mapping[str, Any]]],
    trend: Sequence[tuple[str, Mapping[str, Any]]],
    period_label: str,
) -> bytes:
    """The annex chart as PNG bytes, identical for identical data.

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

    series = (("on_time_rate", "Tỷ lệ giải quyết đúng hạn", "#1f4e79"),
              ("result_digitization_rate", "Tỷ lệ số hóa kết quả", "#9dc3e6"))
    percent = FuncFormatter(lambda value, _pos: fmt_rate(round(value, 2)))
    rc: dict[str, Any] = {"font.family": "DejaVu Sans", "font.size": 8, "svg.hashsalt": "tthc", "axes.titlesize": 9,
          "axes.spines.top": False, "axes.spines.right": False}
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # a matplotlibrc on the worker must not change the picture
        matplotlib.rcParams.update(rc)  # type: ignore[arg-type]  # matplotlib types its keys as a Literal
        bars_h = 0.6 + 0.28 * max(len(communes), 1)
        trend_h = 2.2 if trend else 0
        fig = Figure(figsize=(CHART_WIDTH_MM / 25.4, bars_h + trend_h + 0.6), dpi=CHART_DPI)
        FigureCanvasAgg(fig)
        axes = fig.subplots(2 if trend else 1, 1, squeeze=False, height_ratios=[bars_h, trend_h] if trend else None)
        ax = axes[0][0]
        names = [name for name, _ in communes]
        for i, (key, label, color) in enumerate(series):
            ys = [pos + (i - 0.5) * 0.38 for pos in range(len(communes))]
            values = [float(row[key]) if row[key] is not None else 0.0 for _, row in communes]
            ax.barh(ys, values, height=0.36, color=color, label=label)
            for y, (_, row) in zip(ys, communes, strict=True):
                text = ABSENT_CELL if row[key] is None else fmt_decimal(row[key])
                ax.text((float(row[key]) if row[key] is not None else 0.0) + 1, y, text, va="center", fontsize=6)
        ax.set_yticks(range(len(communes)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 112)
        ax.xaxis.set_major_formatter(percent)
        ax.set_title(f"Theo đơn vị cấp xã, tháng {period_label}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
        if trend:
            ax2 = axes[1][0]
            xs = range(len(trend))
            for key, label, color in series:
                points = [(x, float(row[key])) for x, (_, row) in zip(xs, trend, strict=True) if row[key] is not None]
                ax2.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, color=color,
                         label=label)
            ax2.set_xticks(list(xs), [label for label, _ in trend], rotation=45, ha="right")
            ax2.set_ylim(0, 105)
            ax2.yaxis.set_major_formatter(percent)
            ax2.set_title(f"{unit.name}: {len(trend)} kỳ báo cáo gần nhất")
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return out.getvalue()


# ----------------------------------------------------------------------------------------------- the context


def build_context(
    *,
    unit: ReportingUnit,
    province: Unit,
    settings: ReportSettings,
    targets: Targets,
    period: Period,
    dossier_rows: list[dict],
    feedback: dict,
    inputs: OperatorInputs | None,
    history: list[dict] | None = None,
) -> tuple[dict, list[str]]:
    """The template's context for one unit and period, and warnings for the run's notes.

    Every figure is formatted here (``tthc.numbers``) and every choice between wordings is a flag
    or None, so the sentences live in the template; the code gives only names, labels (``cấp
    huyện``, ``Tổng cộng``) and the citation form of a document (``<title> ngày <date> của
    <issuer>``). Rows of another district or
    period, or a missing level, are errors: they mean the pipeline mixed data up. Missing operator
    inputs, signer or commune rows are warnings: the report is still a usable draft.

    The key ``chart`` holds PNG bytes (``render_report`` turns them into a picture); ``meta`` holds
    the document properties and is not used by the template.
    """
    warnings: list[str] = []
    levels, commune_rows = _split_rows(dossier_rows, unit, period)
    total = levels["tong"]
    missing_feedback = [key for key in FEEDBACK_KEYS if key not in feedback]
    if missing_feedback:
        raise ValueError(f"feedback metrics lack {', '.join(missing_feedback)}")

    if inputs is None:
        warnings.append(f"no operator inputs (neither inputs/{period.name}/{unit.code}.yaml nor the office fields "
                        "of the trigger form): neutral sentences used for inspections, resources and the assessment")
    else:
        if inputs.inspections is None:
            warnings.append("operator inputs give no inspections: the sentence on findings is left out")
        if inputs.resources is None:
            warnings.append("operator inputs give no resources sentence: neutral sentence used")
        if not inputs.assessment:
            warnings.append("operator inputs give no general assessment: neutral sentence used")
    if not settings.signer.name:
        warnings.append(f"no signer configured for {unit.name}: the name line is left blank")

    known = {child.code for child in unit.children}
    unknown = sorted(set(commune_rows) - known)
    if unknown:
        warnings.append(f"dossier rows for units that are not communes of {unit.name} ignored: {', '.join(unknown)}")
    absent = [child.code for child in unit.children if child.code not in commune_rows]
    if absent:
        warnings.append(f"no dossier rows for communes {', '.join(absent)}: shown with no dossier")
    communes = [(child.name, commune_rows.get(child.code) or _zero_row(child.code)) for child in unit.children]

    level_huyen = f"cấp {unit.kind}"
    shortcomings = _shortcomings(total, feedback, targets, inputs)
    chart: bytes | None = None
    earlier: list[tuple[str, Mapping[str, Any]]] = [
        (_label(row["period"]), row) for row in (history or []) if str(row.get("period")) < period.name]
    trend = [*earlier[-(TREND_PERIODS - 1) :], (f"{period.month}/{period.year}", total)] if earlier else []
    try:
        chart = _chart_png(unit, communes, trend, f"{period.month}/{period.year}")
    except ImportError:
        warnings.append("matplotlib is not installed: the annex has no chart")

    kind_name = f"{unit.kind} {unit.short_name}"
    implements_full = _join([_citation(doc) for doc in settings.implements], " và ")
    context = {
        "unit": {
            "code": unit.code,
            "name": unit.name,
            "short_name": unit.short_name,
            "kind": unit.kind,
            "kind_name": kind_name,
            "name_upper": unit.name.upper(),
            "children_kinds": _children_kinds(unit),
        },
        "province": {"code": province.code, "name": province.name, "short_name": province.short_name},
        "period": {
            "name": period.name,
            "month": period.month,
            "year": period.year,
            "label": f"{period.month}/{period.year}",
            "header_month": fmt_month(period.month, issue_date=True),
            "first_day": fmt_date(period.start_date),
            "last_day": fmt_date(period.end_date - timedelta(days=1)),
        },
        "recipient": settings.recipient,
        "implements": {
            "full": implements_full,
            "short": _join([f"{doc.title} của {doc.issuer_short or doc.issuer}" for doc in settings.implements], ", "),
        },
        "request": _citation(settings.request, long_date=True)
        + (f" về việc {settings.request.about}" if settings.request.about else ""),
        "levels": {"huyen": level_huyen, "xa": "cấp xã"},
        "digitization": {
            "dossier": _pair(levels, "dossier_digitization_rate"),
            "result": _pair(levels, "result_digitization_rate"),
            "on_target": not (shortcomings["dossier_digitization"] or shortcomings["result_digitization"]),
        },
        "inspection": _inspection(settings, inputs),
        "hotline": _hotline(feedback),
        "resources": _sentence(inputs.resources) if inputs and inputs.resources else None,
        "assessment": [_sentence(text) for text in inputs.assessment] if inputs else [],
        "change": _change(history, total, period, warnings),
        "shortcomings": shortcomings,
        "distribution": [_item(text) for text in settings.distribution],
        "archive": _item(settings.archive),
        "signer": {
            "capacity_prefix": settings.signer.capacity_prefix,
            "capacity": settings.signer.capacity,
            "name": settings.signer.name or "",
        },
        "annex": {
            "huyen": _cells(levels["huyen"], "1", level_huyen[0].upper() + level_huyen[1:]),
            "xa": _cells(levels["xa"], "2", "Cấp xã"),
            "tong": _cells(total, "", "Tổng cộng"),
            "communes": [_cells(row, f"2.{i}", name) for i, (name, row) in enumerate(communes, start=1)],
            "feedback": {key: fmt_count(int(feedback[key])) for key in FEEDBACK_KEYS},
        },
        "chart": chart,
        "meta": {
            "unit_code": unit.code,
            "period": period.name,
            "document_date": period.end_date.isoformat(),
            "title": f"Báo cáo tháng {period.month}/{period.year} của Ủy ban nhân dân {kind_name}",
            "subject": f"Công tác triển khai thực hiện {implements_full}",
            "author": f"Ủy ban nhân dân {kind_name}",
        },
    }
    return _nfc(context), warnings


# ------------------------------------------------------------------------------------------------- rendering


def _fixed_moment(context: Mapping[str, Any]) -> datetime:
    meta = context.get("meta") or {}
    if meta.get("document_date"):
        return datetime.combine(date.fromisoformat(meta["document_date"]), datetime.min.time())
    return datetime(1980, 1, 1)


def normalise_package(data: bytes, moment: datetime) -> bytes:
    """A .docx package rewritten with fixed zip timestamps and attributes (python-docx stamps entries with "now").

    Used for each report and by ``scripts/make_template.py`` for the template; entry order and
    contents are kept, so Word and LibreOffice read the same document.
    """
    stamp = (max(moment.year, 1980), moment.month, moment.day, 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()


def render_report(template_path: Path, context: dict, out_path: Path) -> Path:
    """Fill the template with ``context`` and write the .docx atomically; same context, same bytes.

    ``out_path`` is a ``pathlib.Path`` or any path-like object of ``tthc.storage`` (object storage
    when workers run on several hosts); it is returned as given.

    Values are XML-escaped (docxtpl's default is not to: an ``&`` in "LĐVP.HĐND&UBND" would corrupt
    the file) and an unknown placeholder is an error rather than a blank: a template edited with a
    typo must fail the run, not print a report with a hole in it.
    """
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage
    from jinja2 import Environment, StrictUndefined

    template = DocxTemplate(str(template_path))
    template.init_docx()
    props = template.docx.core_properties
    # docxtpl renders these properties as Jinja too; they are set below from ``meta``, so a brace a
    # clerk left in File > Properties must not break the run.
    props.author = props.comments = props.identifier = props.language = props.subject = props.title = ""
    values = dict(context)
    if values.get("chart"):
        values["chart"] = InlineImage(template, io.BytesIO(values["chart"]), width=Mm(CHART_WIDTH_MM))
    template.render(values, jinja_env=Environment(undefined=StrictUndefined, autoescape=True), autoescape=True)

    moment = _fixed_moment(context)
    meta = context.get("meta") or {}
    props.author = props.last_modified_by = meta.get("author", "")
    props.title = meta.get("title", "")
    props.subject = meta.get("subject", "")
    props.comments = props.keywords = props.category = props.identifier = ""
    props.language = "vi-VN"
    props.revision = 1
    props.created = props.modified = props.last_printed = moment

    buffer = io.BytesIO()
    template.save(buffer)
    out_path = Path(out_path) if isinstance(out_path, str) else out_path
    atomic_write_bytes(out_path, normalise_package(buffer.getvalue(), moment))
    return out_path


# ------------------------------------------------------------------------------------------------------ PDF


PDF_TIMEOUT_SECONDS = 120  # one conversion; the model report takes 1-2 s, a hung LibreOffice never ends
# Private folders of one process: ``tthc-soffice-<pid>-<random>`` under the system's temporary folder.
SCRATCH_PREFIX = "tthc-soffice-"


def find_soffice() -> str | None:
    """LibreOffice's command on PATH (``soffice`` or ``libreoffice``), or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def _processes_using(folder: Path) -> list[int]:
    """Processes started for ``folder``: its path in their command line or as their HOME (Linux ``/proc``).

    Why both: LibreOffice's launcher passes the profile on its command line, and every process it
    starts inherits the HOME set for the conversion. Empty where there is no ``/proc``.
    """
    marker, home = os.fsencode(str(folder)), b"HOME=" + os.fsencode(str(folder)) + b"\0"
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "cmdline").read_bytes() or home in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return [pid for pid in found if pid != os.getpid()]


def sweep_scratch(base: Path | None = None) -> list[Path]:
    """Remove the scratch folders of processes that no longer exist, ending the LibreOffice they left running.

    Why: a task killed by SIGKILL (out of memory, a worker shut down hard) runs no ``finally``, so
    its ``TemporaryDirectory`` and LibreOffice's profile stay behind, and LibreOffice itself, in its own
    process group, may still run. The folder's name carries the pid of the process that made it; when
    that process is gone, whatever still runs inside the folder is killed and the folder removed. A
    folder of a live process (another task converting on this worker) is left alone. This assumes the
    temporary folder is not shared between pid namespaces (containers), as it is not by default.
    """
    removed = []
    for folder in Path(base or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        owner = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if not folder.is_dir() or not owner.isdigit() or _pid_alive(int(owner)):
            continue
        orphans = _processes_using(folder)
        for pid in orphans:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(_pid_alive(pid) for pid in orphans) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
            log.info("removed %s, left by process %s that no longer runs (%d process(es) ended)", folder, owner,
                     len(orphans))
    return removed


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A private temporary folder named after this process, removed on exit; stale ones are swept first.

    Normal exits and exceptions remove it (``TemporaryDirectory``); a SIGKILL does not, so the next
    conversion on the host sweeps it (``sweep_scratch``).
    """
    sweep_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as work:
        yield Path(work)


def _convert_in(work: Path, source: Path, executable: str, timeout: float) -> bytes:
    """Convert ``source`` (inside ``work``) with headless LibreOffice; the PDF's bytes, or an error.

    The profile lives in ``work``: two conversions sharing the default profile (two tasks on one
    worker) block or fail on its lock. LibreOffice runs in its own process group, so that a timeout,
    or any exception here (Airflow's ``execution_timeout`` raises in the task), ends its child
    ``soffice.bin`` too: ``finally`` kills the group whenever the launcher has not exited.
    """
    profile, outdir = work / "profile", work / "out"
    command = [
        executable,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nofirststartwizard",
        "--convert-to", "pdf:writer_pdf_Export",
        "--outdir", str(outdir),
        str(source),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "HOME": str(work)},
    )
    try:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"LibreOffice did not convert {source.name} within {timeout:g} s") from None
    finally:
        if process.returncode is None:  # still running: timed out, or interrupted by an exception
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    produced = outdir / f"{source.stem}.pdf"
    if process.returncode != 0 or not produced.is_file():
        detail = (stderr or stdout).decode("utf-8", "replace").strip()
        raise RuntimeError(f"LibreOffice failed to convert {source.name} (exit {process.returncode}): {detail}")
    return produced.read_bytes()


def pdf_bytes(docx: bytes, name: str, timeout: float = PDF_TIMEOUT_SECONDS) -> bytes | None:
    """The PDF of a .docx given as bytes (``name`` is its file name); None without LibreOffice; an error if it fails.

    Nothing is written outside a scratch folder, so a caller publishes the PDF when, and where, it chooses.
    """
    executable = find_soffice()
    if executable is None:
        return None
    with scratch_folder() as work:
        source = work / name
        source.write_bytes(docx)
        return _convert_in(work, source, executable, timeout)


def render_documents(template_path: Path, context: dict, name: str,
                     timeout: float = PDF_TIMEOUT_SECONDS) -> tuple[bytes, bytes | None]:
    """The report as .docx bytes and its PDF's bytes (None without LibreOffice), made in a scratch folder.

    Why bytes and not files in the reports folder: a report set (.docx, .pdf, evidence) is published
    by its caller only when every part of it exists, so a failed or killed conversion never leaves a
    new .docx beside an old PDF. ``name`` is the .docx's file name (LibreOffice names the PDF after it).
    """
    with scratch_folder() as work:
        source = render_report(template_path, context, work / name)
        docx = source.read_bytes()
        executable = find_soffice()
        if executable is None:
            return docx, None
        return docx, _convert_in(work, source, executable, timeout)


def convert_to_pdf(docx_path: Path, timeout: float = PDF_TIMEOUT_SECONDS) -> Path | None:
    """Convert with headless LibreOffice to a PDF beside the .docx; None (and one log line) without LibreOffice.

    For a .docx already written (tests, by hand); the pipeline uses ``render_documents``. A failed
    conversion raises and writes nothing. LibreOffice works on a copy in a scratch folder, so
    ``docx_path`` may also be on object storage.
    """
    docx_path = Path(docx_path) if isinstance(docx_path, str) else docx_path
    if find_soffice() is None:
        log.warning("LibreOffice (soffice) is not on PATH: no PDF written for %s", docx_path.name)
        return None
    pdf = pdf_bytes(docx_path.read_bytes(), docx_path.name, timeout)
    if pdf is None:  # LibreOffice removed between the two looks
        return None
    return atomic_write_bytes(docx_path.with_suffix(".pdf"), pdf)
