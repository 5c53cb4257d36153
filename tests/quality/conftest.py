"""Shared pieces of the data-quality tests: valid landed records, landing them, one GX session per test session."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tthc.config import load_config
from tthc.landing import DOSSIER_TYPES, FEEDBACK_TYPES, land_dossiers, land_feedback, read_landed, to_parquet_bytes
from tthc.periods import parse_period
from tthc.records import HOTLINE, ONE_STOP

CONFIG = load_config()
UNIT = CONFIG.hierarchy_for("2023-11").get("872")
COMMUNE = sorted(UNIT.child_codes)[0]
OTHER_COMMUNE = sorted(CONFIG.hierarchy_for("2023-11").get("874").child_codes)[0]
PERIOD = parse_period("2023-11")  # [2023-10-15, 2023-11-15) local


def dossier(i: str, **changes: Any) -> dict[str, Any]:
    """A landed dossier that passes every check: resolved early in the period, fee paid online."""
    record = {
        "MaHoSo": i, "MaTTHC": "2.000889", "TenTTHC": "Đăng ký biến động", "MaLinhVuc": "G09-TN01",
        "TenLinhVuc": "Đất đai", "MaDonVi": "872", "KenhThucHien": 2, "NgayTiepNhan": "20231101080000",
        "NgayHenTra": "20231110170000", "NgayKetThucXuLy": "20231105100000", "NgayTra": "20231106090000",
        "TrangThaiHoSo": 10, "SoHoaHoSo": True, "SoHoaKetQua": True, "LePhi_present": True,
        "LePhi_SoTien": 50000, "LePhi_ThanhToanTrucTuyen": True, "NgayCapNhat": "20231106090000",
    }
    record.update(changes)
    return record


def feedback(i: str, **changes: Any) -> dict[str, Any]:
    """A landed feedback item that passes every check: answered on time."""
    record = {
        "id": i, "received_at": "2023-11-01T08:00:00+07:00", "channel": "phone", "district_code": "872",
        "unit_code": "872", "category": "dat_dai", "status": "answered", "due_at": "2023-11-10T08:00:00+07:00",
        "answered_at": "2023-11-05T10:00:00+07:00", "satisfaction": 4,
    }
    record.update(changes)
    return record


def landed_frame(records: list[dict[str, Any]], kind: str) -> Any:
    """Records through the real landing (fixed Arrow schema) and back, as the pipeline reads them."""
    import pyarrow.parquet as pq

    from tthc.landing import _nullable

    types, system, id_field = (DOSSIER_TYPES, ONE_STOP, "MaHoSo") if kind == "dossiers" else \
        (FEEDBACK_TYPES, HOTLINE, "id")
    table = pq.read_table(io.BytesIO(to_parquet_bytes(records, types, system, id_field)))
    return table.to_pandas(types_mapper=_nullable)


def land(root: Path, dossiers: list[dict[str, Any]], items: list[dict[str, Any]], unit_code: str = "872",
         period_name: str = "2023-11") -> None:
    folder = root / "raw" / period_name / unit_code
    land_dossiers(folder / "dossiers.parquet", dossiers)
    land_feedback(folder / "feedback.parquet", items)
    assert len(read_landed(folder / "dossiers.parquet")) == len(dossiers)


@pytest.fixture(scope="session")
def gx_session() -> Any:
    """Great Expectations imported once for the whole test session (it takes seconds)."""
    from tthc.quality.runner import GxSession

    return GxSession()


@pytest.fixture(scope="session")
def gate_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A data root after the gate ran over a blocked and a quarantined district (``tests.quality.pages``).

    District 874 starts with the Data Docs folder an earlier version wrote, scripts from a CDN included.
    """
    from tests.quality.pages import blocked_and_quarantined

    root = tmp_path_factory.mktemp("gate")
    stale = root / "quality" / "2023-11" / "874" / "data_docs"
    stale.mkdir(parents=True)
    (stale / "index.html").write_text('<script src="https://cdn.example/jquery.js"></script>')
    return root, blocked_and_quarantined(root)
