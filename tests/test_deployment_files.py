"""docker-compose.yaml and the Dockerfile, checked statically (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


def test_compose_has_the_airflow_3_components_and_the_simulator() -> None:
    services = compose()["services"]
    assert set(services) >= {"postgres", "redis", "simulator", "airflow-apiserver", "airflow-scheduler",
                             "airflow-dag-processor", "airflow-worker", "airflow-triggerer", "airflow-init"}
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                 "airflow-triggerer"):
        service = services[name]
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert "healthcheck" in service, name
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
        for conn in ("AIRFLOW_CONN_TTHC_ONE_STOP", "AIRFLOW_CONN_TTHC_HOTLINE_1022", "AIRFLOW_CONN_TTHC_WAREHOUSE"):
            assert conn in env, (name, conn)
    assert services["airflow-apiserver"]["command"] == "api-server"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"


def test_compose_connections_point_at_services_that_exist() -> None:
    data = compose()
    env = data["services"]["airflow-worker"]["environment"]
    for conn in ("AIRFLOW_CONN_TTHC_ONE_STOP", "AIRFLOW_CONN_TTHC_HOTLINE_1022", "AIRFLOW_CONN_TTHC_WAREHOUSE"):
        default = re.search(r":-(.+)}$", env[conn]).group(1)
        host = re.search(r"@([\w-]+):", default).group(1)
        assert host in data["services"], (conn, host)
    simulator_cmd = data["services"]["simulator"]["command"]
    assert simulator_cmd[simulator_cmd.index("--port") + 1] == "8089"


def test_compose_mounts_and_files_exist() -> None:
    data = compose()
    for volume in data["x-airflow-common"]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source
    for volume in data["services"]["postgres"]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (ROOT / source).is_file(), source


def test_dockerfile_installs_the_pinned_set_and_copies_existing_paths() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM apache/airflow:3.3.2-python3.11" in text
    assert "-r /opt/tthc/requirements.txt -c /opt/tthc/constraints.txt" in text
    assert "fonts-liberation" in text and "libreoffice-writer-nogui" in text
    for source in re.findall(r"^COPY (?:--chown=\S+ )?(.+) \S+$", text, flags=re.MULTILINE):
        for part in source.split():
            assert (ROOT / part.rstrip("/")).exists(), part


def test_requirements_are_pinned_and_in_the_constraints() -> None:
    constraints = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            constraints[name.lower().replace("_", "-")] = version
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        assert "==" in line, f"requirement not pinned: {line}"
        name, version = line.split("==")
        assert constraints.get(name.lower().replace("_", "-")) == version, line
