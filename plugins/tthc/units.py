"""Administrative units as a hierarchy: the province, its reporting units and their child units.

Why a hierarchy rather than "districts": Vietnam's 2025 reform removed the district level. Before it
a report is written per district (the reporting unit) about the district's own desk and its
communes (the child units): ``units-dong-thap-2023.json``. Since 1 July 2025 every commune, ward
and special zone reports straight to the province, so each is a reporting unit with no children
that reports for itself (:attr:`ReportingUnit.reports_for_itself`): ``units-dong-thap-2025.json``.
Both are the same file shape and the same classes; only the reference file changes, not the code.
Which file is in force for a period is the configuration's choice, not this module's.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Every kind of unit the reference files may name (lower case, as the files write them): the
#: report's wording is built from the kind ("UBND phường", "cấp huyện"), so an unknown one is refused
#: at load rather than written into a report.
UNIT_KINDS = frozenset({
    "tỉnh", "thành phố",  # province level (a centrally-run city is a "thành phố")
    "huyện", "thị xã",  # district level before the 2025 reform (a provincial city is a "thành phố" too)
    "xã", "phường", "thị trấn", "đặc khu",  # commune level; "thị trấn" only before the reform, "đặc khu" after
})


class UnitsError(ValueError):
    """The reference file of units is missing, malformed or asked for an unknown unit."""


@dataclass(frozen=True)
class Unit:
    """One administrative unit with its official GSO code."""

    code: str
    name: str  # official name, e.g. "Huyện Tháp Mười"
    short_name: str  # place name, e.g. "Tháp Mười"
    kind: str  # one of UNIT_KINDS: "huyện", "thành phố", "thị xã", "xã", "phường", "thị trấn", "đặc khu", "tỉnh"


@dataclass(frozen=True)
class ReportingUnit(Unit):
    """A unit that receives a report: its own desk is level ``huyen``, its children's desks ``xa``.

    ``huyen`` means "the unit's own desk" whatever its kind: a ward that reports for itself (no
    children, after the 2025 reform) has all its dossiers at level ``huyen`` and none at ``xa``.
    """

    children: tuple[Unit, ...] = ()

    @property
    def child_codes(self) -> frozenset[str]:
        return frozenset(child.code for child in self.children)

    @property
    def reports_for_itself(self) -> bool:
        """No unit under it (a commune or ward after the 2025 reform): its report covers its own desk only."""
        return not self.children

    @property
    def codes(self) -> frozenset[str]:
        """Every handling-unit code its report covers: its own and its children's."""
        return frozenset((self.code, *self.child_codes))

    def level_of(self, unit_code: str) -> str | None:
        """``huyen`` for the unit's own code, ``xa`` for a child's, None for a unit outside it."""
        if unit_code == self.code:
            return "huyen"
        if unit_code in self.child_codes:
            return "xa"
        return None


@dataclass(frozen=True)
class Hierarchy:
    """The province and its reporting units, as read from the reference file."""

    province: Unit
    reporting_units: tuple[ReportingUnit, ...]
    source: str = ""

    @property
    def two_tier(self) -> bool:
        """Every reporting unit reports for itself (the post-2025 structure: province, then communes and wards)."""
        return all(unit.reports_for_itself for unit in self.reporting_units)

    def get(self, code: str) -> ReportingUnit:
        for unit in self.reporting_units:
            if unit.code == code:
                return unit
        known = ", ".join(f"{u.code} ({u.short_name})" for u in self.reporting_units)
        raise UnitsError(f"unit code {code!r} is not a reporting unit of {self.province.name}; known: {known}")

    def select(self, codes: Iterable[str] | None) -> list[ReportingUnit]:
        """The units named by ``codes`` in file order (all of them when ``codes`` is empty)."""
        wanted = [str(c).strip() for c in (codes or []) if str(c).strip()]
        if not wanted:
            return list(self.reporting_units)
        for code in wanted:
            self.get(code)  # raises with the list of known codes
        return [u for u in self.reporting_units if u.code in set(wanted)]


def _unit(raw: dict, where: str) -> dict:
    missing = [key for key in ("code", "name", "short_name", "kind") if not raw.get(key)]
    if missing:
        raise UnitsError(f"{where}: missing {', '.join(missing)}")
    fields = {key: unicodedata.normalize("NFC", str(raw[key])) for key in ("code", "name", "short_name", "kind")}
    if fields["kind"] not in UNIT_KINDS:
        raise UnitsError(f"{where}: unknown kind {fields['kind']!r}; known: {', '.join(sorted(UNIT_KINDS))}")
    return fields


def load_hierarchy(path: str | Path) -> Hierarchy:
    """Read and validate the reference file (see ``scripts/make_units.py`` for its shape)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UnitsError(f"reference file of units not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise UnitsError(f"reference file of units {path} is not valid JSON: {exc}") from exc
    province = Unit(**_unit(raw.get("province") or {}, f"{path}: province"))
    units: list[ReportingUnit] = []
    seen: set[str] = set()
    for i, item in enumerate(raw.get("reporting_units") or []):
        where = f"{path}: reporting_units[{i}]"
        children = tuple(Unit(**_unit(c, f"{where}.children[{j}]")) for j, c in enumerate(item.get("children") or []))
        unit = ReportingUnit(**_unit(item, where), children=children)
        for code in (unit.code, *unit.child_codes):
            if code in seen:
                raise UnitsError(f"{where}: GSO code {code} appears twice in {path}")
            seen.add(code)
        units.append(unit)
    if not units:
        raise UnitsError(f"{path} lists no reporting units")
    return Hierarchy(province=province, reporting_units=tuple(units), source=str(raw.get("source", "")))
