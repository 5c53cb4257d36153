"""Real Airflow components for the scheduler tests: API server, scheduler and DAG processor on PostgreSQL.

Why real processes and not ``dag.test()``: the timetable, the trigger form's params, backfills and run
ids are decided by the scheduler, the API server and the DAG processor, each in its own process, on a
database they share. ``dag.test()`` runs none of them, so it cannot show a run id the scheduler makes,
a backfill the API server plans, or a component that dies under parallel tasks.

Everything lives under one pytest temporary folder (Airflow home, data root, every component's log,
kept for a look after a failure) and on two fresh PostgreSQL databases (metadata, warehouse), dropped
at the end; every process started here is stopped, whatever the outcome.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from simulator.server import start_in_thread
from tests.conftest import _Inbox, fresh_databases, local_smtp
from tests.scheduler.stack import (
    ADMIN,
    DAG_ID,
    ROOT,
    VENV_BIN,
    AirflowStack,
    StackOptions,
    celery_env,
    component_env,
    free_port,
    start_celery_worker,
    start_component,
    wait_for,
)


@pytest.fixture(scope="module")
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases on the test server, metadata and warehouse (SQLAlchemy URLs); dropped at the end."""
    with fresh_databases("tthc_sched_meta", "tthc_sched_wh") as urls:
        yield urls  # type: ignore[misc]


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[_Inbox, int]]:
    """A real SMTP server on loopback for a whole module (its components start once per module): (inbox, port)."""
    with local_smtp() as server:
        yield server


@pytest.fixture(scope="session")
def answer_required_action() -> Callable[..., Any]:
    """``answer(stack, run_id, task_id, map_index, body)``: a Required Action answered as the UI does, after a pause.

    ``PATCH .../taskInstances/{task_id}/{map_index}/hitlDetails``, ten seconds after the form was seen waiting,
    as a person answers. Airflow 3.3.2 races within a second of the pause: an answer that lands before the
    scheduler has read the executor's "awaiting_input" event for the task makes the scheduler see a state
    changed under it, fail the try and retry it, so the form is asked again and the answer lost (seen once
    in CI, the answer 1.1 s after the pause; the scheduler's loop takes well under ten seconds).
    """

    def answer(stack: AirflowStack, run_id: str, task_id: str, map_index: int, body: dict[str, Any]) -> Any:
        time.sleep(10)
        return stack.api("PATCH", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails",
                         json=body)

    return answer


@pytest.fixture(scope="module")
def stack_options() -> StackOptions:
    """The stack as most tests want it; a test module overrides this fixture for more (see ``StackOptions``)."""
    return StackOptions()


@pytest.fixture(scope="module")
def airflow_stack(postgres_databases: tuple[str, str], tmp_path_factory: pytest.TempPathFactory,
                  stack_options: StackOptions) -> Iterator[AirflowStack]:
    """``airflow db migrate``, then the API server, scheduler and DAG processor (and a triggerer when the
    module's ``stack_options`` ask for one), logged in as admin.

    Yields once the DAG is parsed and unpaused. The components are stopped (SIGTERM, then SIGKILL)
    in every case; their logs stay under the test's temporary folder and are shown when a test fails.
    """
    metadata_url, warehouse_url = postgres_databases
    base = tmp_path_factory.mktemp("scheduler")
    home, data_root, logs = base / "airflow-home", base / "tthc-data", base / "component-logs"
    for folder in (home, data_root, logs):
        folder.mkdir()
    password = secrets.token_urlsafe(16)
    passwords = home / "passwords.json"
    # The simple auth manager only generates passwords for users missing from this file.
    passwords.write_text(json.dumps({ADMIN: password}), encoding="utf-8")
    api_port = free_port()

    with start_in_thread(**{"quiet": True, **stack_options.simulator}) as simulator:
        env = component_env(home, data_root, metadata_url, warehouse_url, api_port, simulator, passwords)
        if stack_options.celery_workers:
            env.update(celery_env(metadata_url))
        env.update(stack_options.env)
        stack = AirflowStack(home=home, data_root=data_root, env=env, base_url=f"http://127.0.0.1:{api_port}",
                             warehouse_url=warehouse_url, simulator=simulator)
        started = time.monotonic()
        migrate = subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=600)
        (logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr, encoding="utf-8")
        assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-4000:]
        print(f"\n[scheduler test] db migrate: {time.monotonic() - started:.0f} s; logs in {logs}", flush=True)
        try:
            stack.components["api-server"] = start_component(
                "api-server", ["api-server", "--host", "127.0.0.1", "--port", str(api_port)], env, logs)
            stack.components["scheduler"] = start_component("scheduler", ["scheduler"], env, logs)
            stack.components["dag-processor"] = start_component("dag-processor", ["dag-processor"], env, logs)
            if stack_options.triggerer:
                stack.components["triggerer"] = start_component("triggerer", ["triggerer"], env, logs)
            for name in stack_options.celery_workers:
                stack.components[name] = start_celery_worker(name, env, logs)

            def token() -> str | None:
                answer = requests.post(f"{stack.base_url}/auth/token", json={"username": ADMIN, "password": password},
                                       timeout=10)
                return answer.json()["access_token"] if answer.status_code == 201 else None

            jwt = wait_for("the API server to issue a token", token, timeout=180, alive=stack.check_alive)
            stack.session.headers["Authorization"] = f"Bearer {jwt}"
            print(f"[scheduler test] API server up: {time.monotonic() - started:.0f} s", flush=True)

            def parsed() -> bool:
                errors = stack.api("GET", "/importErrors")
                assert errors["total_entries"] == 0, f"import errors: {errors['import_errors']}"
                response = stack.session.get(f"{stack.base_url}/api/v2/dags/{DAG_ID}", timeout=30)
                return response.status_code == 200

            wait_for(f"the DAG processor to parse {DAG_ID}", parsed, timeout=240, alive=stack.check_alive)
            for name in stack_options.celery_workers:  # Celery logs "<name> ready." once it consumes its queue
                worker = stack.components[name]
                wait_for(f"Celery worker {name} to be ready", lambda worker=worker: " ready." in worker.tail(200),
                         timeout=180, interval=1, alive=stack.check_alive)
            print(f"[scheduler test] DAG parsed: {time.monotonic() - started:.0f} s", flush=True)
            stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        except BaseException:  # pytest.fail is a BaseException: the logs say why a component did not come up
            print(stack.tails(), flush=True)
            for component in stack.components.values():
                component.stop()
            raise
        try:
            yield stack
        finally:
            for component in stack.components.values():
                print(f"[scheduler test] {component.name}: {component.stop()}", flush=True)
            stack.session.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """On a failure, attach the tail of every component's log to the report: the cause is usually there."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("airflow_stack")
    if report.failed and isinstance(stack, AirflowStack):
        report.sections.append(("Airflow component logs (tails)", stack.tails()))
    return report
