"""The reference files of units: both bundled hierarchies load, and each says what it should.

Why these tests: a report's heading, its wording ("UBND phường", "cấp huyện") and the quality check of
``MaDonVi`` all come from these files, so a wrong count, a duplicated code, a decomposed diacritic or
an unknown kind would surface as a wrong report rather than as an error.
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest

from tthc.units import UNIT_KINDS, Hierarchy, ReportingUnit, Unit, UnitsError, load_hierarchy

REFERENCE = Path(__file__).resolve().parents[2] / "include" / "reference"
UNITS_2023 = REFERENCE / "units-dong-thap-2023.json"
UNITS_2025 = REFERENCE / "units-dong-thap-2025.json"


def _make_units() -> ModuleType:
    """``scripts/make_units.py`` as a module (scripts/ is not a package)."""
    path = REFERENCE.parents[1] / "scripts" / "make_units.py"
    spec = importlib.util.spec_from_file_location("make_units", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _all_units(hierarchy: Hierarchy) -> list[Unit]:
    return [hierarchy.province, *hierarchy.reporting_units, *(c for u in hierarchy.reporting_units for c in u.children)]


@pytest.fixture(scope="module")
def h2023() -> Hierarchy:
    return load_hierarchy(UNITS_2023)


@pytest.fixture(scope="module")
def h2025() -> Hierarchy:
    return load_hierarchy(UNITS_2025)


def test_the_2025_file_lists_the_102_communes_and_wards_of_dong_thap_82(h2025: Hierarchy) -> None:
    assert (h2025.province.code, h2025.province.name, h2025.province.kind) == ("82", "Tỉnh Đồng Tháp", "tỉnh")
    assert len(h2025.reporting_units) == 102
    assert all(unit.reports_for_itself and unit.children == () for unit in h2025.reporting_units)
    assert h2025.two_tier
    kinds = {unit.kind for unit in h2025.reporting_units}
    assert kinds <= {"xã", "phường", "đặc khu"}
    assert sum(unit.kind == "phường" for unit in h2025.reporting_units) == 20
    assert sum(unit.kind == "xã" for unit in h2025.reporting_units) == 82
    assert "vietnam-provinces 2025.10.1" in h2025.source and "data version" in h2025.source
    # The contract's example of a post-reform unit.
    assert h2025.get("28261").name == "Phường Mỹ Tho"


def test_the_2023_file_is_still_twelve_districts_with_their_communes(h2023: Hierarchy) -> None:
    assert h2023.province.code == "87" and len(h2023.reporting_units) == 12
    assert not h2023.two_tier
    assert not any(unit.reports_for_itself for unit in h2023.reporting_units)
    assert sum(len(unit.children) for unit in h2023.reporting_units) == 141
    assert "vietnam-provinces 0.6.0" in h2023.source


@pytest.mark.parametrize("which", ["2023", "2025"])
def test_codes_unique_names_nfc_kinds_known(which: str, h2023: Hierarchy, h2025: Hierarchy) -> None:
    hierarchy = h2023 if which == "2023" else h2025
    units = _all_units(hierarchy)
    codes = [unit.code for unit in units]
    assert len(codes) == len(set(codes))
    for unit in units:
        for text in (unit.name, unit.short_name, unit.kind):
            assert text == unicodedata.normalize("NFC", text), unit
            assert text == " ".join(text.split()), unit
        assert unit.kind in UNIT_KINDS, unit
        assert unit.name.lower().startswith(unit.kind + " ") and unit.name.endswith(" " + unit.short_name), unit
    width = 5 if which == "2025" else 3
    assert all(len(u.code) == width and u.code.isdigit() for u in hierarchy.reporting_units)


def test_the_raw_2025_file_has_the_shape_of_the_2023_file() -> None:
    raw_2023 = json.loads(UNITS_2023.read_text(encoding="utf-8"))
    raw_2025 = json.loads(UNITS_2025.read_text(encoding="utf-8"))
    assert raw_2025.keys() == raw_2023.keys()
    assert raw_2025["province"].keys() == raw_2023["province"].keys()
    assert {tuple(u) for u in raw_2025["reporting_units"]} == {tuple(u) for u in raw_2023["reporting_units"]}
    assert all(u["children"] == [] for u in raw_2025["reporting_units"])


def test_a_unit_reporting_for_itself_covers_its_own_desk_only(h2025: Hierarchy) -> None:
    ward = h2025.get("28261")
    assert ward.codes == {"28261"} and ward.child_codes == frozenset()
    assert ward.level_of("28261") == "huyen"  # its own desk
    assert ward.level_of("28249") is None  # another ward is outside its report
    assert h2025.select(["28261", "28249"]) == [h2025.get("28261"), h2025.get("28249")]


def test_a_district_still_covers_its_communes(h2023: Hierarchy) -> None:
    district = h2023.get("872")
    assert district.codes == {"872", *district.child_codes} and len(district.codes) > 1
    assert district.level_of("872") == "huyen"
    assert all(district.level_of(code) == "xa" for code in district.child_codes)


def test_a_ward_code_is_not_a_reporting_unit_of_the_2023_file(h2023: Hierarchy, h2025: Hierarchy) -> None:
    with pytest.raises(UnitsError, match="not a reporting unit of Tỉnh Đồng Tháp"):
        h2023.get("28261")
    with pytest.raises(UnitsError, match="874"):
        h2025.get("874")


def test_the_dataclasses_keep_their_constructor() -> None:
    """Callers build units by position and by keyword: the helpers added nothing to the constructor."""
    unit = ReportingUnit("30280", "Phường An Bình", "An Bình", "phường")
    assert unit.reports_for_itself and unit.children == ()
    with_children = ReportingUnit("872", "Huyện Tháp Mười", "Tháp Mười", "huyện",
                                  children=(Unit("30037", "Thị trấn Mỹ An", "Mỹ An", "thị trấn"),))
    assert not with_children.reports_for_itself


def test_an_unknown_kind_is_refused_naming_the_field(tmp_path: Path) -> None:
    raw = json.loads(UNITS_2025.read_text(encoding="utf-8"))
    raw["reporting_units"][3]["kind"] = "ấp"
    path = tmp_path / "units.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(UnitsError, match=r"reporting_units\[3\]: unknown kind 'ấp'"):
        load_hierarchy(path)


def test_a_decomposed_name_is_read_as_nfc(tmp_path: Path) -> None:
    raw = json.loads(UNITS_2025.read_text(encoding="utf-8"))
    raw["reporting_units"][0]["name"] = unicodedata.normalize("NFD", raw["reporting_units"][0]["name"])
    path = tmp_path / "units.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert load_hierarchy(path).reporting_units[0].name == "Phường Mỹ Tho"


@pytest.mark.parametrize(("name", "kind", "short"), [
    ("Đặc khu Phú Quốc", "đặc khu", "Phú Quốc"),
    ("Phường Mỹ Tho", "phường", "Mỹ Tho"),
    ("Xã Tân Phước 1", "xã", "Tân Phước 1"),
    ("Thành phố Cao Lãnh", "thành phố", "Cao Lãnh"),
    ("Thị trấn Mỹ An", "thị trấn", "Mỹ An"),
])
def test_make_units_splits_every_kind(name: str, kind: str, short: str) -> None:
    make_units = _make_units()
    assert make_units.split_kind(name) == (kind, short)
    assert kind in UNIT_KINDS


def test_make_units_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown administrative-unit kind"):
        _make_units().split_kind("Ấp Bình Hòa")
