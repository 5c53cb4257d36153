"""Run the month's pipeline end to end against the bundled simulator (the README's first command).

Why a script and not a page of instructions: a new operator or engineer must see the whole path
work on a fresh machine in one command. It prepares an Airflow home in the checkout (embedded
SQLite database, LocalExecutor), starts the source-system simulator, points the connections at it
through ``AIRFLOW_CONN_*`` variables, runs DAG ``tthc_monthly_report`` for the most recent closed
period with ``airflow dags test``, and prints where the reports are. Running it again reuses the
Airflow home and replaces the period's files and warehouse rows with identical ones.

    python scripts/run_month.py [--period YYYY-MM] [--districts 872 874] [--fault-rate 0.3]
    python scripts/run_month.py --standalone    # the Airflow UI with the same DAG and simulator
    python scripts/run_month.py --use-executor  # under the scheduler: tasks in parallel (LocalExecutor, PostgreSQL)
    python scripts/run_month.py --source-url http://127.0.0.1:8089   # a simulator already running
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from scheduled_run import RestClient, run_scheduled  # noqa: E402  (beside this script)

from tthc.config import ConfigError, load_config  # noqa: E402
from tthc.locations import run_summary_path  # noqa: E402
from tthc.periods import LOCAL_TZ, PeriodError, latest_closed_period, parse_period  # noqa: E402
from tthc.pipeline import plan  # noqa: E402
from tthc_airflow.turnaround import with_turnaround  # noqa: E402

SIM_TOKEN = "sim-one-stop-token"
SIM_KEY = "sim-hotline-key"
RUN_USER = "tthc_run_month"  # the REST API's user of a run under the scheduler (this home's API server only)


def say(message: str) -> None:
    print(f">> {message}", flush=True)


def airflow_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": env.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "PATH": f"{venv_bin}:{env.get('PATH', '')}",  # airflow spawns `airflow ...` subprocesses
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "plugins"), env.get("PYTHONPATH")])),
    })
    # Airflow's default is 32 task processes whatever the machine: on 2 cores they only fight for the CPU
    # and memory. One task process per core unless the operator sets it.
    env.setdefault("AIRFLOW__CORE__PARALLELISM", str(os.cpu_count() or 1))
    env.setdefault("TTHC_DATA_ROOT", str(home / "tthc-data"))
    return with_turnaround(env)  # a slot freed when its task ends, not up to 5 s later


def use_postgres(env: dict[str, str], server: str, prefix: str = "tthc") -> bool:
    """Put the Airflow metadata and the warehouse on PostgreSQL when one answers; SQLite otherwise.

    Why: with SQLite, twelve district tasks writing at once under a real scheduler lock the database and
    the scheduler, triggerer and DAG processor die on "database is locked". PostgreSQL takes it; without
    one, the UI runs one task at a time (parallelism 1), slower but whole.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            existing: set[str] = set(conn.execute(text("select datname from pg_database")).scalars())
            for name in (f"{prefix}_airflow", f"{prefix}_warehouse"):
                if name not in existing:
                    conn.execute(text(f'create database "{name}"'))
        admin.dispose()
    except Exception as exc:  # no server, no rights: the embedded SQLite files, one task at a time
        where = make_url(server).render_as_string()
        say(f"no PostgreSQL at {where} ({type(exc).__name__}): SQLite, one task at a time")
        if "AIRFLOW__CORE__PARALLELISM" not in os.environ:  # the operator's own setting stands
            env["AIRFLOW__CORE__PARALLELISM"] = "1"
        return False
    url = make_url(server)
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                   url.set(database=f"{prefix}_airflow").render_as_string(False))
    env.setdefault("AIRFLOW_CONN_TTHC_WAREHOUSE", url.set(drivername="postgresql",
                                                          database=f"{prefix}_warehouse").render_as_string(False))
    return True


def start_simulator(env: dict[str, str], fault_rate: float) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", "0", "--fault-rate", str(fault_rate)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "listening on" in line:
            return proc, line.strip().rsplit(" ", 1)[-1]
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("the simulator did not start; run `python -m simulator --port 8089` to see why")


def start_api_server(env: dict[str, str], home: Path) -> tuple[subprocess.Popen[bytes], RestClient]:
    """``airflow api-server`` on a free loopback port for a run under the scheduler, and a REST client of it.

    Why: in Airflow 3 a task process does not touch the metadata database; it reports to the API server's
    execution API, which checks the token it was given with the shared JWT secret. The run itself is created
    through the REST API (as an operator's client does), signed in as a user of this home only, whose random
    password is written for the simple auth manager (mode 0600) and never printed.
    """
    import secrets
    import socket

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(16)
    passwords = home / "run-month-passwords.json"
    passwords.touch(mode=0o600)
    passwords.chmod(0o600)
    passwords.write_text(json.dumps({RUN_USER: password}), encoding="utf-8")
    env.update({"AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{RUN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords)})
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_urlsafe(32))
    log = (home / "api-server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "api-server"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            answer = requests.post(f"{base}/auth/token", json={"username": RUN_USER, "password": password},
                                   timeout=5)
            if answer.status_code == 201:
                return proc, RestClient(base, answer.json()["access_token"])
        except requests.RequestException:
            pass
        time.sleep(1)
    proc.kill()
    raise SystemExit(f"the API server did not start: see {home / 'api-server.log'}")


def connect(env: dict[str, str], base_url: str) -> None:
    """Point the pipeline's connections at the simulator, unless the operator already defined them."""
    host_port = base_url.split("://", 1)[1]
    env.setdefault("AIRFLOW_CONN_TTHC_ONE_STOP", f"http://:{SIM_TOKEN}@{host_port}")
    env.setdefault("AIRFLOW_CONN_TTHC_HOTLINE_1022", f"http://:{SIM_KEY}@{host_port}")


_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")
_OUR_ERROR = re.compile(r"^(?:\S+\.)*(\w+Error): (.*)$")


def progress(line: str, labels: list[str], failed: bool) -> str | None:
    """The line of ``airflow dags test`` output worth showing as progress, shortened; None for the rest."""
    ended = _TASK_END.search(line)
    if ended:
        task_id, index = ended.group(1), int(ended.group(2))
        where = f" [{labels[index]}]" if 0 <= index < len(labels) else ""
        return f"{'FAILED' if failed else 'done'} {task_id}{where}"
    error = _OUR_ERROR.match(line.strip())
    if error and error.group(1) in ("SourceError", "DataError", "LandingError", "ConfigError", "InputsError",
                                    "QualityError", "PeriodError", "RuntimeError"):
        return f"ERROR {error.group(1)}: {error.group(2)[:300]}"
    return None


def run(cmd: list[str], env: dict[str, str], log: Path | None = None, labels: list[str] | None = None) -> int:
    if log is None:
        return subprocess.call(cmd, cwd=ROOT, env=env)
    with log.open("w", encoding="utf-8") as handle:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        failed = False  # `dags test` logs a task's failure before the line that ends the task
        for line in proc.stdout:
            handle.write(line)
            failed = failed or "Task failed with exception" in line
            shown = progress(line, labels or [], failed)
            if shown:
                print(f"   {shown}", flush=True)
            if _TASK_END.search(line):
                failed = False
        return proc.wait()


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM ends the run through ``finally``, so the simulator and API server it started stop too."""
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminated)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", help="YYYY-MM; default: the most recent closed period")
    parser.add_argument("--districts", nargs="*", default=[], help="GSO codes; default: every district")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of simulator requests that fail")
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("AIRFLOW_HOME", ROOT / "airflow_home")))
    parser.add_argument("--standalone", action="store_true", help="start the Airflow UI instead of one run")
    parser.add_argument("--print-env", action="store_true",
                        help="print the shell exports of this Airflow home (for airflow CLI commands) and exit")
    parser.add_argument("--postgres", default=os.environ.get("TTHC_STANDALONE_POSTGRES",
                                                             "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"),
                        help="server for the metadata and warehouse databases of --standalone and --use-executor, "
                             "when one answers")
    parser.add_argument("--databases", default="tthc",
                        help="names of those databases: <this>_airflow and <this>_warehouse (default tthc)")
    parser.add_argument("--use-executor", action="store_true",
                        help="run the month under the scheduler (LocalExecutor: tasks in parallel, one per core), "
                             "not one by one in `dags test`")
    parser.add_argument("--source-url", help="the source systems' base URL, instead of starting the bundled "
                                             "simulator (which must accept the simulator's credentials)")
    # scripts/bench.py runs its no-op DAG of the same shape (its orchestration floor) exactly this way.
    parser.add_argument("--dags-folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dag-id", default="tthc_monthly_report", help=argparse.SUPPRESS)
    args = parser.parse_args()

    config = load_config()
    convention = config.schedule.convention
    period = parse_period(args.period, convention) if args.period else latest_closed_period(
        datetime.now(LOCAL_TZ), convention)
    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = airflow_env(home)
    if args.dags_folder:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(args.dags_folder.resolve())
    if args.print_env:  # eval "$(python scripts/run_month.py --print-env)"; airflow backfill create ...
        names = [n for n in env if (n.startswith(("AIRFLOW", "TTHC_")) or n in ("PATH", "PYTHONPATH"))
                 and not n.startswith("AIRFLOW_CONN_")]  # connections hold secrets: never printed
        print("\n".join(f"export {name}={shlex.quote(env[name])}" for name in sorted(names)))
        return 0

    if args.standalone:
        # The UI and the log servers on this machine only; the UI's login still applies.
        env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
        env.setdefault("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
        database = "PostgreSQL" if use_postgres(env, args.postgres, args.databases) else "SQLite"
    elif args.use_executor:  # tasks in parallel: SQLite would lock
        database = "PostgreSQL" if use_postgres(env, args.postgres, args.databases) else "SQLite"
    else:
        database = "SQLite"  # `dags test` runs the tasks one by one in one process: no lock contention

    summary_file = run_summary_path(Path(env["TTHC_DATA_ROOT"]), period.name)
    log = home / f"run-{period.name}.log"
    say(f"Airflow home {home} ({database}, {env['AIRFLOW__CORE__EXECUTOR']}); data root {env['TTHC_DATA_ROOT']}")
    say("initialising the Airflow database (airflow db migrate; quick when it exists)")
    if run([sys.executable, "-m", "airflow", "db", "migrate"], env, home / "db-migrate.log") != 0:
        raise SystemExit(f"airflow db migrate failed: see {home / 'db-migrate.log'}")

    if args.source_url:
        simulator, base_url = None, args.source_url.rstrip("/")
    else:
        say(f"starting the source-system simulator (fault rate {args.fault_rate:.0%})")
        simulator, base_url = start_simulator(env, args.fault_rate)
    api_server: subprocess.Popen[bytes] | None = None
    try:
        connect(env, base_url)
        say(f"sources at {base_url}; connections tthc_one_stop and tthc_hotline_1022 point at them")
        if args.standalone:
            say("starting `airflow standalone`: open http://127.0.0.1:8080, DAG tthc_monthly_report (the report "
                "of a month: Trigger, logical date = any day of the period)")
            return run([sys.executable, "-m", "airflow", "standalone"], env)
        api_server, rest = start_api_server(env, home) if args.use_executor else (None, None)
        conf = {"districts": args.districts or None}
        say(f"running DAG {args.dag_id} for period {period.name} "
            f"[{period.start_date}, {period.end_date}) ({convention}), districts: {args.districts or 'all'}")
        log = home / f"run-{period.name}.log"
        summary_file.unlink(missing_ok=True)  # never show the summary of an earlier run
        try:
            labels = [unit["label"] for unit in plan(config, period, args.districts)]
        except (PeriodError, ConfigError) as exc:  # the DAG's plan_run would refuse the same way
            raise SystemExit(f"{type(exc).__name__}: {exc}") from None
        # The logical date is the period's start, as a scheduled run's is; the period is the one containing it.
        if args.use_executor:  # as a deployment runs it: the scheduler, its LocalExecutor and the DAG processor
            say(f"scheduler and DAG processor starting; each task's log under {home / 'logs'}")
            log = home / "logs"
            assert rest is not None
            code = run_scheduled(env, home, rest, args.dag_id, period.start, conf, labels)
        else:
            code = run([sys.executable, "-m", "airflow", "dags", "test", args.dag_id, period.start.isoformat(),
                        "--conf", json.dumps(conf)], env, log, labels)
    finally:
        for process in (simulator, api_server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    if summary_file.exists():
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        say(f"summary for {summary['period']}: {summary['districts']} unit(s), "
            f"{summary['dossiers_read']} dossiers and {summary['feedback_read']} feedback items read, "
            f"{summary['reports_written']} report(s) written, {len(summary['warnings'])} warning(s)")
        for report in summary.get("reports", []):
            print(f"   {report}")
        province = summary.get("province") or {}
        if province.get("path"):
            say(f"the province's consolidated report ({province['reported']}/{province['units']} units"
                f"{'' if province['complete'] else ', INCOMPLETE'}) and workbook:")
            print(f"   {province['path']}\n   {province['workbook']}")
        for warning in summary["warnings"]:
            print(f"   warning: {warning}")
        say(f"reports are in {summary_file.parent}")
    say(f"{'task logs' if args.use_executor else 'full log'}: {log}")
    if code != 0:
        say("the run FAILED: see the log above for the failing task")
    return code


if __name__ == "__main__":
    sys.exit(main())
