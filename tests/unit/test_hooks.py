"""Connections become endpoints the standard way: AIRFLOW_CONN_* URIs, http or https, path prefixes."""

from __future__ import annotations

import pytest

from tthc_airflow.hooks import HotlineHook, OneStopHook, warehouse_url


def test_one_stop_endpoint_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", "https://:s3cret@onestop.example.gov.vn/tthc")
    assert OneStopHook().endpoint() == ("https://onestop.example.gov.vn/tthc", "s3cret")


def test_hotline_endpoint_with_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_HOTLINE_1022", "http://:key@127.0.0.1:8089")
    assert HotlineHook().endpoint() == ("http://127.0.0.1:8089", "key")


def test_missing_secret_says_which_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_ONE_STOP", "http://127.0.0.1:8089")
    with pytest.raises(ValueError, match="'tthc_one_stop' has no password: put the bearer token there"):
        OneStopHook().endpoint()


def test_warehouse_urls(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", f"sqlite:///{tmp_path}/wh.db")
    assert warehouse_url() == f"sqlite:///{tmp_path}/wh.db"
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", "postgresql://u:p%40ss@db.example:5432/tthc")
    assert warehouse_url() == "postgresql+psycopg2://u:p%40ss@db.example:5432/tthc"
    monkeypatch.delenv("AIRFLOW_CONN_TTHC_WAREHOUSE")
    assert warehouse_url().endswith("/tthc_warehouse.db")
