"""The warehouse's schema, versioned: Alembic revisions run from code (no ``alembic.ini``, no ``env.py``).

Why migrations: ``metadata.create_all`` creates missing tables but never adds a column, so the first new
metric failed on every existing warehouse. Each change of the tables is a revision in ``versions/``, and
opening the warehouse (``tthc.warehouse.engine_for``) brings it to the newest one with ``upgrade``, in one
transaction, on SQLite and PostgreSQL alike.

- The version table is ``tthc_alembic_version``, never Alembic's default ``alembic_version``: the
  warehouse may share Airflow's metadata database, whose schema Airflow versions in that table.
- A warehouse made before migrations (both tables, no version table) is *adopted*: stamped at revision
  ``0001``, which creates exactly that schema, then upgraded like any other. Its rows are not touched.
- One upgrader at a time: the districts' tasks start together. PostgreSQL: a transaction-scoped advisory
  lock; SQLite: ``BEGIN IMMEDIATE`` (its write lock). Whoever waited then finds the work done.
- A warehouse at a revision this code does not know was upgraded by newer code: refused, naming it.

A new column: ``python -m tthc.warehouse_migrations revision -m "..."`` drafts the next revision from
the difference between ``tthc.warehouse.metadata`` and the revisions (README, "How to change it").
Nothing here imports Airflow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text

from tthc.config import ConfigError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
VERSIONS = HERE / "versions"
VERSION_TABLE = "tthc_alembic_version"
ADOPTED_REVISION = "0001"  # the schema that metadata.create_all made before migrations
TABLES = ("tthc_dossier_metrics", "tthc_feedback_metrics")
# Any constant: the key of the PostgreSQL advisory lock that serialises upgrading the warehouse.
LOCK_KEY = 0x7448_4843
_FILE_TEMPLATE = "v%(rev)s_%(slug)s"  # a module name mypy and the import test accept: v0002_add_x.py

# Alembic's ``op`` and ``context`` are module-level proxies: two upgrades running at once in one process
# would replace each other's. The database locks serialise processes, this one the threads of a process.
_PROXY_GUARD = threading.Lock()


class WarehouseSchemaError(ConfigError):
    """The warehouse's schema cannot be brought to this code's revisions.

    A ``ConfigError`` so the task fails at once: a retry would meet the same schema.
    """


def script_directory(version_locations: Sequence[Path] = (VERSIONS,)) -> ScriptDirectory:
    """The revisions (``versions/``; a test adds a folder of its own) and the template of new ones."""
    return ScriptDirectory(HERE, file_template=_FILE_TEMPLATE, version_locations=list(version_locations))


@cache
def _default_script() -> ScriptDirectory:
    return script_directory()


def describe(conn: Connection) -> str:
    """The warehouse's URL as it may be printed: the password masked."""
    return conn.engine.url.render_as_string(hide_password=True)


def upgrade(engine: Engine, script: ScriptDirectory | None = None) -> tuple[str, ...]:
    """Bring the warehouse to the newest revision in one transaction; returns the revision(s) it is at."""
    with engine.begin() as conn:
        _lock(conn)
        return upgrade_connection(conn, script or _default_script())


def _lock(conn: Connection) -> None:
    """Hold the warehouse's write lock until the transaction ends, before reading its revision.

    PostgreSQL: several ``CREATE TABLE`` at once race (one fails on ``pg_type_typname_nsp_index``); the
    advisory lock lets one upgrade while the others wait, then see its tables. SQLite: ``BEGIN IMMEDIATE``
    takes the write lock now, and makes the DDL part of the transaction (the sqlite3 driver of Python 3.11
    would otherwise commit each ``CREATE`` or ``ALTER`` on its own, leaving half an upgrade after a failure).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif conn.dialect.name == "sqlite" and not getattr(conn.connection.driver_connection, "in_transaction", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade_connection(conn: Connection, script: ScriptDirectory) -> tuple[str, ...]:
    """The steps of ``upgrade`` on a connection already in its transaction (and holding the lock)."""
    context = _context(conn)
    current = context.get_current_heads()
    if current:
        _check_known(conn, script, current)
    else:
        _adopt_if_made_before_migrations(conn, context, script)
        current = context.get_current_heads()  # stamped at 0001 when adopted
    _run_upgrade(conn, script)
    reached = context.get_current_heads()
    if reached != current:
        log.info("warehouse %s: schema upgraded from revision %s to %s", describe(conn),
                 ", ".join(current) or "none", ", ".join(reached))
    return reached


def _context(conn: Connection, **opts: Any) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, **opts})


def _check_known(conn: Connection, script: ScriptDirectory, current: tuple[str, ...]) -> None:
    """Refuse a warehouse that newer code upgraded: this code's tables would not be the stored ones."""
    try:
        script.get_revisions(current)
    except CommandError as exc:
        raise WarehouseSchemaError(
            f"the warehouse {describe(conn)} is at schema revision {', '.join(current)} (table {VERSION_TABLE}), "
            f"which this code does not know: its newest is {', '.join(script.get_heads())}. Newer code of the "
            "pipeline has upgraded this warehouse: deploy that version to every worker, the scheduler and the "
            "DAG processor instead of this one. Do not edit the version table by hand") from exc


def _adopt_if_made_before_migrations(conn: Connection, context: MigrationContext, script: ScriptDirectory) -> None:
    """Stamp at revision 0001 a warehouse that ``create_all`` made before migrations; an empty one is left empty.

    Stamping only writes the version table: the tables and rows stay as they are, and the revisions
    after 0001 then upgrade them in place.
    """
    present = [name for name in TABLES if inspect(conn).has_table(name)]
    if not present:
        return
    expected = {table.name: {column.name for column in table.columns}
                for table in script.get_revision(ADOPTED_REVISION).module.tables(MetaData())}
    found = {name: {column["name"] for column in inspect(conn).get_columns(name)} for name in present}
    if found != expected:
        raise WarehouseSchemaError(
            f"the warehouse {describe(conn)} has no version table ({VERSION_TABLE}) and tables that are not "
            f"those the pipeline made before migrations (revision {ADOPTED_REVISION}): {_mismatch(expected, found)}. "
            "Point the warehouse connection at the pipeline's own database, or move these tables away")
    context.stamp(script, ADOPTED_REVISION)
    log.warning("warehouse %s: made before schema migrations; stamped at revision %s, its rows untouched",
                describe(conn), ADOPTED_REVISION)


def _mismatch(expected: dict[str, set[str]], found: dict[str, set[str]]) -> str:
    """Which table is missing, or which columns differ, in words for the error."""
    parts = []
    for name, columns in expected.items():
        if name not in found:
            parts.append(f"{name} is missing")
        elif found[name] != columns:
            parts.append(f"{name} lacks {sorted(columns - found[name])} and has {sorted(found[name] - columns)}")
    return "; ".join(parts)


def _run_upgrade(conn: Connection, script: ScriptDirectory) -> None:
    """What ``alembic upgrade heads`` does through ``env.py``, on this connection, in its transaction."""
    def steps(heads: Any, _context: MigrationContext) -> Any:
        return script._upgrade_revs("heads", heads)

    with _PROXY_GUARD, EnvironmentContext(Config(), script, fn=steps) as environment:
        environment.configure(connection=conn, version_table=VERSION_TABLE)
        environment.run_migrations()


def _ours(name: str | None, type_: str, parent_names: Any) -> bool:
    """Compare only the warehouse's tables: it may share a database with Airflow's."""
    return type_ != "table" or (name or "").startswith("tthc_")


def differences(conn: Connection, metadata: MetaData) -> list[Any]:
    """Where ``metadata`` and the warehouse behind ``conn`` disagree (Alembic's autogenerate diff); [] if nowhere.

    Why: a column added to the table definitions without a revision exists in the code but in no
    upgraded warehouse; the test that calls this on freshly migrated databases says so.
    """
    return list(compare_metadata(_context(conn, include_name=_ours), metadata))


def draft_revision(metadata: MetaData, message: str, script: ScriptDirectory | None = None,
                   version_path: Path = VERSIONS) -> Path:
    """Write the next revision file, its ``upgrade()`` drafted from what ``metadata`` has that the revisions lack.

    Why a draft: Alembic sees a new column but not what the rows already stored must hold in it; the
    engineer decides that (a ``server_default``, or a nullable column) and edits the file. Nothing to
    draft is a ``ValueError``.
    """
    script = script or _default_script()
    engine = create_engine("sqlite://")  # the revisions replayed in memory, then compared with metadata
    try:
        with engine.begin() as conn:
            upgrade_connection(conn, script)
            migration = produce_migrations(_context(conn, include_name=_ours), metadata)
    finally:
        engine.dispose()
    assert migration.upgrade_ops is not None and migration.downgrade_ops is not None
    if migration.upgrade_ops.is_empty():
        raise ValueError("the table definitions and the revisions agree: nothing to draft (add the column to "
                         "tthc.warehouse's tables first; a revision that only moves data is written by hand)")
    written = script.generate_revision(
        _next_revision(script), message, version_path=str(version_path),
        upgrades=render_python_code(migration.upgrade_ops), downgrades=render_python_code(migration.downgrade_ops))
    assert written is not None
    return Path(written.path)


def _next_revision(script: ScriptDirectory) -> str:
    """Revisions are numbered 0001, 0002, ... in the order they were written."""
    return f"{int(script.get_current_head() or 0) + 1:04d}"
