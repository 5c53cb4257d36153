"""The warehouse's schema is versioned: created, adopted, upgraded in place, guarded, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Numeric, Table, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url

from tests.conftest import fresh_databases
from tests.unit.test_warehouse import _open_warehouse, check_replace_semantics, rows
from tthc import warehouse, warehouse_migrations
from tthc.config import ConfigError
from tthc.warehouse_migrations import VERSION_TABLE, VERSIONS, WarehouseSchemaError

HEAD = warehouse_migrations.script_directory().get_current_head()
REVISION_1 = warehouse_migrations.script_directory().get_revision("0001").module


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file, or a new PostgreSQL database (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wh.db'}"
        return
    with fresh_databases("tthc_migrations") as (url,):
        yield url


def revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"select version_num from {VERSION_TABLE}")).scalars())


def snapshot(engine: Engine, tables: tuple[Table, ...]) -> dict[str, list[dict[str, Any]]]:
    """Every row of these tables (only their columns), in primary-key order."""
    with engine.connect() as conn:
        return {table.name: [dict(r._mapping) for r in conn.execute(select(table).order_by(*table.primary_key))]
                for table in tables}


def make_warehouse_before_migrations(url: str) -> tuple[tuple[Table, ...], dict[str, list[dict[str, Any]]]]:
    """A warehouse as the code before migrations left it: ``create_all`` of revision 1's tables, rows, no version."""
    tables = REVISION_1.tables(MetaData())
    dossier, feedback = tables
    keys = {"period": "2023-11", "district_code": "872", "computed_at": datetime(2023, 11, 20, 1, 2, 3, tzinfo=UTC),
            "run_id": "before-migrations"}
    dossier_rows = [{name: 0 for name in REVISION_1.DOSSIER_COUNTS} | {name: None for name in REVISION_1.DOSSIER_RATES}
                    | keys | {"level": level, "unit_code": "872", "received": 10 + i, "on_time_rate": Decimal("66.67")}
                    for i, level in enumerate(("huyen", "xa", "tong"))]
    feedback_row = {name: 0 for name in REVISION_1.FEEDBACK_COUNTS} | keys | {"feedback_received": 5}
    engine = create_engine(url)
    with engine.begin() as conn:
        tables[0].metadata.create_all(conn)
        conn.execute(insert(dossier), dossier_rows)
        conn.execute(insert(feedback), [feedback_row])
    before = snapshot(engine, tables)
    engine.dispose()
    return tables, before


def test_an_empty_warehouse_is_upgraded_to_the_newest_revision(empty_url: str) -> None:
    check_replace_semantics(empty_url)  # engine_for on an empty database, then every write and read
    with warehouse.connected(empty_url) as engine:
        assert revisions(engine) == (HEAD,)
        # Its own version table: Airflow's alembic_version may live in the same database.
        assert "alembic_version" not in inspect(engine).get_table_names()


def test_the_table_definitions_match_the_migrations(empty_url: str) -> None:
    """The guard: a column added to warehouse.py without a revision exists in no upgraded warehouse."""
    with warehouse.connected(empty_url) as engine, engine.connect() as conn:
        found = warehouse_migrations.differences(conn, warehouse.metadata)
    assert found == [], (
        f"tthc.warehouse.metadata and the warehouse's revisions disagree: {found}. Draft the missing revision "
        "with `PYTHONPATH=plugins .venv/bin/python -m tthc.warehouse_migrations revision -m \"add metric ...\"` "
        "and read it (README, How to change it)")


def test_the_guard_names_a_column_added_without_a_revision(tmp_path: Path) -> None:
    ahead = MetaData()
    for table in warehouse.metadata.tables.values():
        table.to_metadata(ahead)
    ahead.tables["tthc_feedback_metrics"].append_column(Column("feedback_by_zalo", Integer, nullable=False))
    with warehouse.connected(f"sqlite:///{tmp_path / 'wh.db'}") as engine, engine.connect() as conn:
        found = warehouse_migrations.differences(conn, ahead)
    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "tthc_feedback_metrics", "feedback_by_zalo")]


def test_a_warehouse_made_before_migrations_is_adopted_with_its_rows(
        empty_url: str, caplog: pytest.LogCaptureFixture) -> None:
    tables, before = make_warehouse_before_migrations(empty_url)
    with caplog.at_level(logging.WARNING, logger="tthc.warehouse_migrations"), \
            warehouse.connected(empty_url) as engine:
        assert revisions(engine) == (HEAD,)
        assert snapshot(engine, tables) == before
        assert [r["received"] for r in warehouse.dossier_rows(engine, "2023-11", "872")] == [10, 12, 11]
        assert warehouse.feedback_row(engine, "2023-11", "872")["feedback_received"] == 5
    assert "made before schema migrations; stamped at revision 0001, its rows untouched" in caplog.text


def test_tables_that_are_not_the_warehouse_before_migrations_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create table tthc_feedback_metrics (period varchar(7) primary key, note text)"))
    with pytest.raises(WarehouseSchemaError, match=r"no version table .* tthc_dossier_metrics is missing; "
                                                   r"tthc_feedback_metrics lacks \[.*\] and has \['note'\]"):
        warehouse.engine_for(url)
    assert not inspect(engine).has_table(VERSION_TABLE)  # nothing stamped, nothing created
    engine.dispose()


TEST_REVISION = '''"""Test only: a new count and a new rate, as a new metric would add them."""
import sqlalchemy as sa
from alembic import op

revision = "test_only_new_metric"
down_revision = {head!r}


def upgrade() -> None:
    op.add_column("tthc_feedback_metrics", sa.Column("feedback_by_zalo", sa.Integer(), nullable=False,
                                                     server_default=sa.text("0")))
    op.add_column("tthc_dossier_metrics", sa.Column("zalo_rate", sa.Numeric(5, 2), nullable=True))


def downgrade() -> None:
    op.drop_column("tthc_dossier_metrics", "zalo_rate")
    op.drop_column("tthc_feedback_metrics", "feedback_by_zalo")
'''


def test_a_new_revision_upgrades_a_warehouse_with_rows_in_place(empty_url: str, tmp_path: Path) -> None:
    """A warehouse of today's schema, with rows, gains the next revision's columns and keeps every row."""
    extra = tmp_path / "versions"
    extra.mkdir()
    (extra / "v9999_test_only_new_metric.py").write_text(TEST_REVISION.format(head=HEAD), "utf-8")
    tables = tuple(warehouse.metadata.tables.values())
    with warehouse.connected(empty_url) as engine:
        warehouse.replace_period(engine, "2023-11", "872", *rows("2023-11", "872", 10), "run-1")
        warehouse.replace_period(engine, "2023-10", "872", *rows("2023-10", "872", 4), "run-0")
        before = snapshot(engine, tables)
        script = warehouse_migrations.script_directory([VERSIONS, extra])
        assert warehouse_migrations.upgrade(engine, script) == ("test_only_new_metric",)
        assert snapshot(engine, tables) == before  # today's columns of every row, unchanged
        with engine.connect() as conn:
            added = conn.execute(text("select period, feedback_by_zalo from tthc_feedback_metrics order by period"))
            assert added.all() == [("2023-10", 0), ("2023-11", 0)]
            assert set(conn.execute(text("select zalo_rate from tthc_dossier_metrics")).scalars()) == {None}
        assert warehouse_migrations.upgrade(engine, script) == ("test_only_new_metric",)  # again: nothing to do


def test_a_failing_revision_leaves_the_warehouse_as_it_was(empty_url: str, tmp_path: Path) -> None:
    """One transaction: a revision that fails half-way leaves neither its column nor a new version (SQLite too)."""
    extra = tmp_path / "versions"
    extra.mkdir()
    second = '    op.add_column("tthc_dossier_metrics"'
    failing = TEST_REVISION.format(head=HEAD).replace(second, '    raise RuntimeError("half-way")\n' + second)
    (extra / "v9999_test_only_new_metric.py").write_text(failing, "utf-8")
    with warehouse.connected(empty_url) as engine:
        with pytest.raises(RuntimeError, match="half-way"):
            warehouse_migrations.upgrade(engine, warehouse_migrations.script_directory([VERSIONS, extra]))
        assert revisions(engine) == (HEAD,)
        assert "feedback_by_zalo" not in {c["name"] for c in inspect(engine).get_columns("tthc_feedback_metrics")}


def test_a_drafted_revision_brings_the_warehouse_to_the_table_definitions(tmp_path: Path) -> None:
    """``python -m tthc.warehouse_migrations revision`` drafts a revision that closes the guard's difference."""
    ahead = MetaData()
    for table in warehouse.metadata.tables.values():
        table.to_metadata(ahead)
    ahead.tables["tthc_dossier_metrics"].append_column(
        Column("zalo_rate", Numeric(5, 2), nullable=True, comment="percent; null when nothing arose"))
    script = warehouse_migrations.script_directory([VERSIONS, tmp_path])
    with pytest.raises(ValueError, match="nothing to draft"):
        warehouse_migrations.draft_revision(warehouse.metadata, "nothing changed", script, tmp_path)
    path = warehouse_migrations.draft_revision(ahead, "add metric zalo_rate", script, tmp_path)
    assert path.parent == tmp_path and path.name.startswith(f"v{int(HEAD or 0) + 1:04d}_add_metric_zalo_rate")
    assert "op.add_column('tthc_dossier_metrics', sa.Column('zalo_rate'" in path.read_text("utf-8")
    engine = create_engine(f"sqlite:///{tmp_path / 'wh.db'}")
    warehouse_migrations.upgrade(engine, warehouse_migrations.script_directory([VERSIONS, tmp_path]))
    with engine.connect() as conn:
        assert warehouse_migrations.differences(conn, ahead) == []
    engine.dispose()


def test_a_warehouse_upgraded_by_newer_code_is_refused_naming_it(empty_url: str) -> None:
    url = make_url(empty_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(password="s3cret-pw")  # the test server trusts: the password is only there to be hidden
    engine = create_engine(url)
    warehouse_migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(f"update {VERSION_TABLE} set version_num = 'from_newer_code'"))
    engine.dispose()
    with pytest.raises(WarehouseSchemaError) as failure:
        warehouse.engine_for(url.render_as_string(hide_password=False))
    message = str(failure.value)
    assert f"the warehouse {url.render_as_string(hide_password=True)} is at schema revision from_newer_code" in message
    assert f"its newest is {HEAD}" in message and "deploy that version to every worker" in message
    assert "s3cret-pw" not in message
    assert isinstance(failure.value, ConfigError)  # the task fails at once: a retry meets the same schema


def test_a_process_upgrades_a_warehouse_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    upgrade = warehouse_migrations.upgrade

    def counted(engine: Engine) -> tuple[str, ...]:
        calls.append(str(engine.url))
        return upgrade(engine)

    monkeypatch.setattr(warehouse_migrations, "upgrade", counted)
    path = tmp_path / "wh.db"
    for _ in range(3):
        warehouse.engine_for(f"sqlite:///{path}").dispose()
    assert len(calls) == 1
    path.unlink()  # a removed file is a new, empty warehouse
    with warehouse.connected(f"sqlite:///{path}") as engine:
        assert revisions(engine) == (HEAD,)
    assert len(calls) == 2


def _waiting_for_the_upgrade_lock(conn: Any) -> int:
    return conn.execute(text("select count(*) from pg_locks where locktype = 'advisory' and not granted "
                             "and objid = :key and database = (select oid from pg_database "
                             "where datname = current_database())"), {"key": warehouse_migrations.LOCK_KEY}).scalar()


@pytest.mark.services
def test_concurrent_upgrades_of_an_empty_postgres_warehouse_wait_for_each_other_and_all_succeed() -> None:
    """Four tasks start while the upgrade lock is held: all wait on it, then one upgrades and the others see it."""
    with fresh_databases("tthc_migrations_race") as (url,):
        holder = create_engine(url)
        with ProcessPoolExecutor(max_workers=4) as pool:
            pool.submit(int).result()  # the workers are forked now, before the lock holder's connection opens
            conn = holder.connect()
            conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": warehouse_migrations.LOCK_KEY})
            outcomes = [pool.submit(_open_warehouse, url) for _ in range(4)]
            deadline = time.monotonic() + 60
            while _waiting_for_the_upgrade_lock(conn) < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _waiting_for_the_upgrade_lock(conn) == 4
            conn.commit()  # releases the lock: the four race for it now
            conn.close()
            assert [outcome.result(timeout=120) for outcome in outcomes] == ["ok"] * 4
        assert revisions(holder) == (HEAD,)
        holder.dispose()


def test_concurrent_upgrades_of_an_empty_sqlite_warehouse_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    with ProcessPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(_open_warehouse, [url] * 4)) == ["ok"] * 4
    with warehouse.connected(url) as engine:
        assert revisions(engine) == (HEAD,)
