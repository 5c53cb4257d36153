"""One run of a DAG as a deployment makes it: scheduler, DAG processor and API server, triggered, waited for.

Why not ``airflow dags test --use-executor``: that command drives the run with a loop of its own that
never sleeps (it re-reads the run's state and polls the executor without pause), so on a small machine it
takes a core from the tasks it waits for, and it is not what runs a province's month. Measured here
(twelve districts, the DAG's shape with tasks that do nothing, 2 slots): 42 s under ``dags test``, 31 s
under the scheduler. ``scripts/run_month.py --use-executor`` and ``scripts/bench.py --month`` run this.

The scheduler is started through ``tthc_airflow.preload`` (the libraries the tasks import, imported once
before the LocalExecutor forks; ``TTHC_PRELOAD=0``: plain ``airflow``). The run is created through the REST
API for the period's logical date, as an operator's client does (``airflow dags trigger`` would take the
period from the clock: Airflow 3.3's CLI infers a manual run's data interval from its run-after time, the REST
API from its logical date). When this Airflow home already holds a run of that date with the same ``conf``
(the month run again), its task instances are cleared instead, as an operator reruns a month. Progress comes
from the metadata database, read only (one query a second, not pages of the REST API). Each task's log is a
file under the home's ``logs/``; a failed task's log is named with its error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FINISHED = ("success", "failed", "skipped", "upstream_failed", "removed")


def _start(name: str, args: list[str], env: dict[str, str], home: Path) -> subprocess.Popen[bytes]:
    """``python <args>`` in its own session (stopping the group stops its workers), output to ``<home>/<name>.log``."""
    with (home / f"{name}.log").open("wb") as log:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a component and every process of its session, its task processes included.

    Why the session: the supervisor puts each task process in a process group of its own, so a signal to the
    component's group does not reach a task that is running; left alone, it would go on until its own end.
    SIGTERM first (Airflow ends its workers and tasks on it), SIGKILL to whatever is left after 30 s.
    """
    import signal

    import psutil  # an Airflow dependency

    def members() -> list[psutil.Process]:
        found = []
        for pid in psutil.pids():
            with suppress(OSError):
                if pid != os.getpid() and os.getsid(pid) == process.pid:
                    found.append(psutil.Process(pid))
        return found

    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = members()
        for member in left:
            with suppress(psutil.Error):
                member.send_signal(sig)
        psutil.wait_procs(left, timeout=30)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0 if sig == signal.SIGKILL else 30)
        if process.poll() is not None and not members():
            return


@contextmanager
def scheduler_and_dag_processor(env: dict[str, str], home: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The scheduler (preloaded) and the DAG processor by name, stopped on exit whatever happened."""
    preload = ["-m", "tthc_airflow.preload"] if env.get("TTHC_PRELOAD") != "0" else ["-m", "airflow"]
    started = {"scheduler": _start("scheduler", [*preload, "scheduler"], env, home),
               "dag-processor": _start("dag-processor", ["-m", "airflow", "dag-processor"], env, home)}
    try:
        yield started
    finally:
        for process in started.values():
            _stop(process)


def _alive(components: dict[str, subprocess.Popen[bytes]], home: Path) -> None:
    """Stop the run, naming the component and its log, when one of them has died."""
    for name, process in components.items():
        if process.poll() is not None:
            raise SystemExit(f"the {name} stopped (exit code {process.returncode}): see {home / (name + '.log')}")


@dataclass(frozen=True)
class RestClient:
    """The API server's REST API (v2) with a bearer token."""

    base_url: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """``/api/v2{path}``; its JSON; a clear stop naming the call and the server's answer when it fails."""
        import requests

        answer = requests.request(method, f"{self.base_url}/api/v2{path}", timeout=60,
                                  headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        if answer.status_code >= 400:
            raise SystemExit(f"{method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json() if answer.content else None


def run_scheduled(env: dict[str, str], home: Path, rest: RestClient, dag_id: str, logical_date: datetime,
                  conf: dict[str, Any], labels: list[str], poll_s: float = 1.0) -> int:
    """Run ``dag_id`` for ``logical_date`` under the scheduler; print each task as it ends; 0 when it succeeded.

    ``env`` is the run's Airflow environment with the API server already up (its execution API is where the
    tasks report). Only the triggered run is created: the schedule's own runs are off for this scheduler.
    """
    from sqlalchemy import create_engine, text

    env = {**env, "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}
    engine = create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with scheduler_and_dag_processor(env, home) as components:
            deadline = time.monotonic() + 300
            while True:  # the DAG processor parses the folder and writes the DAG: only then can it run
                _alive(components, home)
                with engine.connect() as conn:
                    if conn.execute(text("select 1 from serialized_dag where dag_id = :dag"),
                                    {"dag": dag_id}).first():
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the DAG processor did not load {dag_id} in 300 s: see "
                                     f"{home / 'dag-processor.log'}")
                time.sleep(poll_s)
            rest.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
            run_id = _create_run(rest, dag_id, logical_date, conf)
            shown: set[tuple[str, int]] = set()
            retried: set[tuple[str, int, int]] = set()
            while True:
                _alive(components, home)
                with engine.connect() as conn:
                    state = conn.execute(text("select state from dag_run where dag_id = :dag and run_id = :run"),
                                         {"dag": dag_id, "run": run_id}).scalar()
                    tis = conn.execute(text("select task_id, map_index, state, try_number from task_instance "
                                            "where dag_id = :dag and run_id = :run"),
                                       {"dag": dag_id, "run": run_id}).all()
                for task_id, map_index, ti_state, try_number in sorted(tis, key=lambda row: (row[0], row[1])):
                    where = f" [{labels[map_index]}]" if 0 <= map_index < len(labels) else ""
                    if ti_state in FINISHED and (task_id, map_index) not in shown:
                        shown.add((task_id, map_index))
                        print(f"   {'FAILED' if ti_state == 'failed' else ti_state} {task_id}{where}", flush=True)
                        if ti_state == "failed":
                            _show_errors(home, dag_id, run_id, task_id, map_index, try_number)
                    elif ti_state == "up_for_retry" and (task_id, map_index, try_number) not in retried:
                        retried.add((task_id, map_index, try_number))  # the DAG's retry delay runs now
                        print(f"   attempt {try_number} failed, to be retried: {task_id}{where}", flush=True)
                        _show_errors(home, dag_id, run_id, task_id, map_index, try_number)
                if state in ("success", "failed"):
                    return 0 if state == "success" else 1
                time.sleep(poll_s)
    finally:
        engine.dispose()


def _create_run(rest: RestClient, dag_id: str, logical_date: datetime, conf: dict[str, Any]) -> str:
    """The run's id: a new run, or this home's earlier run of the same date and ``conf`` cleared to run again."""
    day = logical_date.isoformat()
    earlier = rest.call("GET", f"/dags/{dag_id}/dagRuns", params={"logical_date_gte": day, "logical_date_lte": day})
    if not earlier["dag_runs"]:
        return str(rest.call("POST", f"/dags/{dag_id}/dagRuns",
                             json={"logical_date": day, "conf": conf})["dag_run_id"])
    run = earlier["dag_runs"][0]
    if (run.get("conf") or {}) != conf:  # Airflow keeps one run per logical date: clearing it runs its own conf
        raise SystemExit(f"this Airflow home already holds the run {run['dag_run_id']} of the same period with conf "
                         f"{json.dumps(run.get('conf'))}, not {json.dumps(conf)}: run it again with the same "
                         "districts, or use another --home")
    rest.call("POST", f"/dags/{dag_id}/clearTaskInstances",
              json={"dag_run_id": run["dag_run_id"], "dry_run": False, "only_failed": False,
                    "reset_dag_runs": True})
    return str(run["dag_run_id"])


def _show_errors(home: Path, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> None:
    """The failed task's log file and its error (the file holds one JSON event per line)."""
    folder = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    log = (folder / f"map_index={map_index}" if map_index >= 0 else folder) / f"attempt={try_number}.log"
    print(f"     log: {log}", flush=True)
    if not log.exists():
        return
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        with suppress(ValueError):
            event = json.loads(line)
            for detail in event.get("error_detail") or []:
                if isinstance(detail, dict) and not detail.get("is_cause"):
                    print(f"     {detail.get('exc_type')}: {str(detail.get('exc_value'))[:400]}", flush=True)
