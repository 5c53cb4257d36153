"""Generate ``include/reference/units-dong-thap-2023.json`` from the PyPI package ``vietnam-provinces``.

Why a script: GSO codes must come from a maintained source, never from memory. Release 0.6.0 of
``vietnam-provinces`` still carries the pre-2025 three-tier divisions (province, district,
commune); later releases carry only the two-tier structure. The output is a generic hierarchy
(reporting units and their child units), so a post-2025 deployment writes the same shape with the
province as the reporting unit and its communes as children, without any code change.

Usage: ``python scripts/make_units.py [--province 87] [--out PATH]`` (needs vietnam-provinces==0.6.0).
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path

# Longest prefixes first: "Thành phố" must win over a hypothetical "Thành".
_KINDS = ("Thành phố", "Thị trấn", "Thị xã", "Huyện", "Phường", "Xã", "Tỉnh")


def split_kind(name: str) -> tuple[str, str]:
    """Split an official name into its kind (lower-case) and its short name: "Huyện Tháp Mười"."""
    for kind in _KINDS:
        if name.startswith(kind + " "):
            return kind.lower(), name[len(kind) + 1 :]
    raise ValueError(f"unknown administrative-unit kind in name {name!r}")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def build(province_code: int) -> dict:
    import vietnam_provinces as vp

    divisions = json.loads(Path(vp.NESTED_DIVISIONS_JSON_PATH).read_text(encoding="utf-8"))
    province = next(p for p in divisions if p["code"] == province_code)
    p_kind, p_short = split_kind(_nfc(province["name"]))
    units = []
    for district in province["districts"]:
        kind, short = split_kind(_nfc(district["name"]))
        children = []
        for ward in district["wards"]:
            w_kind, w_short = split_kind(_nfc(ward["name"]))
            children.append(
                {"code": f"{ward['code']:05d}", "name": _nfc(ward["name"]), "short_name": w_short, "kind": w_kind}
            )
        units.append(
            {
                "code": f"{district['code']:03d}",
                "name": _nfc(district["name"]),
                "short_name": short,
                "kind": kind,
                "children": children,
            }
        )
    return {
        "source": f"PyPI vietnam-provinces {vp.__version__}, data version {vp.__data_version__}",
        "generated_by": "scripts/make_units.py",
        "province": {
            "code": f"{province_code:02d}", "name": _nfc(province["name"]), "short_name": p_short, "kind": p_kind
        },
        "reporting_units": units,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", type=int, default=87)
    parser.add_argument("--out", type=Path, default=Path("include/reference/units-dong-thap-2023.json"))
    args = parser.parse_args()
    data = build(args.province)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    n_children = sum(len(u["children"]) for u in data["reporting_units"])
    print(f"wrote {args.out}: {len(data['reporting_units'])} reporting units, {n_children} child units")


if __name__ == "__main__":
    main()
