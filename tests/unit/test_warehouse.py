"""The warehouse replaces a district's period, never appends, on SQLite and on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import fresh_databases
from tthc import warehouse
from tthc.metrics import DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS


def rows(period: str, district: str, received: int) -> tuple[list[dict], dict]:
    base = {name: 0 for name in DOSSIER_COUNTS} | {name: None for name in DOSSIER_RATES}
    dossier = [base | {"period": period, "district_code": district, "level": level, "unit_code": district,
                       "received": received, "digitized_dossiers": received,
                       "dossier_digitization_rate": Decimal("100.00") if received else None}
               for level in ("huyen", "xa", "tong")]
    dossier.append(base | {"period": period, "district_code": district, "level": "commune", "unit_code": "30037",
                           "resolved": 3, "resolved_early": 2, "on_time_rate": Decimal("66.67")})
    feedback = {name: 0 for name in FEEDBACK_COUNTS} | {"period": period, "district_code": district,
                                                         "feedback_received": 5}
    return dossier, feedback


def check_replace_semantics(url: str) -> None:
    engine = warehouse.engine_for(url)
    d1, f1 = rows("2023-11", "872", 10)
    warehouse.replace_period(engine, "2023-11", "872", d1, f1, "run-1")
    warehouse.replace_period(engine, "2023-11", "873", *rows("2023-11", "873", 7), "run-1")
    d2, f2 = rows("2023-11", "872", 12)
    warehouse.replace_period(engine, "2023-11", "872", d2, f2, "run-2")  # rerun: replaces
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(warehouse.dossier_table)).scalar() == 8
        assert conn.execute(select(func.count()).select_from(warehouse.feedback_table)).scalar() == 2
    stored = {(r["level"], r["unit_code"]): r for r in warehouse.dossier_rows(engine, "2023-11", "872")}
    assert stored["tong", "872"]["received"] == 12 and stored["tong", "872"]["run_id"] == "run-2"
    assert stored["commune", "30037"]["on_time_rate"] == Decimal("66.67")
    assert stored["tong", "872"]["on_time_rate"] is None
    assert warehouse.feedback_row(engine, "2023-11", "872")["feedback_received"] == 5
    other = {r["level"]: r for r in warehouse.dossier_rows(engine, "2023-11", "873")}
    assert other["tong"]["received"] == 7 and other["tong"]["run_id"] == "run-1"  # the other district untouched
    warehouse.replace_period(engine, "2023-10", "872", *rows("2023-10", "872", 4), "run-3")
    history = warehouse.history(engine, "872", ["2023-10", "2023-09"])
    assert [(h["period"], h["received"]) for h in history] == [("2023-10", 4)]
    engine.dispose()


def test_sqlite_replaces_rows(tmp_path: Path) -> None:
    check_replace_semantics(f"sqlite:///{tmp_path / 'wh.db'}")


@pytest.mark.services
def test_postgresql_replaces_rows(postgres_url: str) -> None:
    check_replace_semantics(postgres_url)


def test_a_failed_replacement_leaves_the_old_rows(tmp_path: Path) -> None:
    engine = warehouse.engine_for(f"sqlite:///{tmp_path / 'wh.db'}")
    warehouse.replace_period(engine, "2023-11", "872", *rows("2023-11", "872", 10), "run-1")
    broken, feedback = rows("2023-11", "872", 11)
    broken.append(dict(broken[0]))  # duplicate primary key: the insert fails
    with pytest.raises(Exception, match=r"UNIQUE|unique|duplicate"):
        warehouse.replace_period(engine, "2023-11", "872", broken, feedback, "run-2")
    assert {r["received"] for r in warehouse.dossier_rows(engine, "2023-11", "872") if r["level"] == "tong"} == {10}
    engine.dispose()


def _open_warehouse(url: str) -> str:
    try:
        warehouse.engine_for(url).dispose()
        return "ok"
    except Exception as exc:  # returned, so the parent sees every failure of every process
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.services
def test_twelve_tasks_opening_an_empty_postgres_warehouse_at_once_all_succeed() -> None:
    """Twelve districts' tasks start together on an empty warehouse: the tables are created once, no one fails."""
    from concurrent.futures import ProcessPoolExecutor

    from sqlalchemy import inspect

    with fresh_databases("tthc_empty") as (url,):  # the session's database already has the tables
        with ProcessPoolExecutor(max_workers=12) as pool:
            outcomes = list(pool.map(_open_warehouse, [url] * 12))
        assert outcomes == ["ok"] * 12
        engine = warehouse.engine_for(url)
        assert {"tthc_dossier_metrics", "tthc_feedback_metrics"} <= set(inspect(engine).get_table_names())
        engine.dispose()
