"""airflow-init (docker-compose.yaml): the warehouse's database, its owner and its schema, on any volume state.

Run by ``airflow-init`` after ``airflow db migrate``, as ``python /opt/tthc/init_warehouse.py``. It reads the
warehouse exactly as the tasks do (Airflow connection ``tthc_warehouse``, ``tthc_airflow.hooks.warehouse_url``),
then:

- when the connection points at the compose file's own PostgreSQL (host ``postgres``, or ``TTHC_BUNDLED_DB_HOST``),
  it creates the connection's role and database if they are missing and sets the role's password to the
  connection's, through the metadata database's account (the server's superuser in the compose file). A volume
  made by an older version of the file, or a password changed in ``.env``, is therefore brought in line by
  running ``airflow-init`` again. A warehouse elsewhere (a managed database) is left to its administrators;
- in every case it brings the schema to the newest Alembic revision (``tthc.warehouse_migrations.upgrade``, the
  same call every task makes when it opens the warehouse) and prints the revision.

Without the connection it refuses: a worker that does not find it would write the figures to its own SQLite file.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def main() -> int:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from tthc.warehouse_migrations import upgrade
    from tthc_airflow.hooks import WAREHOUSE_CONN_ID

    variable = f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"
    if not os.environ.get(variable, "").strip():
        print(f"init_warehouse: {variable} is not set (see .env.example)", file=sys.stderr)
        return 1
    from tthc_airflow.hooks import warehouse_url

    url = make_url(warehouse_url())
    if url.get_backend_name() != "postgresql":
        print(f"init_warehouse: connection '{WAREHOUSE_CONN_ID}' must be PostgreSQL here, not {url.drivername}",
              file=sys.stderr)
        return 1
    if url.host == os.environ.get("TTHC_BUNDLED_DB_HOST", "postgres"):
        _create_role_and_database(url)
    engine = create_engine(url)
    try:
        heads = upgrade(engine)
    finally:
        engine.dispose()
    print(f"init_warehouse: database {url.database!r} on {url.host} at revision {', '.join(heads) or '(none)'}")
    return 0


def _create_role_and_database(url: URL) -> None:
    """The connection's role (its password set to the connection's) and database, through the metadata account."""
    import psycopg2
    from psycopg2 import sql
    from sqlalchemy.engine import make_url

    admin = make_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    if not url.username or not url.database:
        raise SystemExit("init_warehouse: the warehouse connection needs a Login and a Schema (the database name)")
    conn = psycopg2.connect(host=admin.host, port=admin.port or 5432, user=admin.username, password=admin.password,
                            dbname="postgres")
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            role, database = sql.Identifier(url.username), sql.Identifier(url.database)
            if url.username != admin.username:  # never change the metadata account's password from here
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (url.username,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}").format(role, sql.Literal(url.password)))
                print(f"init_warehouse: role {url.username!r} {'updated' if verb == 'ALTER' else 'created'}")
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
                print(f"init_warehouse: database {url.database!r} created")
            else:
                cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, role))
    finally:
        conn.close()
    if url.database != admin.database and url.username != admin.username:
        _hand_over_tables(admin, url)


def _hand_over_tables(admin: URL, url: URL) -> None:
    """Tables made in the warehouse by another account (the first compose file used the metadata account) go to
    the warehouse's role, so that its migrations can alter them. ``REASSIGN OWNED`` cannot be used: the metadata
    account is the server's bootstrap superuser in the compose file."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(host=admin.host, port=admin.port or 5432, user=admin.username, password=admin.password,
                            dbname=url.database)
    try:
        with conn, conn.cursor() as cur:
            # tables first: a table's sequences (serial columns) follow it and cannot be handed over alone
            for kinds in (("r", "p"), ("v", "m"), ("S",)):
                cur.execute(
                    "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind = ANY(%s) AND pg_get_userbyid(c.relowner) <> %s",
                    (list(kinds), url.username))
                for kind, name in cur.fetchall():
                    what = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}.get(kind, "TABLE")
                    cur.execute(sql.SQL("ALTER " + what + " {} OWNER TO {}").format(
                        sql.Identifier("public", name), sql.Identifier(url.username)))
                    print(f"init_warehouse: {what.lower()} {name!r} handed over to {url.username!r}")
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
