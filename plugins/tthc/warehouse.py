"""The metrics warehouse: tables ``tthc_dossier_metrics`` and ``tthc_feedback_metrics``.

Why delete-then-insert in one transaction: recomputing a period must replace its rows, never add
to them, and a reader must never see a district's period half-replaced. The same code serves the
embedded SQLite file and PostgreSQL (SQLAlchemy Core, no dialect-specific SQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
    text,
)

from tthc.metrics import DOSSIER_COUNTS, DOSSIER_RATES, FEEDBACK_COUNTS

metadata = MetaData()



def _keys() -> list[Column]:
    return [Column("period", String(7), primary_key=True, comment="reporting month YYYY-MM"),
            Column("district_code", String(8), primary_key=True, comment="GSO code of the reporting unit")]


def _provenance() -> list[Column]:
    return [Column("computed_at", DateTime(timezone=True), nullable=False),
            Column("run_id", String(250), nullable=False)]


dossier_table = Table(
    "tthc_dossier_metrics",
    metadata,
    *_keys(),
    Column("level", String(8), primary_key=True, comment="huyen, xa, tong or commune"),
    Column("unit_code", String(8), primary_key=True, comment="the district's code, or the commune's"),
    *[Column(name, Integer, nullable=False) for name in DOSSIER_COUNTS],
    *[Column(name, Numeric(5, 2), nullable=True, comment="percent; null when nothing arose") for name in DOSSIER_RATES],
    *_provenance(),
)

feedback_table = Table(
    "tthc_feedback_metrics",
    metadata,
    *_keys(),
    *[Column(name, Integer, nullable=False) for name in FEEDBACK_COUNTS],
    *_provenance(),
)


@contextmanager
def connected(url: str) -> Iterator[Engine]:
    """``with connected(url) as engine:`` an engine for one step, its pool closed after (a task is a process)."""
    engine = engine_for(url)
    try:
        yield engine
    finally:
        engine.dispose()


# Any constant: the key of the PostgreSQL advisory lock that serialises creating the tables.
_CREATE_LOCK = 0x7448_4843


def engine_for(url: str) -> Engine:
    """An engine for ``sqlite:///<absolute path>`` or ``postgresql://...``; tables are created if absent.

    Why a lock on PostgreSQL: the districts' tasks start together, and on an empty warehouse several
    ``CREATE TABLE`` raced (one failed on ``pg_type_typname_nsp_index`` and waited for a retry). A
    transaction-scoped advisory lock lets one create the tables while the others wait, then see them.
    """
    engine = create_engine(url, future=True, pool_pre_ping=True)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})
        metadata.create_all(conn, checkfirst=True)
    return engine


def replace_period(engine: Engine, period: str, district_code: str, dossier_rows: list[dict[str, Any]],
                   feedback_row: dict[str, Any], run_id: str, computed_at: datetime | None = None) -> None:
    """Replace the district's rows of that period with these, atomically."""
    stamp = computed_at or datetime.now(UTC)
    provenance = {"computed_at": stamp, "run_id": run_id}
    for row in [*dossier_rows, feedback_row]:
        if row["period"] != period or row["district_code"] != district_code:
            raise ValueError(f"row of {row['period']}/{row['district_code']} given to replace {period}/{district_code}")
    with engine.begin() as conn:
        for table in (dossier_table, feedback_table):
            conn.execute(delete(table).where(table.c.period == period, table.c.district_code == district_code))
        if dossier_rows:
            conn.execute(insert(dossier_table), [row | provenance for row in dossier_rows])
        conn.execute(insert(feedback_table), [feedback_row | provenance])


def delete_period(engine: Engine, period: str, district_code: str) -> int:
    """Remove the district's rows of that period (its data failed validation): returns how many went."""
    removed = 0
    with engine.begin() as conn:
        for table in (dossier_table, feedback_table):
            removed += conn.execute(delete(table).where(table.c.period == period,
                                                        table.c.district_code == district_code)).rowcount or 0
    return removed


def _plain(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for name in DOSSIER_RATES:
        if name in out and out[name] is not None:
            out[name] = Decimal(out[name]).quantize(Decimal("0.01"))
    return out


def dossier_rows(engine: Engine, period: str, district_code: str) -> list[dict[str, Any]]:
    table = dossier_table
    query = select(table).where(table.c.period == period, table.c.district_code == district_code)
    with engine.connect() as conn:
        return [_plain(r) for r in conn.execute(query.order_by(dossier_table.c.level, dossier_table.c.unit_code))]


def feedback_row(engine: Engine, period: str, district_code: str) -> dict[str, Any] | None:
    query = select(feedback_table).where(feedback_table.c.period == period,
                                         feedback_table.c.district_code == district_code)
    with engine.connect() as conn:
        found = conn.execute(query).first()
    return _plain(found) if found else None


def history(engine: Engine, district_code: str, periods: Iterable[str]) -> list[dict[str, Any]]:
    """The district's ``tong`` rows of the given periods that exist, oldest first."""
    wanted = sorted(set(periods))
    query = select(dossier_table).where(
        dossier_table.c.district_code == district_code,
        dossier_table.c.level == "tong",
        dossier_table.c.period.in_(wanted),
    )
    with engine.connect() as conn:
        return [_plain(r) for r in conn.execute(query.order_by(dossier_table.c.period))]
