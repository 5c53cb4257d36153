"""Connections mean what Airflow's providers document: Schema is the URL scheme, Extra is honoured."""

from __future__ import annotations

import json

import pytest

from tthc.config import ConfigError
from tthc.sources import SourceError
from tthc_airflow import hooks
from tthc_airflow.hooks import HotlineHook, OneStopHook, WarehouseConnectionError, warehouse_url


def conn_json(**fields: object) -> str:
    return json.dumps({"conn_type": "http", **fields})


def test_documented_https_connection_with_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"X-Province": "87", "verify": "/etc/tthc/ca.pem", "cert": "/etc/tthc/client.pem",
             "proxies": {"https": "http://proxy.internal:3128"}}
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", conn_json(host="onestop.example.gov.vn", schema="https",
                                                                password="s3cret", extra=extra))
    session, url, token = OneStopHook().connect()
    assert (url, token) == ("https://onestop.example.gov.vn", "s3cret")
    assert session.verify == "/etc/tthc/ca.pem" and session.cert == "/etc/tthc/client.pem"
    assert session.proxies == {"https": "http://proxy.internal:3128"}
    assert session.headers["X-Province"] == "87"
    assert session.auth is None  # the token goes in our Authorization header, never as basic auth


def test_login_never_becomes_basic_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_HOTLINE_1022", conn_json(host="hotline.example", schema="https",
                                                                    login="someone", password="key"))
    session, url, key = HotlineHook().connect()
    assert session.auth is None and (url, key) == ("https://hotline.example", "key")


@pytest.mark.parametrize(("uri", "url"), [
    ("http://:key@127.0.0.1:8089", "http://127.0.0.1:8089"),  # Schema empty: http, as HttpHook does
    ("http://:key@hotline.example.gov.vn/https", "https://hotline.example.gov.vn"),  # URI path = Schema
    ("http://:key@hotline.example.gov.vn:8443/https", "https://hotline.example.gov.vn:8443"),
])
def test_uri_connections(monkeypatch: pytest.MonkeyPatch, uri: str, url: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_HOTLINE_1022", uri)
    assert HotlineHook().connect()[1:] == (url, "key")


def test_full_url_in_host_keeps_a_path_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", conn_json(host="https://gw.example.gov.vn/tthc", password="t"))
    assert OneStopHook().connect()[1] == "https://gw.example.gov.vn/tthc"


def test_schema_used_as_a_path_prefix_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", conn_json(host="onestop.example", schema="tthc", password="t"))
    with pytest.raises(SourceError, match=r"'tthc_one_stop' has Schema 'tthc'.*URL scheme, https or http") as err:
        OneStopHook().connect()
    assert not err.value.retryable


def test_https_type_without_schema_would_downgrade_and_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", "https://:s3cret@onestop.example.gov.vn")
    with pytest.raises(SourceError, match=r"type https but no Schema.*bearer token unencrypted. Set Schema to https"):
        OneStopHook().connect()


def test_missing_secret_says_which_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", "http://127.0.0.1:8089")
    with pytest.raises(SourceError, match="'tthc_one_stop' has no password: put the bearer token there"):
        OneStopHook().connect()


def test_warehouse_urls(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", f"sqlite:///{tmp_path}/wh.db")
    assert warehouse_url() == f"sqlite:///{tmp_path}/wh.db"
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", "postgresql://u:p%40ss@db.example:5432/tthc")
    # the driver the postgres provider chooses (psycopg 3 when installed, as here)
    assert warehouse_url() == "postgresql+psycopg://u:p%40ss@db.example:5432/tthc"
    monkeypatch.delenv("AIRFLOW_CONN_TTHC_WAREHOUSE")
    assert warehouse_url().endswith("/tthc_warehouse.db")  # not defined at all: the embedded default


def test_warehouse_extra_reaches_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", json.dumps({
        "conn_type": "postgres", "host": "db.example", "port": 5432, "schema": "tthc", "login": "u", "password": "p",
        "extra": {"sslmode": "verify-full", "sslrootcert": "/etc/tthc/db-ca.pem", "connect_timeout": 5}}))
    url = warehouse_url()
    assert url.startswith("postgresql+psycopg://u:p@db.example:5432/tthc?")
    assert "sslmode=verify-full" in url and "sslrootcert=%2Fetc%2Ftthc%2Fdb-ca.pem" in url
    assert "connect_timeout=5" in url


def test_warehouse_extra_is_used_by_a_real_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """sslmode=require against a server without TLS: the driver must refuse, proving the Extra was applied."""
    from sqlalchemy import create_engine, text

    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "schema": "postgres", "login": "postgres",
        "extra": {"application_name": "tthc-warehouse-test"}}))
    engine = create_engine(warehouse_url())
    try:
        with engine.connect() as conn:
            name = conn.execute(text("select current_setting('application_name')")).scalar()
    except Exception as exc:
        from tests.conftest import unavailable

        unavailable(f"no PostgreSQL at 127.0.0.1:5432 ({type(exc).__name__})")
    finally:
        engine.dispose()
    assert name == "tthc-warehouse-test"


def test_unreadable_warehouse_connection_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", '{"conn_type": ')
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_TTHC_WAREHOUSE is set but Airflow cannot read it"):
        warehouse_url()


def test_a_secrets_backend_failure_is_not_a_silent_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    def backend_down(conn_id: str) -> None:
        raise TimeoutError("vault did not answer")

    monkeypatch.setattr(hooks.BaseHook, "get_connection", staticmethod(backend_down))
    with pytest.raises(WarehouseConnectionError, match=r"'tthc_warehouse' .*could not be read: TimeoutError"):
        warehouse_url()
