"""docker-compose.yaml, the Dockerfile, .dockerignore and .env.example, checked statically (no Docker engine here).

What is checked: the compose file keeps the official Airflow 3 file's services, health checks, profiles and
dependencies (encoded below); nothing is shared through a host's disk; every secret comes from .env with no
usable default, so `docker compose` refuses to start without it (interpolation is simulated as Compose does
it); every connection the pipeline's code uses is set in the environment of every Airflow service; the
simulator exists only under the `demo` profile; every variable the compose file reads is listed in
.env.example; the image installs the runtime requirements at exactly the lock's versions and carries no test,
dev tool or simulator. The scripts airflow-init runs (include/docker/) are run here too: the warehouse one
against the test PostgreSQL server, whose account stands for the compose file's superuser.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import fresh_databases
from tthc_airflow.turnaround import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

# ---------------------------------------------------------------------------------------------------------------
# Airflow's official docker-compose.yaml for Airflow 3: apache/airflow, file
# airflow-core/docs/howto/docker-compose/docker-compose.yaml at commit b9584335b22b76079a6c27abf792aa664c815685
# (the version with env_file, FERNET_KEY, AIRFLOW__API_AUTH__JWT_SECRET and the api-server health check on
# /api/v2/monitor/health, as published with the 3.1 and later docs). Its services, their profiles, health
# checks, commands and dependencies, the common volumes and the common environment's keys:
AFTER_INIT = {"redis": "service_healthy", "postgres": "service_healthy",
              "airflow-init": "service_completed_successfully"}  # what every Airflow component waits for
EVERY_30S = {"interval": "30s", "timeout": "10s", "retries": 5, "start_period": "30s"}  # their checks' timing
OFFICIAL_SERVICES: dict[str, dict[str, Any]] = {
    "postgres": {
        "healthcheck": {"test": ["CMD", "pg_isready", "-U", "airflow"], "interval": "10s", "retries": 5,
                        "start_period": "5s"},
    },
    "redis": {
        "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "10s", "timeout": "30s", "retries": 50,
                        "start_period": "30s"},
    },
    "airflow-apiserver": {
        "command": "api-server",
        "healthcheck": {"test": ["CMD", "curl", "--fail", "http://localhost:8080/api/v2/monitor/health"],
                        **EVERY_30S},
        "depends_on": AFTER_INIT,
    },
    "airflow-scheduler": {
        "command": "scheduler",
        "healthcheck": {"test": ["CMD", "curl", "--fail", "http://localhost:8974/health"],
                        **EVERY_30S},
        "depends_on": AFTER_INIT,
    },
    "airflow-dag-processor": {
        "command": "dag-processor",
        "healthcheck": {"test": ["CMD-SHELL",
                                 'airflow jobs check --job-type DagProcessorJob --hostname "$${HOSTNAME}"'],
                        **EVERY_30S},
        "depends_on": AFTER_INIT,
    },
    "airflow-worker": {
        "command": "celery worker",
        "healthcheck": {"test": ["CMD-SHELL",
                                 'celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d '
                                 '"celery@$${HOSTNAME}" || celery --app airflow.executors.celery_executor.app inspect '
                                 'ping -d "celery@$${HOSTNAME}"'],
                        **EVERY_30S},
        "environment": {"DUMB_INIT_SETSID": "0"},
        "depends_on": {"redis": "service_healthy", "postgres": "service_healthy",
                       "airflow-apiserver": "service_healthy", "airflow-init": "service_completed_successfully"},
    },
    "airflow-triggerer": {
        "command": "triggerer",
        "healthcheck": {"test": ["CMD-SHELL", 'airflow jobs check --job-type TriggererJob --hostname "$${HOSTNAME}"'],
                        **EVERY_30S},
        "depends_on": AFTER_INIT,
    },
    "airflow-init": {
        "user": "0:0",
        "environment": {"_AIRFLOW_DB_MIGRATE": "true", "_PIP_ADDITIONAL_REQUIREMENTS": ""},
        "depends_on": {"redis": "service_healthy", "postgres": "service_healthy"},
    },
    "airflow-cli": {
        "profiles": ["debug"],
        "command": ["bash", "-c", "airflow"],
        "environment": {"CONNECTION_CHECK_MAX_COUNT": "0"},
        "depends_on": {"redis": "service_healthy", "postgres": "service_healthy"},
    },
    "flower": {
        "profiles": ["flower"],
        "command": "celery flower",
        "healthcheck": {"test": ["CMD", "curl", "--fail", "http://localhost:5555/"],
                        **EVERY_30S},
        "depends_on": AFTER_INIT,
    },
}
# The official file's x-airflow-common volumes (host folders under AIRFLOW_PROJ_DIR) mount these targets.
OFFICIAL_VOLUME_TARGETS = ("/opt/airflow/dags", "/opt/airflow/logs", "/opt/airflow/config", "/opt/airflow/plugins")
# Keys of the official x-airflow-common environment that must keep their meaning here.
OFFICIAL_COMMON_ENV = ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__AUTH_MANAGER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                       "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CORE__FERNET_KEY",
                       "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "AIRFLOW__CORE__LOAD_EXAMPLES",
                       "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__API_AUTH__JWT_SECRET",
                       "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "_PIP_ADDITIONAL_REQUIREMENTS", "AIRFLOW_CONFIG")
# The official resource checks of airflow-init (memory, CPUs, disk).
OFFICIAL_INIT_CHECKS = ("mem_available < 4000", "cpus_available < 2", "disk_available < one_meg * 10")
# ---------------------------------------------------------------------------------------------------------------

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init", "airflow-cli", "flower")
# Variables holding a secret: never a default. The names say it; the connections carry passwords.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|ACCESS_KEY|ROOT_USER|^AIRFLOW_CONN_")
# Connections that may be left out (empty default = not set here, Airflow's other backends are asked): the SMTP
# server of failure mails, which pipeline.yaml uses only when it names recipients.
OPTIONAL_CONNECTIONS = {"AIRFLOW_CONN_SMTP_DEFAULT"}
# requirements.txt: everything under this line is for development and tests, never in the image.
DEV_MARKER = "# development and tests"
DEV_TOOLS = {"pytest", "ruff", "mypy", "playwright", "aiosmtpd", "types-pyyaml", "vietnam-provinces"}

INTERPOLATION = re.compile(r"\$(\$)|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def strings(node: Any) -> list[str]:
    """Every string of the parsed file (keys and values): what Compose interpolates; comments are not."""
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in strings(key) + strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return [node] if isinstance(node, str) else []


def expressions(data: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """``(name, operator, argument)`` of every ``${...}`` Compose interpolates (``$$`` is a literal ``$``)."""
    return [(m.group(2), m.group(3) or "", m.group(4) or "") for text in strings(compose() if data is None else data)
            for m in INTERPOLATION.finditer(text) if not m.group(1)]


class Refused(Exception):
    """What `docker compose` does when a ``${VAR:?message}`` is unset or empty."""


def interpolate_file(env: dict[str, str]) -> dict[str, Any]:
    """The compose file as `docker compose` sees it with these variables (raises ``Refused`` as it refuses)."""
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {walk(key): walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return interpolate(node, env) if isinstance(node, str) else node
    return walk(compose())


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``, ``$$``."""
    def one(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        name, operator, argument = match.group(2), match.group(3) or "", match.group(4) or ""
        value = env.get(name)
        if (operator == ":?" and not value) or (operator == "?" and value is None):
            raise Refused(f"{name}: {argument}")
        if (operator == ":-" and not value) or (operator == "-" and value is None):
            return interpolate(argument, env)
        return value or ""
    return INTERPOLATION.sub(one, text)


def filled_env() -> dict[str, str]:
    """.env.example with every empty value filled in as an operator would (hex secrets, JSON connections)."""
    env = env_example()
    for index, (name, value) in enumerate(sorted(env.items())):
        if not value:
            env[name] = f"{index:02d}" + "ab12" * 6
    env["FERNET_KEY"] = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="
    env["AIRFLOW_CONN_TTHC_ONE_STOP"] = '{"conn_type": "http", "host": "onestop.example.gov.vn", "schema": "https"}'
    env["AIRFLOW_CONN_TTHC_HOTLINE_1022"] = '{"conn_type": "http", "host": "1022.example.gov.vn", "schema": "https"}'
    env["AIRFLOW_CONN_TTHC_WAREHOUSE"] = "postgresql://tthc:0123456789abcdef@postgres:5432/tthc"
    for optional in ("AIRFLOW_CONN_SMTP_DEFAULT", "TTHC_S3_BUCKET", "TTHC_S3_ENDPOINT_URL", "TTHC_S3_REGION",
                     "MINIO_IMAGE", "TTHC_SIMULATOR_IMAGE"):
        env[optional] = ""
    return env


def resolved() -> dict[str, Any]:
    return interpolate_file(filled_env())


def connection_ids_in_code() -> set[str]:
    """The Airflow connections the pipeline's code and configuration name (hooks, sources, notifier)."""
    pattern = re.compile(r"(?:conn_id|conn_name|CONN_ID)\s*(?::\s*str\s*)?=\s*\"([a-z0-9_]+)\"")
    found = set()
    for folder in ("plugins", "dags"):
        for path in (ROOT / folder).rglob("*.py"):
            found.update(pattern.findall(path.read_text(encoding="utf-8")))
    config = yaml.safe_load((ROOT / "include" / "config" / "pipeline.yaml").read_text(encoding="utf-8"))
    found.add(config["notifications"]["smtp_conn_id"])
    return found


# --- the compose file against the official one ------------------------------------------------------------------

# Ours run the official command through tthc_airflow.preload (the same airflow command, libraries imported first).
PRELOAD = ["python", "-m", "tthc_airflow.preload"]
BEHIND_PRELOAD = {("airflow-worker", "command")}


def test_compose_keeps_the_official_services_health_checks_and_profiles() -> None:
    services = compose()["services"]
    for name, official in OFFICIAL_SERVICES.items():
        assert name in services, f"service {name} of the official file is missing"
        ours = services[name]
        for key in ("healthcheck", "command", "profiles", "user"):
            if key in official:
                allowed = [official[key], *([[*PRELOAD, *official[key].split()]] if (name, key) in BEHIND_PRELOAD
                                            else [])]
                assert ours.get(key) in allowed, (name, key, ours.get(key))
        if "healthcheck" not in official:
            assert "healthcheck" not in ours or name == "airflow-init", name
        for dependency, condition in official.get("depends_on", {}).items():
            assert ours["depends_on"][dependency]["condition"] == condition, (name, dependency)
        for key, value in official.get("environment", {}).items():
            assert str(ours["environment"][key]) == value, (name, key)
    for name in AIRFLOW_SERVICES:
        assert services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name


def test_compose_common_environment_keeps_the_official_keys() -> None:
    env = compose()["x-airflow-common"]["environment"]
    for key in OFFICIAL_COMMON_ENV:
        assert key in env, key
    assert env["AIRFLOW_CONFIG"] == "/opt/airflow/config/airflow.cfg"
    assert env["_PIP_ADDITIONAL_REQUIREMENTS"] == "", "nothing is installed when a container starts"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"


def test_the_celery_worker_runs_the_official_command_behind_the_preload() -> None:
    """The worker's command is ``airflow celery worker`` with the tasks' libraries imported in its process first."""
    command = compose()["services"]["airflow-worker"]["command"]
    assert command == [*PRELOAD, *OFFICIAL_SERVICES["airflow-worker"]["command"].split()]
    image = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "PYTHONPATH=/opt/airflow/plugins" in image, "python -m finds tthc_airflow only on the image's path"


def test_compose_frees_a_slot_when_its_task_ends_as_every_deployment_of_ours() -> None:
    """The workers' turnaround settings are the ones run_month and the scheduler tests use (one source)."""
    env = compose()["x-airflow-common"]["environment"]
    assert {key: str(env.get(key)) for key in SETTINGS} == SETTINGS
    assert int(SETTINGS["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"]) * int(
        SETTINGS["AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS"]) >= 15, "an API server away 15 s kills no task"


def test_official_volume_targets_are_volumes_or_baked_into_the_image() -> None:
    """Logs and config on named volumes; dags and plugins in the image (the same code on every host)."""
    data = compose()
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in data["x-airflow-common"]["volumes"]}
    copied = {target.rstrip("/") for target in
              re.findall(r"^COPY \S+ \S+ (/opt/airflow/\S+)$", dockerfile_stage("airflow"), flags=re.MULTILINE)}
    for target in OFFICIAL_VOLUME_TARGETS:
        assert target in mounted or target in copied, target
    assert {"/opt/airflow/logs", "/opt/airflow/config"} <= set(mounted)
    assert {"/opt/airflow/dags", "/opt/airflow/plugins"} <= copied


def test_no_service_shares_a_folder_of_the_host() -> None:
    """Workers on several hosts share nothing through a local disk: every mount is a declared named volume."""
    data = compose()
    declared = set(data["volumes"])
    for name, service in data["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared, f"{name} mounts {source}: use a named volume or the object store"


def test_airflow_init_migrates_creates_the_warehouse_and_the_admin_on_any_volume() -> None:
    init = compose()["services"]["airflow-init"]
    script = init["command"][-1]
    for check in OFFICIAL_INIT_CHECKS:
        assert check in script, check
    assert "/entrypoint airflow version" in script and init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert "/entrypoint python /opt/tthc/init_warehouse.py" in script
    assert "/entrypoint python /opt/tthc/init_admin.py" in script
    assert "set -eo pipefail" in script, "a failed step must fail airflow-init"
    assert "_AIRFLOW_WWW_USER_CREATE" not in init["environment"], "FAB only: the simple auth manager ignores it"
    for helper in ("init_warehouse.py", "init_admin.py"):
        assert (ROOT / "include" / "docker" / helper).is_file()
        assert re.search(rf"^COPY .*include/docker/{helper}.* /opt/tthc/$", dockerfile_stage("airflow"), re.MULTILINE)
    # The postgres image's init scripts run on an empty volume only: nothing may rely on them.
    assert not any("docker-entrypoint-initdb.d" in v for v in compose()["services"]["postgres"].get("volumes", []))
    assert not (ROOT / "include" / "docker" / "init-warehouse.sql").exists()


def test_the_auth_manager_in_use_gets_its_admin() -> None:
    """The simple auth manager (FAB is not in the lock): users from the config, password file from airflow-init."""
    env = compose()["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("simple_auth_manager.SimpleAuthManager")
    assert "apache-airflow-providers-fab" not in (ROOT / "constraints.txt").read_text()
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "${_AIRFLOW_WWW_USER_USERNAME:-admin}:admin"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/opt/airflow/config/")


def test_init_admin_writes_the_password_file_the_api_server_reads(tmp_path: Path) -> None:
    target = tmp_path / "config" / "passwords.json"
    target.parent.mkdir()
    target.write_text('{"admin": "old", "gone": "x"}')
    env = {**os.environ, "_AIRFLOW_WWW_USER_USERNAME": "admin", "_AIRFLOW_WWW_USER_PASSWORD": "a-long-password",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(target)}
    script = str(ROOT / "include" / "docker" / "init_admin.py")
    done = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text()) == {"admin": "a-long-password"}
    assert target.stat().st_mode & 0o777 == 0o600
    short = subprocess.run([sys.executable, script], env={**env, "_AIRFLOW_WWW_USER_PASSWORD": "short"},
                           capture_output=True, text=True, check=False)
    assert short.returncode == 1 and "12 characters" in short.stderr


@pytest.mark.services
def test_init_warehouse_on_any_volume_state(tmp_path: Path) -> None:
    """A warehouse made by the first compose file (the metadata account, no role), then a missing database:
    airflow-init leaves both owned by the connection's role, at the newest revision, and says so."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    role = f"tthc_deploy_{os.getpid()}"
    with fresh_databases("tthc_deploy_old") as (old_url,):
        old = make_url(old_url)
        server = old.set(database="postgres")
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": f"{ROOT / 'plugins'}",
               "TTHC_BUNDLED_DB_HOST": old.host or "", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
               server.render_as_string(hide_password=False)}
        script = [sys.executable, str(ROOT / "include" / "docker" / "init_warehouse.py")]

        def run(url: Any) -> str:
            conn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            done = subprocess.run(script, env={**env, "AIRFLOW_CONN_TTHC_WAREHOUSE": conn}, capture_output=True,
                                  text=True, check=False, timeout=300)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            return done.stdout

        run(old)  # the first compose file: schema made by the metadata account
        as_role = old.set(username=role, password="0123456789abcdef")
        new_db = as_role.set(database=f"{old.database}_new")
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            said = run(as_role)
            assert f"role '{role}' created" in said and "handed over" in said and "at revision" in said
            again = run(as_role)
            assert f"role '{role}' updated" in again and "handed over" not in again  # nothing left to hand over
            assert f"database '{new_db.database}' created" in run(new_db)
            for url in (as_role, new_db):
                engine = create_engine(url)
                with engine.connect() as conn:
                    owners = conn.execute(text(
                        "select distinct pg_get_userbyid(relowner) from pg_class c join pg_namespace n "
                        "on n.oid = c.relnamespace where nspname = 'public' and relkind = 'r'")).scalars().all()
                    assert owners == [role], (url.database, owners)
                    assert conn.execute(text("select count(*) from tthc_alembic_version")).scalar() == 1
                engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{new_db.database}" with (force)'))
                conn.execute(text(f'drop database if exists "{old.database}" with (force)'))
                conn.execute(text(f'drop role if exists "{role}"'))
            admin.dispose()


# --- secrets ------------------------------------------------------------------------------------------------------

def test_no_secret_has_a_default() -> None:
    found = expressions()
    secrets = {name for name, _, _ in found if SECRET_NAME.search(name)}
    assert {"FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "POSTGRES_PASSWORD",
            "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD", "TTHC_S3_SECRET_KEY", "_AIRFLOW_WWW_USER_PASSWORD",
            "AIRFLOW_CONN_TTHC_ONE_STOP", "AIRFLOW_CONN_TTHC_HOTLINE_1022", "AIRFLOW_CONN_TTHC_WAREHOUSE"} <= secrets
    for name, operator, argument in found:
        if not SECRET_NAME.search(name):
            continue
        if name in OPTIONAL_CONNECTIONS:
            assert operator == ":-" and argument == "", f"${{{name}}} may only default to nothing"
        else:
            assert operator == ":?" and argument.strip(), f"${{{name}}} must be ${{{name}:?message}}, is {operator!r}"


def test_airflow_secrets_are_never_literals() -> None:
    data = compose()
    env = data["x-airflow-common"]["environment"]
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND",
                "AIRFLOW__CELERY__BROKER_URL"):
        assert "${" in env[key], key
    assert "${" in data["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_compose_refuses_to_start_without_each_required_setting() -> None:
    env = filled_env()
    interpolate_file(env)  # complete: accepted
    required = sorted({name for name, operator, _ in expressions() if operator == ":?"})
    for name in required:
        with pytest.raises(Refused, match=name):
            interpolate_file({**env, name: ""})
    assert env_example()["FERNET_KEY"] == ""
    with pytest.raises(Refused):
        interpolate_file(env_example())  # .env.example as it is: refused


def test_env_example_lists_every_setting_and_holds_no_secret() -> None:
    listed = env_example()
    used = {name for name, _, _ in expressions()}
    assert used - set(listed) == set(), "read by docker-compose.yaml, missing from .env.example"
    assert set(listed) - used == set(), "in .env.example, read by nothing"
    for name, value in listed.items():
        if SECRET_NAME.search(name):
            assert value == "", f"{name} has a value in .env.example"
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line.startswith(tuple(f"{name}=" for name in listed)):
            block = lines[max(0, index - 3):index]
            assert any(previous.startswith("#") for previous in block), f"{line}: say what it is in a comment above"


# --- connections and the data root ------------------------------------------------------------------------------

def test_every_connection_the_pipeline_uses_is_set_in_every_airflow_service() -> None:
    ids = connection_ids_in_code()
    assert {"tthc_one_stop", "tthc_hotline_1022", "tthc_warehouse", "smtp_default"} <= ids
    data = resolved()
    root = data["x-airflow-common"]["environment"]["TTHC_DATA_ROOT"]
    match = re.fullmatch(r"s3://([a-z0-9_]+)@[a-z0-9.-]+/", root)
    assert match, f"the data root must be the object store every worker reaches: {root}"
    ids.add(match.group(1))
    for name in AIRFLOW_SERVICES:
        env = data["services"][name]["environment"]
        for conn_id in ids:
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, (name, conn_id)
    raw = compose()["x-airflow-common"]["environment"]
    for conn_id in ids - {"smtp_default"}:
        assert ":?" in raw[f"AIRFLOW_CONN_{conn_id.upper()}"] or conn_id == match.group(1), conn_id


def test_data_root_connection_reaches_the_bundled_object_store() -> None:
    data = resolved()
    env = data["x-airflow-common"]["environment"]
    conn = json.loads(env["AIRFLOW_CONN_TTHC_DATA"])
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == "http://minio:9000"
    assert conn["login"] == filled_env()["TTHC_S3_ACCESS_KEY"]
    assert "minio" in data["services"] and "minio-init" in data["services"]
    worker = data["services"]["airflow-worker"]["depends_on"]
    assert worker["minio-init"]["condition"] == "service_completed_successfully"
    minio_init = data["services"]["minio-init"]
    assert "MINIO_ROOT_PASSWORD" not in data["x-airflow-common"]["environment"]
    assert "mc admin user add" in minio_init["command"][-1], "the pipeline gets its own key, not the root account"


# --- the simulator ------------------------------------------------------------------------------------------------

def test_simulator_only_in_the_demo_profile() -> None:
    data = resolved()
    services = data["services"]
    for name, service in services.items():
        build = service.get("build", {})
        is_simulator = (isinstance(build, dict) and build.get("target") == "simulator") or "simulator" in json.dumps(
            service.get("command", ""))
        if is_simulator or name == "simulator":
            assert service.get("profiles") == ["demo"], name
            continue
        assert "simulator" not in service.get("depends_on", {}), f"{name} depends on the simulator"
        for key, value in service.get("environment", {}).items():
            assert "simulator" not in str(value), f"{name}: {key} points at the simulator"
    assert services["simulator"]["build"]["target"] == "simulator"


# --- the image ------------------------------------------------------------------------------------------------

def dockerfile_stage(stage: str) -> str:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    parts = re.split(r"^(?=FROM )", text, flags=re.MULTILINE)
    found = [part for part in parts if re.match(rf"FROM \S+ AS {stage}\b", part)]
    assert len(found) == 1, stage
    return found[0]


def pins(path: Path, text: str | None = None) -> dict[str, str]:
    """``{normalised name: version}`` of a requirements file (or of ``text``, a part of it); all pinned."""
    result = {}
    for line in (path.read_text(encoding="utf-8") if text is None else text).splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"{path.name}: not pinned: {line}"
            name, version = line.split("==")
            result[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return result


def runtime_requirements() -> dict[str, str]:
    path = ROOT / "requirements.txt"
    text = path.read_text(encoding="utf-8")
    assert DEV_MARKER in text
    return pins(path, text.split(DEV_MARKER)[0])


def test_image_pins_equal_the_lock() -> None:
    image = pins(ROOT / "include" / "docker" / "requirements-image.txt")
    lock = pins(ROOT / "constraints.txt")
    for name, version in image.items():
        assert lock.get(name) == version, f"{name}=={version} in the image, {lock.get(name)} in constraints.txt"
    assert image == runtime_requirements(), "the image installs exactly the runtime part of requirements.txt"
    assert not DEV_TOOLS & set(image)
    stage = dockerfile_stage("airflow")
    base = re.search(r"^FROM apache/airflow:(?:slim-)?(\S+)-python(\S+) AS airflow$", stage, re.MULTILINE)
    assert base and base.group(1) == lock["apache-airflow"] and base.group(2) == "3.11"
    install = "pip install --no-cache-dir -r /opt/tthc/requirements-image.txt -c /opt/tthc/constraints.txt"
    assert install in stage
    assert "python /opt/tthc/check_pins.py /opt/tthc/constraints.txt /opt/tthc/requirements-image.txt" in stage
    assert "pip check" in stage


def test_the_locked_celery_starts_the_providers_worker() -> None:
    """What every Celery worker imports at start, with the lock's packages: celery 5.7.0 had removed a function
    the celery provider 3.26.0 imports (``celery.backends.database.retry``), and every worker died at start.
    ``tests/scheduler/test_distributed_celery.py`` runs the workers; this names the cause in seconds."""
    code = ("from airflow.providers.celery.executors import celery_executor_utils, celery_executor; "
            "import celery; print(celery.__version__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == pins(ROOT / "constraints.txt")["celery"]


def test_check_pins_accepts_the_lock_and_names_a_difference(tmp_path: Path) -> None:
    script = str(ROOT / "include" / "docker" / "check_pins.py")
    image = str(ROOT / "include" / "docker" / "requirements-image.txt")
    same = subprocess.run([sys.executable, script, str(ROOT / "constraints.txt"), image],
                          capture_output=True, text=True, check=False)
    assert same.returncode == 0, same.stderr
    other = tmp_path / "constraints.txt"
    other.write_text((ROOT / "constraints.txt").read_text().replace("pandas==", "pandas==0.0.0+"))
    differ = subprocess.run([sys.executable, script, str(other), image], capture_output=True, text=True, check=False)
    assert differ.returncode == 1 and "pandas" in differ.stderr


def test_image_carries_no_tests_dev_tools_or_simulator() -> None:
    stage = dockerfile_stage("airflow")
    sources = [part for line in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", stage, flags=re.MULTILINE)
               for part in line.split()]
    for source in sources:
        assert (ROOT / source.rstrip("/")).exists(), source
        assert not source.startswith(("tests", "scripts", "simulator", "docs", "requirements.txt", ".")), source
    assert {"dags/", "plugins/"} <= set(sources)
    assert "libreoffice-writer-nogui" in stage and "fonts-liberation" in stage
    simulator = dockerfile_stage("simulator")
    assert "COPY simulator/" in simulator and "apache/airflow" not in simulator
    last = re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)[-1]
    assert last == "airflow", "the default build target is the Airflow image"


def test_dockerignore_keeps_the_context_to_what_the_image_copies() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "**", "exclude everything, then allow what the Dockerfile copies"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"dags", "plugins", "include", "simulator", "constraints.txt"}
    for source in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE):
        for part in source.split():
            assert part.split("/")[0].rstrip("/") in allowed, part


def test_requirements_are_pinned_and_in_the_constraints() -> None:
    constraints = pins(ROOT / "constraints.txt")
    for name, version in pins(ROOT / "requirements.txt").items():
        assert constraints.get(name) == version, f"{name}=={version}"
