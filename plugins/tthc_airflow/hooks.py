"""Hooks over the Airflow connections of the two source systems and the warehouse.

Why hooks of the providers: operators fill connections the way Airflow documents them. A source
connection is an http connection read by the http provider's ``HttpHook``: Host and Port, Schema =
the URL scheme (``https`` or ``http``), Extra = headers and request options (``proxies``,
``verify`` with a CA bundle, ``cert``). The warehouse is a postgres connection read by the postgres
provider (its Extra, e.g. ``sslmode``, is passed to the driver as the provider does) or a SQLite
file. The domain connectors receive a configured ``requests.Session``, a base URL and a secret, and
never see Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk import BaseHook

from tthc.config import ConfigError, Extraction
from tthc.records import HOTLINE, ONE_STOP
from tthc.sources import Limits, RetryPolicy, SourceError, fetch_dossiers, fetch_feedback

WAREHOUSE_CONN_ID = "tthc_warehouse"


class _SourceHook(HttpHook):
    """A source system's endpoint from its http connection; the password is its secret.

    The secret travels in the header the system's contract names (``Authorization: Bearer`` or
    ``X-API-Key``), so the HTTP basic auth that ``HttpHook`` derives from a Login is switched off.
    """

    default_conn_name = ""
    system = ""
    secret_name = "secret"  # how the error message calls the password of this system's connection
    connector: Callable[..., Any]  # tthc.sources.fetch_dossiers or fetch_feedback
    page_argument = ""  # the connector's page size argument
    page_setting = ""  # the field of the configuration's ``extraction`` that sets it

    def __init__(self, conn_id: str | None = None) -> None:
        super().__init__(method="GET", http_conn_id=conn_id or self.default_conn_name)

    def _fail(self, what: str) -> SourceError:
        return SourceError(f"{self.system}: Airflow connection '{self.http_conn_id}' {what}")

    def connect(self) -> tuple[Any, str, str]:
        """(configured session, base URL, secret), or a permanent error saying which field to fix."""
        conn = self.get_connection(self.http_conn_id)
        host, schema = (conn.host or "").strip(), (conn.schema or "").strip().lower()
        if not host:
            raise self._fail("has no Host: set it to the system's address (e.g. onestop.example.gov.vn)")
        if schema not in ("", "http", "https"):
            raise self._fail(
                f"has Schema {conn.schema!r}: for an http connection Schema is the URL scheme, https or http, "
                "as Airflow's http provider reads it. A path prefix goes in Host as a full URL "
                "(https://host/prefix)")
        if "://" not in host and not schema and conn.conn_type == "https":
            raise self._fail(
                "has type https but no Schema: Airflow's http provider would call http:// and send the "
                f"{self.secret_name} unencrypted. Set Schema to https")
        if not conn.password:
            raise self._fail(f"has no password: put the {self.secret_name} there")
        session = self.get_conn()
        session.auth = None
        return session, self.base_url, conn.password

    def fetch(self, unit_code: str, start: date, end: date, policy: RetryPolicy, page: int,
              limits: Limits | None = None) -> Any:
        """The unit's records of ``[start, end)`` through this system's connector (``page``: its page size)."""
        session, url, secret = self.connect()
        with session:
            return type(self).connector(url, secret, unit_code, start, end, policy=policy, conn_id=self.http_conn_id,
                                        session=session, limits=limits, **{self.page_argument: page})

    def fetcher(self, extraction: Extraction) -> Callable[[str, date, date], Any]:
        """``fetch`` with the configured retries, page size and bounds: the fetch callable of an extract step.

        Why a callable: the domain's extract step (``tthc.pipeline.Fetcher``) asks for a unit's records of a
        window and never sees Airflow's connections.
        """
        return lambda unit_code, start, end: self.fetch(unit_code, start, end, extraction.retry_policy(),
                                                        getattr(extraction, self.page_setting), extraction.limits())


class OneStopHook(_SourceHook):
    """The one-stop dossier system (connection ``tthc_one_stop``; password = bearer token)."""

    default_conn_name = "tthc_one_stop"
    hook_name = "TTHC one-stop dossier system"
    system = ONE_STOP
    secret_name = "bearer token"
    connector = staticmethod(fetch_dossiers)
    page_argument = "page_size"
    page_setting = "page_size"


class HotlineHook(_SourceHook):
    """The hotline 1022 system (connection ``tthc_hotline_1022``; password = API key)."""

    default_conn_name = "tthc_hotline_1022"
    hook_name = "TTHC hotline 1022"
    system = HOTLINE
    secret_name = "API key"
    connector = staticmethod(fetch_feedback)
    page_argument = "limit"
    page_setting = "feedback_limit"


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()


class WarehouseConnectionError(RuntimeError):
    """The warehouse connection could not be read (retried: a secrets backend may be back later).

    A connection that was read but is wrong (type, relative SQLite path) is a ``ConfigError``: permanent.
    """


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """SQLAlchemy URL of the warehouse connection; the embedded SQLite file only when it is not defined.

    Any other failure to read the connection (a secrets backend down, a malformed URI) fails naming
    it: silently writing the figures to a file on one worker would lose them.
    """
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        if os.environ.get(variable, "").strip():  # Airflow logs a value it cannot parse and reports "not found"
            raise ConfigError(f"{variable} is set but Airflow cannot read it as connection '{conn_id}': write it "
                              "as a URI (postgresql://user:pass@host:5432/db) or as JSON with conn_type") from None
        return f"sqlite:///{airflow_home() / 'tthc_warehouse.db'}"
    except Exception as exc:
        raise WarehouseConnectionError(
            f"Airflow connection '{conn_id}' (the warehouse) could not be read: {type(exc).__name__}: {exc}. "
            "Fix the connection or the secrets backend; remove it to use the embedded SQLite file") from exc
    if conn.conn_type == "sqlite":
        path = conn.schema or conn.host
        if not path or not Path(path).is_absolute():
            raise ConfigError(
                f"connection '{conn_id}': a SQLite warehouse needs an absolute path (sqlite:////abs/file.db)")
        return f"sqlite:///{path}"
    if conn.conn_type in ("postgres", "postgresql"):
        return _postgres_url(conn_id, conn)
    raise ConfigError(
        f"connection '{conn_id}' has type {conn.conn_type!r}; use sqlite:////abs/path or postgresql://...")


def _postgres_url(conn_id: str, conn: Any) -> str:
    """The postgres provider's SQLAlchemy URL, with the connection's Extra passed to the driver as it does.

    ``PostgresHook.get_conn`` hands every Extra key it does not reserve (``sslmode``, ``sslrootcert``,
    ``connect_timeout``...) to the driver; SQLAlchemy's psycopg dialects do the same with URL query parameters, so
    they go there. The driver is the provider's choice (psycopg 3 when installed).
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=conn_id)
    url = hook.sqlalchemy_url
    options = {key: str(value) for key, value in conn.extra_dejson.items()
               if key not in PostgresHook.ignored_extra_options}
    return url.update_query_dict(options).render_as_string(hide_password=False)


def data_root() -> Any:
    """The data root: ``TTHC_DATA_ROOT`` (a folder or an object-storage URL), else ``$AIRFLOW_HOME/tthc-data``."""
    location = os.environ.get("TTHC_DATA_ROOT") or str(airflow_home() / "tthc-data")
    if "://" in location and not location.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(location)
    from tthc.storage import as_root

    return as_root(location)
