"""The province's month: the reporting units' warehouse rows added up, and which units are missing.

Why sums of counts: a province rate is the share of the province's dossiers, not the mean of its
units' shares (a unit of 50 dossiers would weigh as much as one of 50,000), so every count is summed
and every rate computed again from the sums with the metrics' own exact rounding (``docs/metrics.md``).

Why only the units with a report: the province's figures must be those of the reports it gathers,
so a unit whose rows exist but whose report does not (its task failed after computing) counts as
missing, like a unit with no rows. Missing units are named wherever the figures appear; a partial
province is never presented as whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tthc.metrics import DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS, rate
from tthc.periods import Period
from tthc.units import ReportingUnit, Unit

LEVELS = ("huyen", "xa", "tong")


@dataclass(frozen=True)
class UnitMonth:
    """One reporting unit's stored month: its dossier rows of the three levels and its feedback row."""

    unit: ReportingUnit
    levels: Mapping[str, Mapping[str, Any]]  # "huyen", "xa", "tong" -> dossier row
    feedback: Mapping[str, Any]
    children: tuple[Mapping[str, Any], ...] = ()  # the unit's per-commune rows


@dataclass(frozen=True)
class Consolidation:
    """The province's figures for a period, from the units that have their report."""

    province: Unit
    period: Period
    units: tuple[ReportingUnit, ...]  # every reporting unit in force, in the units file's order
    months: tuple[UnitMonth, ...]  # the units with a report, in the same order
    levels: dict[str, dict[str, Any]] = field(default_factory=dict)  # summed "huyen", "xa", "tong"
    feedback: dict[str, Any] = field(default_factory=dict)  # summed

    @property
    def missing(self) -> tuple[ReportingUnit, ...]:
        """The units in force without a report, in the units file's order."""
        reported = {month.unit.code for month in self.months}
        return tuple(unit for unit in self.units if unit.code not in reported)

    @property
    def complete(self) -> bool:
        return not self.missing


def summed_row(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Every dossier count summed, and every rate computed again from the sums (never averaged)."""
    rows = list(rows)
    counts = {name: sum(int(row[name]) for row in rows) for name in DOSSIER_COUNTS}
    rates = {name: rate(sum(counts[n] for n in numerators), counts[denominator])
             for name, (numerators, denominator) in DOSSIER_RATES.items()}
    return {**counts, **rates}


def summed_feedback(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    return {name: sum(int(row[name]) for row in rows) for name in FEEDBACK_COUNTS}


def unit_month(unit: ReportingUnit, dossier_rows: Iterable[Mapping[str, Any]],
               feedback_row: Mapping[str, Any]) -> UnitMonth:
    """A unit's warehouse rows, sorted by level; a missing level is an error (the rows were not written whole)."""
    levels: dict[str, Mapping[str, Any]] = {}
    children = []
    for row in dossier_rows:
        if row["level"] == "commune":
            children.append(row)
        else:
            levels[str(row["level"])] = row
    absent = [level for level in LEVELS if level not in levels]
    if absent:
        raise ValueError(f"warehouse rows of unit {unit.code} lack level(s) {', '.join(absent)}")
    return UnitMonth(unit, levels, feedback_row, tuple(children))


def consolidate(province: Unit, period: Period, units: Iterable[ReportingUnit],
                months: Mapping[str, UnitMonth]) -> Consolidation:
    """The province's consolidation: ``months`` holds the units that have their report, by code.

    A code of ``months`` that is not a unit in force is an error: it would add another
    hierarchy's figures to this one's.
    """
    units = tuple(units)
    known = {unit.code for unit in units}
    foreign = sorted(set(months) - known)
    if foreign:
        raise ValueError(f"units {', '.join(foreign)} are not reporting units of {province.name} for {period.name}")
    reported = tuple(months[unit.code] for unit in units if unit.code in months)
    levels = {level: summed_row(month.levels[level] for month in reported) for level in LEVELS}
    return Consolidation(province, period, units, reported, levels,
                         summed_feedback(month.feedback for month in reported))
