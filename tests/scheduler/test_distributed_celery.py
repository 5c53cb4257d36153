"""A month on the distributed deployment's parts, as separate processes on loopback: Celery workers, object storage.

What docker-compose.yaml deploys, without Docker (no engine on this machine): the API server, the scheduler and
the DAG processor (``tests/scheduler/conftest.py``), two Celery workers on Redis with PostgreSQL as metadata,
results and warehouse database, an S3 server (moto's ``moto_server``, from PyPI, in place of MinIO) as the data
root every worker shares, and the simulator as the source systems. Nothing is shared through a local disk: the
data root is ``s3://``, so a step that wrote a file on one worker and read it on another would fail here.

An operator's client triggers a period through the REST API and waits for the run; then the test checks that
both workers ran tasks (each records its own name as the task instances' host), that every figure in the
warehouse and in the reports is the independent computation's (``tests/e2e/oracle.py``), that the reports are
objects in the bucket, and that the outputs pages serve them from there. Every process started is stopped.

Run alone with ``pytest -m distributed``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.test_monthly_report_e2e import HIERARCHY, PERIOD, expected, stored, workbook_total
from tests.e2e.test_object_storage_root import KEYS, Bucket, docx_text
from tests.scheduler.stack import DAG_ID, VENV_BIN, AirflowStack, StackOptions, free_port, wait_for
from tests.scheduler.test_rerun_district import wait_run_end
from tthc import warehouse
from tthc.numbers import fmt_count

pytestmark = [pytest.mark.distributed, pytest.mark.scheduler, pytest.mark.services]

WORKERS = ("worker-a", "worker-b")
DISTRICTS = ["872", "866", "871"]
LOGICAL_DATE = "2023-11-01T03:00:00Z"  # inside 2023-11 [10-15, 11-15), nd09
CONN_ID, BUCKET = "tthc_data", "tthc-distributed"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``moto_server`` as its own process on a free loopback port, with the data root's bucket; stopped after."""
    port = free_port()
    log = tmp_path_factory.mktemp("s3-server") / "moto_server.log"
    with log.open("wb") as handle:
        server = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        def answers() -> bool:
            if server.poll() is not None:
                pytest.fail(f"moto_server exited with {server.returncode}: {log.read_text('utf-8', 'replace')}")
            return requests.get(f"{endpoint}/moto-api/", timeout=5).status_code == 200

        wait_for("the S3 server to answer", answers, timeout=60, interval=0.5)
        Bucket(endpoint, BUCKET).client.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)
        server.kill()


@pytest.fixture(scope="module")
def stack_options(s3_endpoint: str) -> StackOptions:
    """Two Celery workers; the data root in the bucket, through an ``aws`` connection as compose gives MinIO's."""
    connection = json.dumps({
        "conn_type": "aws", "login": KEYS["aws_access_key_id"], "password": KEYS["aws_secret_access_key"],
        "extra": {"endpoint_url": s3_endpoint, "region_name": KEYS["region_name"],
                  "config_kwargs": {"s3": {"addressing_style": "path"}}}})
    return StackOptions(celery_workers=WORKERS, env={
        "TTHC_DATA_ROOT": f"s3://{CONN_ID}@{BUCKET}/", f"AIRFLOW_CONN_{CONN_ID.upper()}": connection})


@pytest.fixture(scope="module")
def month(airflow_stack: AirflowStack) -> dict[str, Any]:
    """One period triggered through the REST API for three districts and waited for; its task instances."""
    stack = airflow_stack
    warehouse.engine_for(stack.warehouse_url).dispose()  # the schema first, as a deployment's init does
    run = stack.api("POST", f"/dags/{DAG_ID}/dagRuns",
                    json={"logical_date": LOGICAL_DATE, "conf": {"districts": DISTRICTS}})
    tis = wait_run_end(stack, run["dag_run_id"], "the distributed run to end")
    return {"run": stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"), "tis": tis}


def test_the_run_succeeds_with_tasks_on_both_workers(airflow_stack: AirflowStack, month: dict[str, Any]) -> None:
    queue = airflow_stack.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
    assert month["run"]["state"] == "success", month["run"]
    ran = [ti for ti in month["tis"].values() if ti["state"] == "success"]
    hosts = Counter(ti["hostname"] for ti in ran)
    busy = {host: sum(ti["duration"] or 0 for ti in ran if ti["hostname"] == host) for host in hosts}
    run = month["run"]
    wall = (datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])).total_seconds()
    # Figures for sizing a deployment (README, "Sizing"), printed, not asserted.
    print(f"\n{len(DISTRICTS)} units in {wall:.0f} s on two workers of concurrency 2; tasks per worker: "
          f"{dict(hosts)}; task seconds per worker: { {h: round(b) for h, b in busy.items()} }; "
          f"task seconds per unit: {sum(busy.values()) / len(DISTRICTS):.0f}")
    assert set(hosts) == set(WORKERS), hosts  # every task ran on a worker, and each worker ran some
    assert {ti["queue"] for ti in ran} == {queue}  # the queue only this stack's workers consume


def test_figures_are_the_independent_computation(airflow_stack: AirflowStack, month: dict[str, Any],
                                                 s3_endpoint: str) -> None:
    bucket = Bucket(s3_endpoint, BUCKET)
    keys = set(bucket.keys())
    name = PERIOD.name
    for district in DISTRICTS:
        want_rows, want_feedback = expected(district)
        got_rows, got_feedback = stored(airflow_stack.warehouse_url, district)
        assert set(got_rows) == set(want_rows), district
        for key, want in want_rows.items():
            assert {n: got_rows[key][n] for n in want} == want, f"{district} {key}"
        assert {n: got_feedback[n] for n in want_feedback} == want_feedback, district
        stem = f"reports/{name}/bao-cao-tthc-{district}-{name}"
        assert {f"{stem}.docx", f"{stem}.pdf", f"{stem}.evidence.json"} <= keys, district
        text = docx_text(bucket.read(f"{stem}.docx"))
        assert f"tiếp nhận {fmt_count(want_feedback['feedback_received'])} phản ánh" in text
        assert HIERARCHY.get(district).name.upper() in text
        assert bucket.read(f"{stem}.pdf").startswith(b"%PDF")

    province = f"reports/{name}/tong-hop-tthc-87-{name}"
    totals = workbook_total(io.BytesIO(bucket.read(f"{province}.xlsx")))
    figures = [{**rows["tong", d], **feedback} for d in DISTRICTS for rows, feedback in [expected(d)]]
    for metric in ("received", "resolved", "pending_overdue", "feedback_received"):
        assert totals[metric] == sum(f[metric] for f in figures), metric
    summary = bucket.json(f"reports/{name}/run-summary.json")
    assert summary["reports_written"] == len(DISTRICTS) and summary["missing"] == []
    assert not [k for k in keys if ".tmp-" in k or k.endswith("/")]  # every object written once, whole


def test_report_links_serve_the_objects(airflow_stack: AirflowStack, month: dict[str, Any], s3_endpoint: str) -> None:
    """The outputs pages (behind Airflow's login, in the API server) read the bucket: same bytes, working links."""
    stack, bucket, name = airflow_stack, Bucket(s3_endpoint, BUCKET), PERIOD.name
    run_url = f"{stack.base_url}/tthc/dags/{DAG_ID}/runs/{month['run']['dag_run_id']}/"
    page = stack.session.get(run_url, timeout=60)
    assert page.status_code == 200, page.text[:2000]
    for district in DISTRICTS:
        for kind in ("docx", "pdf"):
            file_name = f"bao-cao-tthc-{district}-{name}.{kind}"
            assert f"reports/{file_name}" in page.text, file_name
            served = stack.session.get(f"{run_url}reports/{file_name}", timeout=60)
            assert served.status_code == 200, served.text[:500]
            assert served.content == bucket.read(f"reports/{name}/{file_name}")
        results = stack.session.get(f"{run_url}quality/{district}/index.html", timeout=60)
        assert results.status_code == 200 and "<html" in results.text.lower()
    anonymous = requests.get(f"{run_url}reports/bao-cao-tthc-{DISTRICTS[0]}-{name}.docx", timeout=60)
    assert anonymous.status_code in (401, 403)


def test_no_shared_disk_was_used(airflow_stack: AirflowStack, month: dict[str, Any]) -> None:
    """Nothing of the month on a local disk: not the stack's local folder, not a folder named after the URL."""
    local = airflow_stack.data_root
    assert not [p for p in local.rglob("*") if p.is_file()], sorted(map(str, local.rglob("*")))[:20]
    root = Path(__file__).resolve().parents[2]
    assert not (root / "s3:").exists() and not (airflow_stack.home / "s3:").exists()


def test_each_worker_forked_its_tasks_with_the_libraries_imported(airflow_stack: AirflowStack,
                                                                   month: dict[str, Any]) -> None:
    """Started as docker-compose.yaml starts them (``python -m tthc_airflow.preload celery worker``), the workers
    imported pandas, pyarrow and GX once, before their pool forked, and still ran their share of the month."""
    for name in WORKERS:
        log = Path(airflow_stack.components[name].log).read_text(encoding="utf-8", errors="replace")
        assert re.search(r"tthc_airflow\.preload: .*great_expectations.* imported in [\d.]+ s", log), name
        assert any(ti["hostname"] == name and ti["state"] == "success" for ti in month["tis"].values()), name
