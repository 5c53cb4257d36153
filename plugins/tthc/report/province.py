"""The template's context for the province's consolidated report (``tong-hop-thang.docx``).

Why its own builder beside ``context``: the province's report speaks of its units, not of one
desk and its communes. Its figures are the consolidation's sums (``tthc.province``), its annex has a
row per reporting unit, its shortcomings name the units below a target, and every unit without a
report is named (``coverage``) so a partial province never reads as whole. Wording comes from the
same two sources as the units' reports: the template, and the phrase file's ``province`` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tthc.config import ReportSettings, Targets, _nfc
from tthc.numbers import fmt_count, fmt_rate
from tthc.phrases import Phrases
from tthc.province import Consolidation
from tthc.report.context import (
    COUNT_KEYS,
    FEEDBACK_KEYS,
    RATE_KEYS,
    _as_decimal,
    _cells,
    _rate_by_level,
    letter_parts,
)
from tthc.units import ReportingUnit

# Shortcomings the consolidation shows, each naming the units concerned: (key, rate, target).
RATE_SHORTCOMINGS = (("on_time", "on_time_rate"), ("online_payment", "online_payment_rate"))


def _kinds(units: tuple[ReportingUnit, ...]) -> str:
    """The kinds of the province's units, most numerous first: "huyện, thành phố, thị xã" or "xã, phường"."""
    counts: dict[str, int] = {}
    for unit in units:
        counts[unit.kind] = counts.get(unit.kind, 0) + 1
    return ", ".join(sorted(counts, key=lambda kind: -counts[kind]))


def _coverage(consolidation: Consolidation, phrases: Phrases) -> dict[str, Any]:
    total, reported = len(consolidation.units), len(consolidation.months)
    kinds = _kinds(consolidation.units)
    missing = consolidation.missing
    return {
        "units": phrases.say("province", "all_units", total=fmt_count(total), kinds=kinds) if not missing
        else phrases.say("province", "some_units", reported=fmt_count(reported), total=fmt_count(total), kinds=kinds),
        "missing": bool(missing),
        "missing_count": fmt_count(len(missing)),
        "missing_names": ", ".join(unit.name for unit in missing),
    }


def _rate(value: Any, phrases: Phrases) -> str:
    if value is None:
        return phrases.say("province", "no_rate")
    return phrases.say("province", "rate", rate=fmt_rate(value))


def _total(levels: Mapping[str, Mapping[str, Any]], phrases: Phrases) -> dict[str, str]:
    """The province's figures for the sentences: counts formatted, rates as phrases."""
    row = levels["tong"]
    out = {key: fmt_count(int(row[key])) for key in COUNT_KEYS}
    out["on_time"] = fmt_count(int(row["resolved_early"]) + int(row["resolved_on_time"]))
    out.update({key: _rate(row[key], phrases) for key in RATE_KEYS})
    return out


def _units_below(consolidation: Consolidation, key: str, target: Decimal, phrases: Phrases) -> list[str]:
    return [phrases.say("province", "unit_with_figure", name=month.unit.name, figure=fmt_rate(value))
            for month in consolidation.months
            if (value := _as_decimal(month.levels["tong"][key])) is not None and value < target]


def _units_with(consolidation: Consolidation, counts: Mapping[str, int], phrases: Phrases) -> list[str]:
    return [phrases.say("province", "unit_with_figure", name=month.unit.name, figure=fmt_count(counts[code]))
            for month in consolidation.months if (counts.get(code := month.unit.code) or 0) > 0]


def _shortcomings(consolidation: Consolidation, targets: Targets, phrases: Phrases) -> dict[str, Any]:
    """Per shortcoming: the units concerned and, for a rate, its target; None where no unit falls short."""
    found: dict[str, Any] = {}
    for key, rate_key in RATE_SHORTCOMINGS:
        target = _as_decimal(getattr(targets, rate_key))
        units = _units_below(consolidation, rate_key, target, phrases) if target is not None else []
        found[key] = {"target": fmt_rate(target), "count": fmt_count(len(units)), "units": ", ".join(units)} \
            if units else None
    for key, source in (("pending_overdue", "pending_overdue"), ("feedback_late", "feedback_late")):
        counts = {month.unit.code: int(month.levels["tong"][source] if source in COUNT_KEYS
                                       else month.feedback[source]) for month in consolidation.months}
        units = _units_with(consolidation, counts, phrases)
        found[key] = {"count": fmt_count(sum(counts.values())), "units": ", ".join(units)} if units else None
    return {**found, "any": any(found.values())}


def _hotline(feedback: Mapping[str, Any], phrases: Phrases) -> dict[str, str]:
    about = int(feedback["feedback_about_procedures"])
    return {
        "received": fmt_count(int(feedback["feedback_received"])),
        "about": phrases.say("hotline", "about_procedures", count=fmt_count(about)) if about
        else phrases.say("hotline", "none_about_procedures"),
        **{key.removeprefix("feedback_"): fmt_count(int(feedback[key])) for key in
           ("feedback_answered_on_time", "feedback_answered_late", "feedback_overdue", "feedback_in_progress",
            "feedback_rejected")},
    }


def _annex(consolidation: Consolidation) -> dict[str, Any]:
    """A row per unit in force (one without a report says so, with no figure), the total, the feedback."""
    reported = {month.unit.code: month for month in consolidation.months}
    rows = []
    for i, unit in enumerate(consolidation.units, start=1):
        month = reported.get(unit.code)
        if month is None:
            rows.append({"stt": str(i), "name": f"{unit.name} (chưa có báo cáo)",
                         **dict.fromkeys((*COUNT_KEYS, *RATE_KEYS), "")})
        else:
            rows.append(_cells(month.levels["tong"], str(i), unit.name))
    return {
        "units": rows,
        "total": _cells(consolidation.levels["tong"], "", "Tổng cộng"),
        "feedback": {key: fmt_count(int(consolidation.feedback[key])) for key in FEEDBACK_KEYS},
    }


def build_province_context(consolidation: Consolidation, settings: ReportSettings,
                           targets: Targets) -> tuple[dict, list[str]]:
    """The consolidated report's context, and warnings for the run (the units without a report, a signer)."""
    province, period, phrases = consolidation.province, consolidation.period, settings.phrases
    warnings = []
    if consolidation.missing:
        warnings.append(f"the province's report of {period.name} leaves out {len(consolidation.missing)} unit(s) "
                        f"without a report: {', '.join(u.code for u in consolidation.missing)}")
    if not settings.signer.name:
        warnings.append(f"no signer configured for {province.name}: the name line is left blank")
    # Before the 2025 reform the units are districts (their own desks "cấp huyện", their communes "cấp xã");
    # after it they are communes reporting for themselves, one level.
    two_levels = any(unit.children for unit in consolidation.units)
    level_names = {"huyen": "cấp huyện", "xa": "cấp xã"} if two_levels else None
    kind_name = f"{province.kind} {province.short_name}"
    letter = letter_parts(settings, period)
    context = {
        "unit": {"kind_name": kind_name, "name_upper": province.name.upper(), "short_name": province.short_name},
        **letter,
        "coverage": _coverage(consolidation, phrases),
        "total": _total(consolidation.levels, phrases),
        "digitization": {
            "dossier": _rate_by_level(consolidation.levels, "dossier_digitization_rate", level_names, phrases),
            "result": _rate_by_level(consolidation.levels, "result_digitization_rate", level_names, phrases),
        },
        "hotline": _hotline(consolidation.feedback, phrases),
        "shortcomings": _shortcomings(consolidation, targets, phrases),
        "annex": _annex(consolidation),
        "meta": {
            "unit_code": province.code,
            "period": period.name,
            "document_date": period.end_date.isoformat(),
            "title": f"Báo cáo tổng hợp tháng {period.month}/{period.year} của Ủy ban nhân dân {kind_name}",
            "subject": f"Tổng hợp kết quả triển khai thực hiện {letter['implements']['full']}",
            "author": f"Ủy ban nhân dân {kind_name}",
        },
    }
    return _nfc(context), warnings
