"""End-to-end fixtures: a migrated Airflow metadata database, the simulator, and a DAG runner."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from simulator.server import SimulatorHandle, start_in_thread

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorHandle]:
    with start_in_thread(quiet=True, slow_seconds=1.0) as handle:
        yield handle


@pytest.fixture(scope="session")
def dag(airflow_db: Path, simulator: SimulatorHandle) -> Any:
    host_port = simulator.base_url.split("://", 1)[1]
    os.environ["AIRFLOW_CONN_TTHC_ONE_STOP"] = f"http://:sim-one-stop-token@{host_port}"
    os.environ["AIRFLOW_CONN_TTHC_HOTLINE_1022"] = f"http://:sim-hotline-key@{host_port}"
    os.environ["AIRFLOW_CONN_TTHC_WAREHOUSE"] = f"sqlite:///{airflow_db / 'warehouse.db'}"
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["tthc_monthly_report"]


@pytest.fixture
def run_dag(dag: Any) -> Callable[..., Any]:
    """Run the DAG in-process with ``dag.test()``; returns the finished DagRun."""

    def run(logical_date: datetime, conf: dict[str, Any]) -> Any:
        return dag.test(logical_date=logical_date, run_conf=conf)

    return run


@pytest.fixture(scope="session")
def data_root() -> Path:
    return Path(os.environ["TTHC_DATA_ROOT"])


@pytest.fixture(scope="session")
def warehouse_url(airflow_db: Path) -> str:
    return f"sqlite:///{airflow_db / 'warehouse.db'}"
