"""The template's context for one unit and period: every value the report writes, already in words.

Why here: the template (``include/templates/bao-cao-thang.docx``) is a clerk's document and holds
no logic beyond whole-paragraph choices, and the phrase file beside it holds the words of every
case that changes inside a sentence. What remains is code: checking the metric rows belong to the
unit and period, formatting every figure the Vietnamese way (``tthc.numbers``), choosing which case
of each phrase applies, and listing what is missing as warnings for the run's notes. The content
rules are those of ``docs/report.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tthc.config import Document, ReportSettings, Targets, _nfc
from tthc.inputs import OperatorInputs
from tthc.metrics import DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS
from tthc.numbers import fmt_count, fmt_date, fmt_decimal, fmt_long_date, fmt_month, fmt_rate
from tthc.periods import Period, parse_period
from tthc.phrases import Phrases
from tthc.report.chart import ABSENT_CELL
from tthc.units import ReportingUnit, Unit

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
TREND_PERIODS = 12
# Communes are listed "các xã, thị trấn" in a district, "các phường, xã" in a city.
_CHILD_KIND_ORDER = {"phường": 0, "xã": 1, "thị trấn": 2}
Rows = Mapping[str, Mapping[str, Any]]


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


def _reports_for_itself(unit: ReportingUnit) -> bool:
    """A unit with no unit under it (a commune or ward after the 2025 reform) reports on its own desk alone."""
    return not unit.children


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


def _split_rows(dossier_rows: Iterable[Mapping[str, Any]], unit: ReportingUnit, period: Period) -> tuple[Rows, Rows]:
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


def _communes(unit: ReportingUnit, commune_rows: Rows, warnings: list[str]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every commune of the unit with its row, in the unit's order; a commune without a row counts nothing."""
    known = {child.code for child in unit.children}
    unknown = sorted(set(commune_rows) - known)
    if unknown:
        warnings.append(f"dossier rows for units that are not communes of {unit.name} ignored: {', '.join(unknown)}")
    absent = [child.code for child in unit.children if child.code not in commune_rows]
    if absent:
        warnings.append(f"no dossier rows for communes {', '.join(absent)}: shown with no dossier")
    return [(child.name, commune_rows.get(child.code) or _zero_row(child.code)) for child in unit.children]


def _cells(row: Mapping[str, Any], stt: str, name: str) -> dict[str, str]:
    """One annex table row: counts and rates in the report's formats (the ``%`` is in the heading)."""
    cells = {"stt": stt, "name": name}
    cells.update({key: fmt_count(int(row[key])) for key in COUNT_KEYS})
    cells.update({key: ABSENT_CELL if row[key] is None else fmt_decimal(row[key]) for key in RATE_KEYS})
    return cells


# --------------------------------------------------------------------------------------------- the sections


def _missing_inputs(inputs: OperatorInputs | None, period: Period, unit: ReportingUnit) -> list[str]:
    """What the office did not give, each written with the neutral wording the report uses instead."""
    if inputs is None:
        return [f"no operator inputs (neither inputs/{period.name}/{unit.code}.yaml nor the office fields of the "
                "trigger form): neutral sentences used for inspections, resources and the assessment"]
    return [warning for missing, warning in (
        (inputs.inspections is None, "operator inputs give no inspections: the sentence on findings is left out"),
        (inputs.resources is None, "operator inputs give no resources sentence: neutral sentence used"),
        (not inputs.assessment, "operator inputs give no general assessment: neutral sentence used"),
    ) if missing]


def _digitization(levels: Rows, shortcomings: Mapping[str, Any], level_names: Mapping[str, str] | None,
                  phrases: Phrases) -> dict[str, str]:
    """The digitization point: its closing phrase and the dossier and result rates at both levels."""
    on_target = not (shortcomings["dossier_digitization"] or shortcomings["result_digitization"])
    return {
        "achievement": phrases.say("digitization", "on_target" if on_target else "below_target"),
        "dossier": _rate_by_level(levels, "dossier_digitization_rate", level_names, phrases),
        "result": _rate_by_level(levels, "result_digitization_rate", level_names, phrases),
    }


def _rate_by_level(levels: Rows, key: str, level_names: Mapping[str, str] | None, phrases: Phrases) -> str:
    """A rate at both levels: one phrase when they are equal ("cấp huyện, cấp xã đạt tỷ lệ 100%"), else each.

    ``level_names`` is None for a unit that reports for itself: its one level is written alone ("đạt 100%").
    """

    def one(value: Any) -> str:
        if value is None:
            return phrases.say("digitization", "level_none")
        return phrases.say("digitization", "level_rate", rate=fmt_rate(value))

    if level_names is None:
        return one(levels["huyen"][key])
    huyen, xa = _as_decimal(levels["huyen"][key]), _as_decimal(levels["xa"][key])
    names = {"district_level": level_names["huyen"], "commune_level": level_names["xa"]}
    if huyen is not None and huyen == xa:
        return phrases.say("digitization", "same_rate", **names, rate=fmt_rate(levels["huyen"][key]))
    return phrases.say("digitization", "by_level", **names, district=one(levels["huyen"][key]),
                       commune=one(levels["xa"][key]))


def _inspection(unit: ReportingUnit, settings: ReportSettings, inputs: OperatorInputs | None) -> dict[str, str]:
    """The inspection point's four phrases: the year's plan, its lead, the month's count, what was found."""
    phrases, found = settings.phrases, inputs.inspections if inputs else None
    if found is None:
        result = phrases.say("inspection", "not_reported")
    elif found.violations:
        result = phrases.say("inspection", "violations", violations=fmt_count(found.violations),
                             findings=_sentence(found.findings) if found.findings else "")
    else:
        result = phrases.say("inspection", "no_violations")
    return {
        "plan": phrases.say("inspection", "plan", unit_kind=unit.kind, plan=settings.inspection_plan)
        if settings.inspection_plan else phrases.say("inspection", "no_plan"),
        "lead": _inspection_lead(unit, settings.inspection_lead, phrases),
        "count": phrases.say("inspection", "count", count=fmt_count(found.count))
        if found and found.count else phrases.say("inspection", "no_count"),
        "result": result,
    }


def _inspection_lead(unit: ReportingUnit, lead: str | None, phrases: Phrases) -> str:
    """Who leads the inspections, over the unit's bodies and, for a unit with communes, theirs."""
    if not lead:
        return phrases.say("inspection", "no_lead")
    if _reports_for_itself(unit):
        return phrases.say("inspection", "lead_own_desk", unit_kind=unit.kind, lead=lead)
    return phrases.say("inspection", "lead", unit_kind=unit.kind, children_kinds=_children_kinds(unit), lead=lead)


def _hotline(unit: ReportingUnit, feedback: Mapping[str, Any], phrases: Phrases) -> dict[str, Any]:
    """The hotline point: which of its three paragraphs applies, who handles the feedback, and its figures."""
    received, about, late = (int(feedback[key]) for key in
                             ("feedback_received", "feedback_about_procedures", "feedback_late"))
    return {
        "none_received": received == 0,
        "some_late": late > 0,
        "received": fmt_count(received),
        "late": fmt_count(late),
        "about": phrases.say("hotline", "about_procedures", count=fmt_count(about))
        if about else phrases.say("hotline", "none_about_procedures"),
        "handled_by": phrases.say("hotline", "handled_by_own_desk" if _reports_for_itself(unit) else "handled_by",
                                  unit_kind=unit.kind),
    }


def _shortcomings(
    total: Mapping[str, Any], feedback: Mapping[str, Any], targets: Targets, inputs: OperatorInputs | None
) -> dict[str, Any]:
    """The shortcomings the data shows (None where there is none), which comes first, and the office's own."""
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


def _moved(name: str, before: Any, now: Any, phrases: Phrases, *, figure: Any, delta: Any) -> str:
    """``change.<name>_up``, ``_down`` or ``_same`` filled; ``_unknown`` when either month has no figure.

    ``figure`` formats the two months' values and ``delta`` their difference: a count both as a count,
    a rate as a rate (``71,26%``) and its change in percentage points without the sign (``1,5``).
    """
    if before is None or now is None:
        return phrases.say("change", f"{name}_unknown")
    moved = now - before
    case = "up" if moved > 0 else "down" if moved < 0 else "same"
    return phrases.say("change", f"{name}_{case}", delta=delta(abs(moved)), previous=figure(before),
                       current=figure(now))


def _change(history: list[dict] | None, total: Mapping[str, Any], period: Period, phrases: Phrases,
            warnings: list[str]) -> dict[str, Any] | None:
    """Month-over-month change of the unit's totals, when ``history`` holds the previous period."""
    if not history:
        return None
    previous_period = period.previous()
    previous = next((row for row in history if str(row.get("period")) == previous_period.name), None)
    if previous is None:
        warnings.append(f"history has no row for {previous_period.name}: the month-over-month change is left out")
        return None

    def rate(name: str, key: str) -> str:
        return _moved(name, _as_decimal(previous.get(key)), _as_decimal(total[key]), phrases, figure=fmt_rate,
                      delta=fmt_decimal)

    return {
        "previous_label": f"{previous_period.month}/{previous_period.year}",
        "received": _moved("received", int(previous["received"]), int(total["received"]), phrases,
                           figure=fmt_count, delta=fmt_count),
        "on_time": rate("on_time", "on_time_rate"),
        "result_digitization": rate("result_digitization", "result_digitization_rate"),
    }


def _chart(unit: ReportingUnit, period: Period, communes: list[tuple[str, Mapping[str, Any]]],
           total: Mapping[str, Any], history: list[dict] | None, warnings: list[str]) -> bytes | None:
    """The annex chart's PNG: the communes' rates, and the unit's trend over the periods the warehouse holds.

    None when there is nothing to draw: no commune (a unit reporting for itself) and no earlier period.
    """
    from tthc.report.chart import chart_png

    label = f"{period.month}/{period.year}"
    earlier: list[tuple[str, Mapping[str, Any]]] = [
        (_label(row["period"]), row) for row in (history or []) if str(row.get("period")) < period.name]
    trend = [*earlier[-(TREND_PERIODS - 1):], (label, total)] if earlier else []
    if not communes and not trend:  # a unit reporting for itself, in its first month in the warehouse
        return None
    try:
        return chart_png(unit, communes, trend, label)
    except ImportError:
        warnings.append("matplotlib is not installed: the annex has no chart")
        return None


def _annex(unit: ReportingUnit, levels: Rows, communes: list[tuple[str, Mapping[str, Any]]],
           feedback: Mapping[str, Any]) -> dict[str, Any]:
    """The annex tables' cells: both levels, each commune, the total, and the hotline's figures.

    A unit that reports for itself has one row, its own desk under its name; ``xa`` and ``tong``
    are None, and the template leaves out the rows of the commune level and the total.
    """
    feedback_cells = {key: fmt_count(int(feedback[key])) for key in FEEDBACK_KEYS}
    if _reports_for_itself(unit):
        return {"huyen": _cells(levels["huyen"], "1", unit.name), "xa": None, "tong": None, "communes": [],
                "feedback": feedback_cells}
    return {
        "huyen": _cells(levels["huyen"], "1", f"Cấp {unit.kind}"),
        "xa": _cells(levels["xa"], "2", "Cấp xã"),
        "tong": _cells(levels["tong"], "", "Tổng cộng"),
        "communes": [_cells(row, f"2.{i}", name) for i, (name, row) in enumerate(communes, start=1)],
        "feedback": feedback_cells,
    }


# ----------------------------------------------------------------------------------------------- the context


def letter_parts(settings: ReportSettings, period: Period) -> dict[str, Any]:
    """What every letter writes the same way, a unit's report or the province's: the period's dates, the
    recipient, the documents implemented and the request answered, the distribution list and the signer."""
    return {
        "period": {
            "label": f"{period.month}/{period.year}",
            "month": period.month,
            "year": period.year,
            "header_month": fmt_month(period.month, issue_date=True),
            "first_day": fmt_date(period.start_date),
            "last_day": fmt_date(period.end_date - timedelta(days=1)),
        },
        "recipient": settings.recipient,
        "implements": {
            "full": _join([_citation(doc) for doc in settings.implements], " và "),
            "short": _join([f"{doc.title} của {doc.issuer_short or doc.issuer}" for doc in settings.implements], ", "),
        },
        "request": _citation(settings.request, long_date=True)
        + (f" về việc {settings.request.about}" if settings.request.about else ""),
        "distribution": [_item(text) for text in settings.distribution],
        "archive": _item(settings.archive),
        "signer": {
            "capacity_prefix": settings.signer.capacity_prefix,
            "capacity": settings.signer.capacity,
            "name": settings.signer.name or "",
        },
    }


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

    Every figure is formatted here and every case of a sentence is already in words, from the phrase
    file of ``settings.phrases``; what the template still chooses are whole paragraphs, on flags
    (``hotline.none_received``) or on a value being empty (``change``, ``resources``). Rows of another
    district or period, or a missing level, are errors: they mean the pipeline mixed data up. Missing
    operator inputs, signer or commune rows are warnings: the report is still a usable draft.

    The key ``chart`` holds PNG bytes (``render_report`` turns them into a picture); ``meta`` holds
    the document properties and is not used by the template.
    """
    levels, commune_rows = _split_rows(dossier_rows, unit, period)
    missing_feedback = [key for key in FEEDBACK_KEYS if key not in feedback]
    if missing_feedback:
        raise ValueError(f"feedback metrics lack {', '.join(missing_feedback)}")
    warnings = _missing_inputs(inputs, period, unit)
    if not settings.signer.name:
        warnings.append(f"no signer configured for {unit.name}: the name line is left blank")
    communes = _communes(unit, commune_rows, warnings)

    total, phrases = levels["tong"], settings.phrases
    level_names = None if _reports_for_itself(unit) else {"huyen": f"cấp {unit.kind}", "xa": "cấp xã"}
    shortcomings = _shortcomings(total, feedback, targets, inputs)
    kind_name = f"{unit.kind} {unit.short_name}"
    letter = letter_parts(settings, period)
    context = {
        "unit": {
            "code": unit.code,
            "name": unit.name,
            "short_name": unit.short_name,
            "kind": unit.kind,
            "kind_name": kind_name,
            "name_upper": unit.name.upper(),
            "children_kinds": _children_kinds(unit),
            "reports_for_itself": _reports_for_itself(unit),
        },
        "province": {"name": province.name, "short_name": province.short_name},
        **letter,
        "digitization": _digitization(levels, shortcomings, level_names, phrases),
        "inspection": _inspection(unit, settings, inputs),
        "hotline": _hotline(unit, feedback, phrases),
        "resources": _sentence(inputs.resources) if inputs and inputs.resources else None,
        "assessment": [_sentence(text) for text in inputs.assessment] if inputs else [],
        "change": _change(history, total, period, phrases, warnings),
        "shortcomings": shortcomings,
        "annex": _annex(unit, levels, communes, feedback),
        "chart": _chart(unit, period, communes, total, history, warnings),
        "meta": {
            "unit_code": unit.code,
            "period": period.name,
            "document_date": period.end_date.isoformat(),
            "title": f"Báo cáo tháng {period.month}/{period.year} của Ủy ban nhân dân {kind_name}",
            "subject": f"Công tác triển khai thực hiện {letter['implements']['full']}",
            "author": f"Ủy ban nhân dân {kind_name}",
        },
    }
    return _nfc(context), warnings


# What the report writes instead of an input nobody gave this month (the evidence says it per field).
DEFAULTED_WORDING = {
    "inspections": "the sentence on inspections' findings is left out",
    "resources": "the template's neutral sentence on resources",
    "assessment": "the template's neutral general assessment",
    "shortcomings": "only the shortcomings the data shows",
}


def inputs_evidence(record: Any) -> dict[str, Any]:
    """Where the report's office inputs came from, for its evidence file (``record``: ``tthc.inputs.StoredInputs``).

    ``defaulted`` maps each report field nobody gave this month (the form timed out, the office was not
    asked and there was no file) to what the report wrote instead; empty when the office answered.
    ``revision`` (absent otherwise): the office entered the inputs again after rejecting the report rendered
    with its first ones: who rejected it, when, and the comment.
    """
    return {
        "source": record.source,
        "answered_by": record.answered_by,
        "answered_at": record.answered_at,
        "defaulted": {name: DEFAULTED_WORDING.get(name, "neutral sentence") for name in record.defaulted},
        "summary": record.describe(),
        **({"revision": record.revision} if getattr(record, "revision", None) else {}),
    }
