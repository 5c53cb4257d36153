"""Generate the reference files of units (``include/reference/units-*.json``) from PyPI ``vietnam-provinces``.

Why a script: GSO codes must come from a maintained source, never from memory. The package's
releases carry one structure each. Release 0.6.0 (the venv's pinned one) is the last with the
pre-2025 three-tier divisions (province, district, commune); the 2025.x releases carry only the
two-tier structure in force since 1 July 2025 (34 provinces, their communes, wards and special
zones). The output is one generic hierarchy shape for both: a province, its reporting units, and
each reporting unit's child units.

- ``--structure 2023``: the reporting units are the districts, their children the communes. This is
  the venv's ``vietnam-provinces==0.6.0``; the output is ``include/reference/units-dong-thap-2023.json``.
- ``--structure 2025``: every commune, ward and special zone ("đặc khu") reports for itself to the
  province, so each is a reporting unit with no children. It needs a 2025.x release, which would
  conflict with the venv's pin: install it into a throwaway folder and pass that folder as
  ``--package-dir``. The output is ``include/reference/units-dong-thap-2025.json`` (province 82, the
  new Đồng Tháp that merged the old Đồng Tháp, 87, and Tiền Giang, 82).

Reproduce the bundled files (from the repository root)::

    .venv/bin/python scripts/make_units.py --structure 2023
    .venv/bin/pip install --no-deps --target /tmp/vp2025 vietnam-provinces==2025.10.1
    .venv/bin/python scripts/make_units.py --structure 2025 --package-dir /tmp/vp2025

Release 2025.8.1 (data of 2025-08-03) has the same 102 units for province 82, names and codes alike;
2025.10.1 (data of 2025-10-18) corrected names in other provinces, so it is the one used.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

# Longest prefixes first: "Thành phố" must win over a hypothetical "Thành".
_KINDS = ("Thành phố", "Thị trấn", "Thị xã", "Đặc khu", "Huyện", "Phường", "Xã", "Tỉnh")

# The 2025.x releases name a province without its kind ("Đồng Tháp") and give the kind apart; the
# official name, as written on a report, puts it in front ("Tỉnh Đồng Tháp").
_PROVINCE_PREFIX = {"tỉnh": "Tỉnh", "thành phố trung ương": "Thành phố"}

STRUCTURES = ("2023", "2025")
DEFAULTS = {
    "2023": {"province": 87, "out": Path("include/reference/units-dong-thap-2023.json")},
    "2025": {"province": 82, "out": Path("include/reference/units-dong-thap-2025.json")},
}


class StructureError(RuntimeError):
    """The package found does not carry the structure asked for (wrong release, or wrong folder)."""


def split_kind(name: str) -> tuple[str, str]:
    """Split an official name into its kind (lower-case) and its short name: "Huyện Tháp Mười"."""
    for kind in _KINDS:
        if name.startswith(kind + " "):
            return kind.lower(), name[len(kind) + 1 :]
    raise ValueError(f"unknown administrative-unit kind in name {name!r}")


def _nfc(text: str) -> str:
    """NFC with single spaces: some releases carry a doubled space inside a name ("Phường  An Nhơn")."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _entry(code: str, name: str) -> dict[str, Any]:
    kind, short = split_kind(name)
    return {"code": code, "name": name, "short_name": short, "kind": kind}


def import_package(package_dir: Path | None) -> ModuleType:
    """``vietnam_provinces`` from ``package_dir`` (a ``pip install --target`` folder) or, without it, the venv's."""
    if package_dir is not None:
        folder = package_dir.resolve()
        if not (folder / "vietnam_provinces" / "__init__.py").is_file():
            raise StructureError(f"{folder} holds no vietnam_provinces package (pip install --target {folder} ...)")
        sys.path.insert(0, str(folder))
    module = importlib.import_module("vietnam_provinces")
    if package_dir is not None and not Path(module.__file__ or "").resolve().is_relative_to(package_dir.resolve()):
        raise StructureError(f"vietnam_provinces was already imported from {module.__file__}, not {package_dir}")
    return module


def _divisions(vp: ModuleType, structure: str) -> list[dict[str, Any]]:
    """The package's nested divisions, refused when they are not of the structure asked for."""
    divisions: list[dict[str, Any]] = json.loads(Path(vp.NESTED_DIVISIONS_JSON_PATH).read_text(encoding="utf-8"))
    three_tier = all("districts" in province for province in divisions)
    two_tier = all("wards" in province and "districts" not in province for province in divisions)
    if structure == "2023" and not three_tier:
        raise StructureError(f"vietnam-provinces {vp.__version__} has no districts: --structure 2023 needs 0.6.0")
    if structure == "2025" and not two_tier:
        raise StructureError(
            f"vietnam-provinces {vp.__version__} is not two-tier: --structure 2025 needs a 2025.x release "
            "(pip install --target DIR vietnam-provinces==2025.10.1, then --package-dir DIR)"
        )
    return divisions


def _province(divisions: list[dict[str, Any]], code: int, vp: ModuleType) -> dict[str, Any]:
    for province in divisions:
        if province["code"] == code:
            return province
    raise StructureError(f"province {code} is not in vietnam-provinces {vp.__version__}")


def build_2023(vp: ModuleType, province_code: int) -> dict[str, Any]:
    """Three tiers: districts as reporting units, their communes as children (needs release 0.6.0)."""
    province = _province(_divisions(vp, "2023"), province_code, vp)
    p_kind, p_short = split_kind(_nfc(province["name"]))
    units = []
    for district in province["districts"]:
        children = [_entry(f"{ward['code']:05d}", _nfc(ward["name"])) for ward in district["wards"]]
        units.append({**_entry(f"{district['code']:03d}", _nfc(district["name"])), "children": children})
    return {
        "source": f"PyPI vietnam-provinces {vp.__version__}, data version {vp.__data_version__}",
        "generated_by": "scripts/make_units.py",
        "province": {
            "code": f"{province_code:02d}", "name": _nfc(province["name"]), "short_name": p_short, "kind": p_kind
        },
        "reporting_units": units,
    }


def build_2025(vp: ModuleType, province_code: int) -> dict[str, Any]:
    """Two tiers: every commune, ward and special zone is a reporting unit without children (a 2025.x release)."""
    province = _province(_divisions(vp, "2025"), province_code, vp)
    p_type = _nfc(province["division_type"])
    p_name = _nfc(province["name"])
    if p_type not in _PROVINCE_PREFIX:
        raise StructureError(f"province {province_code}: unknown division type {p_type!r}")
    official = p_name if p_name.startswith(_PROVINCE_PREFIX[p_type] + " ") else f"{_PROVINCE_PREFIX[p_type]} {p_name}"
    p_kind, p_short = split_kind(official)
    units = []
    for ward in province["wards"]:
        entry = _entry(f"{ward['code']:05d}", _nfc(ward["name"]))
        # The name's prefix and the package's own division type must agree, or the kind is a guess.
        if entry["kind"] != _nfc(ward["division_type"]):
            raise StructureError(f"{entry['name']} ({entry['code']}): name says {entry['kind']!r}, "
                                 f"the package says {ward['division_type']!r}")
        units.append({**entry, "children": []})
    return {
        "source": f"PyPI vietnam-provinces {vp.__version__}, data version {vp.__data_version__}",
        "generated_by": "scripts/make_units.py --structure 2025",
        "province": {"code": f"{province_code:02d}", "name": official, "short_name": p_short, "kind": p_kind},
        "reporting_units": units,
    }


def summary(data: dict[str, Any]) -> str:
    """One line per fact worth checking by eye: the province, the counts and the kinds."""
    units = data["reporting_units"]
    n_children = sum(len(u["children"]) for u in units)
    kinds: dict[str, int] = {}
    for unit in units:
        for item in (unit, *unit["children"]):
            kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    codes = [u["code"] for u in units] + [c["code"] for u in units for c in u["children"]]
    province = data["province"]
    return "\n".join([
        f"{province['name']} ({province['code']}), {data['source']}",
        f"{len(units)} reporting units, {n_children} child units, {len(set(codes))} distinct codes",
        "kinds: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())),
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--structure", choices=STRUCTURES, default="2023",
                        help="2023: districts with their communes (0.6.0); 2025: communes and wards on their own")
    parser.add_argument("--province", type=int, default=None, help="GSO code (default 87 for 2023, 82 for 2025)")
    parser.add_argument("--out", type=Path, default=None, help="output file (default include/reference/...)")
    parser.add_argument("--package-dir", type=Path, default=None,
                        help="folder holding vietnam_provinces (pip install --target); default: the venv's")
    args = parser.parse_args(argv)
    defaults = DEFAULTS[args.structure]
    province = args.province if args.province is not None else int(str(defaults["province"]))
    out = args.out if args.out is not None else Path(str(defaults["out"]))
    try:
        vp = import_package(args.package_dir)
        data = (build_2023 if args.structure == "2023" else build_2025)(vp, province)
    except StructureError as exc:
        parser.exit(2, f"make_units: {exc}\n")
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    print(summary(data))


if __name__ == "__main__":
    main()
