"""The metrics warehouse: tables ``tthc_dossier_metrics`` and ``tthc_feedback_metrics``, and the office inputs.

``tthc_office_inputs`` keeps, per unit and period, the inputs its report used (as JSON), where they came
from (the office's answer to the form, a timeout, the inputs file) and which were defaulted.

Why delete-then-insert in one transaction: recomputing a period must replace its rows, never add
to them, and a reader must never see a district's period half-replaced. The same code serves the
embedded SQLite file and PostgreSQL (SQLAlchemy Core, no dialect-specific SQL).

The tables below are the schema this code reads and writes; ``tthc.warehouse_migrations`` holds the
revisions that bring a warehouse to it. A column added here needs a revision there (a test fails
until it has one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
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
    Text,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import URL

from tthc import warehouse_migrations
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


office_inputs_table = Table(
    "tthc_office_inputs",
    metadata,
    *_keys(),
    Column("source", String(32), nullable=False, comment="form, timeout, file, run parameters, ... or none"),
    Column("inputs", Text, nullable=True, comment="the inputs as JSON (tthc.inputs.OperatorInputs); null: none"),
    Column("defaulted", String(200), nullable=False, comment="report fields without a value, comma-separated"),
    Column("answered_by", String(250), nullable=True, comment="id of the Airflow user who answered the form"),
    Column("answered_at", DateTime(timezone=True), nullable=True, comment="the answer, or the form's timeout"),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(250), nullable=False),
)


@contextmanager
def connected(url: str) -> Iterator[Engine]:
    """``with connected(url) as engine:`` an engine for one step, its pool closed after (a task is a process)."""
    engine = engine_for(url)
    try:
        yield engine
    finally:
        engine.dispose()


def engine_for(url: str) -> Engine:
    """An engine for ``sqlite:///<absolute path>`` or ``postgresql://...``, its schema at the newest revision.

    The first call of a process for a warehouse upgrades it (``tthc.warehouse_migrations.upgrade``:
    creates an empty one, adopts one made before migrations, serialised across the districts' tasks);
    the next ones trust it.
    """
    engine = create_engine(url, future=True, pool_pre_ping=True)
    try:
        _ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


# The warehouses this process has upgraded. Why remember: every step opens the warehouse, and the
# check costs a lock and a round of catalogue queries each time; a task is a process, so a newer
# revision deployed meanwhile arrives with a new process.
_UPGRADED: set[str] = set()
_UPGRADING = threading.Lock()


def _ensure_schema(engine: Engine) -> None:
    with _UPGRADING:
        if _warehouse_key(engine.url) in _UPGRADED:
            return
        warehouse_migrations.upgrade(engine)
        key = _warehouse_key(engine.url)
        if key is not None:
            _UPGRADED.add(key)


def _warehouse_key(url: URL) -> str | None:
    """The warehouse an engine reaches, or None when the next engine may reach a different one.

    An in-memory SQLite database belongs to its engine, and a SQLite file that was removed (a reset, a
    test) is a new, empty warehouse: both are upgraded again.
    """
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None
    return url.render_as_string(hide_password=False)


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


def replace_office_inputs(engine: Engine, row: dict[str, Any]) -> None:
    """Replace the unit's inputs row of the period (``row`` has every column of ``tthc_office_inputs``)."""
    table = office_inputs_table
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.period == row["period"],
                                         table.c.district_code == row["district_code"]))
        conn.execute(insert(table), [row])


def office_inputs_row(engine: Engine, period: str, district_code: str) -> dict[str, Any] | None:
    table = office_inputs_table
    query = select(table).where(table.c.period == period, table.c.district_code == district_code)
    with engine.connect() as conn:
        found = conn.execute(query).first()
    return dict(found._mapping) if found else None
