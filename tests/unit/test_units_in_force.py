"""The units in force by date: districts before the 2025 reform, communes and wards after, from one configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tthc.config import DEFAULT_CONFIG, INCLUDE_DIR, ConfigError, load_config
from tthc.periods import Period
from tthc.units import UnitsError


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.mark.parametrize(("period", "province", "units", "two_tier"), [
    ("2023-11", "87", 12, False),
    ("2025-06", "87", 12, False),   # [2025-05-15, 2025-06-15): before the reform
    ("2025-07", "82", 102, True),   # [2025-06-15, 2025-07-15): its last day is after 1 July 2025
    ("2026-11", "82", 102, True),
])
def test_a_period_reports_on_the_units_in_force_on_its_last_day(config, period, province, units, two_tier):
    hierarchy = config.hierarchy_for(period)
    assert hierarchy.province.code == province and len(hierarchy.reporting_units) == units
    assert hierarchy.two_tier is two_tier


def test_the_calendar_convention_uses_the_last_day_of_the_month(config):
    june = Period(2025, 6, "calendar")  # [2025-06-01, 2025-07-01): its last day is 30 June
    assert config.hierarchy_for(june).province.code == "87"
    assert config.hierarchy_for(Period(2025, 7, "calendar")).province.code == "82"


def test_a_district_is_not_a_unit_after_the_reform(config):
    assert config.unit_for("872", "2023-11").name == "Huyện Tháp Mười"
    with pytest.raises(UnitsError, match=r"period 2026-11: unit code '872' is not a reporting unit of Tỉnh Đồng Tháp"):
        config.unit_for("872", "2026-11")


def test_a_ward_s_settings_name_a_ward_s_bodies(config):
    ward = next(u for u in config.hierarchy_for("2026-11").reporting_units if u.kind == "phường")
    commune = next(u for u in config.hierarchy_for("2026-11").reporting_units if u.kind == "xã")
    assert config.report_settings(ward.code, "2026-11").distribution == [
        "Như trên", "CT, các PCT.UBND phường", "VP.HĐND&UBND phường"]
    assert config.report_settings(commune.code, "2026-11").inspection_lead == "Văn phòng HĐND và UBND xã"
    # the districts keep theirs
    assert config.report_settings("872", "2023-11").distribution[1] == "CT, các PCT.UBND huyện"


def test_the_trigger_form_offers_the_units_of_every_structure(config):
    codes = [u.code for u in config.all_reporting_units()]
    assert codes[:12] == [u.code for u in config.hierarchy_for("2023-11").reporting_units]
    assert len(codes) == len(set(codes)) == 12 + 102


def write_config(tmp_path: Path, units) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw.update(include_dir=str(INCLUDE_DIR), units=units)
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("units", "message"), [
    ([{"file": "reference/units-dong-thap-2025.json", "from": "2025-07-01"},
      {"file": "reference/units-dong-thap-2023.json", "from": "2023-01-01"}], "in order of their dates"),
    ([{"file": "reference/units-dong-thap-2023.json"}, {"file": "reference/units-dong-thap-2025.json"}],
     "every entry after the first needs its date"),
    ([], "at least 1 item"),
    ([{"file": "reference/nowhere.json"}], r"units\[0\]\.file not found"),
])
def test_units_in_force_are_checked_on_load(tmp_path, units, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, units))


def test_settings_for_a_unit_of_no_structure_are_refused(tmp_path):
    path = write_config(tmp_path, [{"file": "reference/units-dong-thap-2023.json"}])
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["report_units"]["28261"] = {"archive": "VT"}  # a ward of the 2025 file, which this copy does not list
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="report settings for 28261, which is a reporting unit of none"):
        load_config(path)


def test_a_backfill_across_the_reform_plans_districts_then_communes(config):
    """The months a backfill from 2025-04 to 2025-09 runs: districts up to 2025-06, communes and wards after."""
    from datetime import UTC, datetime

    from tthc.pipeline import plan

    later = datetime(2026, 1, 1, tzinfo=UTC)
    planned = {name: plan(config, Period(2025, month), [], now=later)
               for name, month in (("2025-04", 4), ("2025-05", 5), ("2025-06", 6), ("2025-07", 7), ("2025-09", 9))}
    for name in ("2025-04", "2025-05", "2025-06"):
        assert [u["code"] for u in planned[name]] == [u.code for u in config.hierarchy_for("2023-11").reporting_units]
    for name in ("2025-07", "2025-09"):
        assert len(planned[name]) == 102 and all(len(u["code"]) == 5 for u in planned[name])
        assert all(u["period"] == name for u in planned[name])
    with pytest.raises(UnitsError, match="period 2025-07: unit code '872' is not a reporting unit"):
        plan(config, Period(2025, 7), ["872"], now=later)
