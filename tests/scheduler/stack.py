"""Real Airflow components as subprocesses, and a REST client for them (the scheduler tests' helpers).

Why subprocesses in their own process groups: each component spawns workers (the LocalExecutor's task
processes, uvicorn's worker); stopping the group stops them all, and nothing else, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from simulator.server import SimulatorHandle
from tthc_airflow.turnaround import with_turnaround

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "tthc_monthly_report"
VENV_BIN = Path(sys.executable).parent
ADMIN = "admin"
SIM_TOKEN = "sim-one-stop-token"
SIM_KEY = "sim-hotline-key"


def free_port() -> int:
    """A port free on loopback now (the OS's choice): fixed ports collide with other checkouts' components."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 2.0,
             alive: Callable[[], None] | None = None) -> Any:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds.

    ``alive`` is called on every round so a component that died ends the wait at once, not at the timeout.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        try:
            result = probe()
        except requests.RequestException as exc:  # not listening yet, or restarting
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last: {str(last)[:500]})")


@dataclass
class Component:
    """One Airflow component started as a subprocess in its own process group, logging to a file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> str:
        """SIGTERM to the component's process group (it and its workers), SIGKILL after ``timeout``; says how."""
        how = f"had exited with {self.process.returncode}"
        if self.alive():
            started = time.monotonic()
            _signal_group(self.process, signal.SIGTERM)
            how = f"still running after SIGTERM + {timeout:g} s: killed"
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
                how = f"stopped by SIGTERM in {time.monotonic() - started:.1f} s (exit {self.process.returncode})"
        # Workers outlive their parent when it dies abruptly: the group gets a SIGKILL in every case.
        _signal_group(self.process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        return how


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group ended already
        os.killpg(process.pid, sig)  # the group this fixture created with start_new_session=True


def bundled_config(folder: Path, replacements: list[tuple[str, str]]) -> Path:
    """The bundled ``pipeline.yaml`` with its ``include/`` made absolute and each (old, new) replaced, written
    into ``folder``: a module's own configuration for ``TTHC_CONFIG``. Each ``old`` must be in the file, so a
    change of the bundled file fails here by name rather than leaving a test on the bundled defaults."""
    text = (ROOT / "include" / "config" / "pipeline.yaml").read_text("utf-8")
    for old, new in [("include_dir: ..", f"include_dir: {ROOT / 'include'}"), *replacements]:
        assert old in text, old
        text = text.replace(old, new)
    config = folder / "pipeline.yaml"
    config.write_text(text, "utf-8")
    return config


def smtp_connection(port: int, sender: str) -> str:
    """``AIRFLOW_CONN_SMTP_DEFAULT`` for the test's SMTP server on loopback (plain SMTP, one try, 5 s)."""
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                       "extra": {"disable_tls": True, "disable_ssl": True, "from_email": sender,
                                 "retry_limit": 1, "timeout": 5}})


@dataclass(frozen=True)
class StackOptions:
    """What a test module may change in its stack (override the ``stack_options`` fixture in the module).

    ``env``: more environment for every component and CLI call (e.g. ``TTHC_CONFIG``, an SMTP connection);
    ``triggerer``: also run ``airflow triggerer`` (deferred tasks, deadline alerts' callbacks);
    ``simulator``: keyword arguments of ``simulator.server.start_in_thread`` (e.g. slow faults);
    ``celery_workers``: names of Celery workers to start; when any, the CeleryExecutor runs the tasks on them
    (``celery_env``) instead of the LocalExecutor.
    """

    env: dict[str, str] = field(default_factory=dict)
    triggerer: bool = False
    simulator: dict[str, Any] = field(default_factory=dict)
    celery_workers: tuple[str, ...] = ()


@dataclass
class AirflowStack:
    """The running components, their environment and an authenticated REST client (API v2)."""

    home: Path
    data_root: Path
    env: dict[str, str]
    base_url: str
    warehouse_url: str
    simulator: SimulatorHandle
    components: dict[str, Component] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        """Call ``/api/v2{path}``; fail with the server's answer when the status is not the expected one."""
        kwargs.setdefault("timeout", 60)
        response = self.session.request(method, f"{self.base_url}/api/v2{path}", **kwargs)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in wanted, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json() if response.content else None

    def check_alive(self) -> None:
        dead = [c for c in self.components.values() if not c.alive()]
        if dead:
            pytest.fail("component(s) died: " + "; ".join(
                f"{c.name} (exit {c.process.returncode}):\n{c.tail(40)}" for c in dead))

    def tails(self, lines: int = 60) -> str:
        return "\n\n".join(f"===== {c.name} ({c.log}) =====\n{c.tail(lines)}" for c in self.components.values())


def component_env(home: Path, data_root: Path, metadata_url: str, warehouse_url: str, api_port: int,
                   simulator: SimulatorHandle, passwords: Path) -> dict[str, str]:
    """The environment every component and CLI call gets: nothing inherited from the test session's Airflow."""
    from sqlalchemy.engine import make_url

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TTHC_"))}
    base_url = f"http://127.0.0.1:{api_port}"
    host_port = simulator.base_url.split("://", 1)[1]
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        # The API server and the workers must share these: a task's token is checked by the execution API.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__WORKERS": "1",  # two cores: one uvicorn worker is plenty for a test
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        # Log servers on free ports: other checkouts' components may hold 8793/8794 on this machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # catchup=False still makes the scheduler create the latest period's run (all twelve districts,
        # today's month) as soon as the DAG is unpaused; only backfills and manual runs are wanted here.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",  # components spawn `airflow ...`
        "PYTHONPATH": str(ROOT / "plugins"),
        "TTHC_DATA_ROOT": str(data_root),
        "AIRFLOW_CONN_TTHC_ONE_STOP": f"http://:{SIM_TOKEN}@{host_port}",
        "AIRFLOW_CONN_TTHC_HOTLINE_1022": f"http://:{SIM_KEY}@{host_port}",
        "AIRFLOW_CONN_TTHC_WAREHOUSE": make_url(warehouse_url).set(drivername="postgresql").render_as_string(False),
    })
    return with_turnaround(env)  # as every deployment of ours: a slot freed when its task ends


def start_component(name: str, args: list[str], env: dict[str, str], logs: Path, preload: bool = False) -> Component:
    """``airflow <args>`` in a new session (its own process group), stdout and stderr to ``<logs>/<name>.log``.

    ``preload``: through ``tthc_airflow.preload``, as docker-compose.yaml starts the Celery worker.
    """
    log = logs / f"{name}.log"
    handle = log.open("wb")
    airflow = [str(VENV_BIN / "python"), "-m", "tthc_airflow.preload"] if preload else [str(VENV_BIN / "airflow")]
    try:
        process = subprocess.Popen([*airflow, *args], cwd=ROOT, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        handle.close()  # the child keeps its own descriptor
    return Component(name, process, log)




def celery_env(metadata_url: str) -> dict[str, str]:
    """The CeleryExecutor on the local Redis (``TTHC_TEST_REDIS_URL``), results in the metadata database.

    The queue is the stack's own, so that a worker of another checkout on the same Redis never takes its tasks.
    """
    from sqlalchemy.engine import make_url

    backend = make_url(metadata_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": os.environ.get("TTHC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{backend}",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"tthc-test-{secrets.token_hex(4)}",
    }


def start_celery_worker(name: str, env: dict[str, str], logs: Path, concurrency: int = 2) -> Component:
    """``airflow celery worker`` named ``name`` on the stack's queue; its task instances carry ``name`` as host.

    Why a hostname callable: every worker here runs on one machine, so the hostname Airflow records for a task
    instance would be the same for all; ``tests.scheduler.worker_hostname`` answers the worker's name instead,
    which is how a test tells which worker ran a task. Each worker serves its logs on a port of its own.
    """
    worker_env = {**env, "TTHC_TEST_WORKER_NAME": name,
                  "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.scheduler.worker_hostname.hostname",
                  "PYTHONPATH": f"{env.get('PYTHONPATH', '')}{os.pathsep}{ROOT}",
                  "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
    queue = env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
    return start_component(name, ["celery", "worker", "--celery-hostname", name, "--queues", queue,
                                  "--concurrency", str(concurrency)], worker_env, logs, preload=True)
