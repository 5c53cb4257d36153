"""Hooks over the Airflow connections of the two source systems and the warehouse.

Why hooks: operators override endpoints and secrets the standard way (connections in the UI, a
secrets backend, ``AIRFLOW_CONN_TTHC_ONE_STOP=http://:<token>@host:port``); the domain connectors
receive a base URL and a secret and never see Airflow.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from tthc.sources import RetryPolicy, fetch_dossiers, fetch_feedback


def base_url(conn: Any) -> str:
    """``scheme://host:port/prefix`` of an http(s) connection (a full URL in host is taken as is)."""
    host = (conn.host or "").rstrip("/")
    if not host:
        raise ValueError(f"Airflow connection '{conn.conn_id}' has no host: set it to the system's address")
    if "://" in host:
        url = host
    else:
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
        url = f"{scheme}://{host}"
        if conn.port:
            url += f":{conn.port}"
    prefix = (conn.schema or "").strip("/")
    return f"{url}/{prefix}" if prefix else url


class _SourceHook(BaseHook):
    """A source system's endpoint from its http connection: base URL from host/port/schema, secret = password."""

    conn_name_attr = "conn_id"
    conn_type = "http"
    default_conn_name = ""
    secret_name = "secret"  # how the error message calls the password of this system's connection

    def __init__(self, conn_id: str | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name

    def endpoint(self) -> tuple[str, str]:
        conn = self.get_connection(self.conn_id)
        if not conn.password:
            raise ValueError(f"Airflow connection '{self.conn_id}' has no password: put the {self.secret_name} there")
        return base_url(conn), conn.password


class OneStopHook(_SourceHook):
    """The one-stop dossier system (connection ``tthc_one_stop``; password = bearer token)."""

    default_conn_name = "tthc_one_stop"
    hook_name = "TTHC one-stop dossier system"
    secret_name = "bearer token"

    def fetch(self, district: str, active_from: date, active_to: date, policy: RetryPolicy, page_size: int) -> Any:
        url, token = self.endpoint()
        return fetch_dossiers(url, token, district, active_from, active_to, policy=policy, page_size=page_size,
                              conn_id=self.conn_id)


class HotlineHook(_SourceHook):
    """The hotline 1022 system (connection ``tthc_hotline_1022``; password = API key)."""

    default_conn_name = "tthc_hotline_1022"
    hook_name = "TTHC hotline 1022"
    secret_name = "API key"

    def fetch(self, district: str, received_from: date, received_to: date, policy: RetryPolicy, limit: int) -> Any:
        url, key = self.endpoint()
        return fetch_feedback(url, key, district, received_from, received_to, policy=policy, limit=limit,
                              conn_id=self.conn_id)


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()


def warehouse_url(conn_id: str = "tthc_warehouse") -> str:
    """SQLAlchemy URL of the warehouse connection; a SQLite file under the Airflow home when it is not defined."""
    from sqlalchemy.engine import URL

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        return f"sqlite:///{airflow_home() / 'tthc_warehouse.db'}"
    if conn.conn_type == "sqlite":
        path = conn.schema or conn.host
        if not path or not Path(path).is_absolute():
            raise ValueError(f"connection '{conn_id}': a SQLite warehouse needs an absolute path (sqlite:////abs/file.db)")
        return f"sqlite:///{path}"
    if conn.conn_type in ("postgres", "postgresql"):
        return URL.create("postgresql+psycopg2", username=conn.login or None, password=conn.password or None,
                          host=conn.host or None, port=conn.port, database=conn.schema or None
                          ).render_as_string(hide_password=False)
    raise ValueError(f"connection '{conn_id}' has type {conn.conn_type!r}; use sqlite:////abs/path or postgresql://...")


def data_root() -> Any:
    """The data root: ``TTHC_DATA_ROOT`` (a folder or an object-storage URL), else ``$AIRFLOW_HOME/tthc-data``."""
    location = os.environ.get("TTHC_DATA_ROOT") or str(airflow_home() / "tthc-data")
    if "://" in location and not location.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(location)
    from tthc.storage import as_root

    return as_root(location)
