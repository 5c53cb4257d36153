"""An operator clicks from the Airflow UI to a run's report and quality results, through the real API server.

The run is a real one: ``airflow dags test`` of the DAG against the bundled simulator, for 2023-11 and two
districts, Tháp Mười (872, three dossiers with a status outside the code list: quarantined) and Thanh Bình
(874, two hundred dossiers without a due date: blocked, no report). Then ``airflow api-server`` (uvicorn)
serves the UI on a free port of 127.0.0.1 with the plugin loaded, and Debian's Chromium, driven by
Playwright, logs in through the simple auth manager's form, opens the DAG's latest run, its tab "Reports &
quality", downloads the report and opens the quality results page; then a task instance's tab "District
outputs"; and the run page's block of the province's consolidated set (1/12 units: 872 alone), whose workbook
and report download. Screenshots are left in ``tests/artifacts/ui-*.png``. Without Chromium or Playwright the test is
skipped with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
DAG_ID = "tthc_monthly_report"
USER, PASSWORD = "operator", "operator-password-for-tests"
CORRUPT = {"872": ["bad_status"], "874": ["no_due_date*200"]}
PROVINCE_SET = "tong-hop-tthc-87-2023-11"  # Đồng Tháp (87), the province in force for 2023-11
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def airflow_env(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The session's Airflow home, with this module's data root, warehouse and one viewer user."""
    work = tmp_path_factory.mktemp("ui-outputs")
    passwords = work / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    venv_bin = str(Path(sys.executable).parent)
    return dict(os.environ, **{
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",  # Airflow spawns `airflow ...` subprocesses
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        "TTHC_DATA_ROOT": str(work / "tthc-data"),
        "AIRFLOW_CONN_TTHC_WAREHOUSE": f"sqlite:///{work / 'warehouse.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    })


@pytest.fixture(scope="module")
def finished_run(airflow_env: dict[str, str]) -> str:
    """Run the DAG for 2023-11 (872 quarantined, 874 blocked) with ``airflow dags test``; its run id."""
    from simulator.server import start_in_thread

    with start_in_thread(quiet=True, corrupt=CORRUPT) as simulator:
        host_port = simulator.base_url.split("://", 1)[1]
        env = dict(airflow_env, AIRFLOW_CONN_TTHC_ONE_STOP=f"http://:sim-one-stop-token@{host_port}",
                   AIRFLOW_CONN_TTHC_HOTLINE_1022=f"http://:sim-hotline-key@{host_port}")
        conf = json.dumps({"period": "2023-11", "districts": ["872", "874"]})
        result = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, "2023-11-09T03:17:00+00:00", "--conf", conf],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    found = [line for line in output.splitlines() if "DagRun Finished" in line]
    assert found, output[-4000:]
    run_id = found[-1].split("run_id=", 1)[1].split(", ", 1)[0]
    data = Path(airflow_env["TTHC_DATA_ROOT"])
    assert (data / "reports" / "2023-11" / "bao-cao-tthc-872-2023-11.docx").is_file(), output[-4000:]
    assert not (data / "reports" / "2023-11" / "bao-cao-tthc-874-2023-11.docx").exists()
    return run_id


@pytest.fixture(scope="module")
def api_server(airflow_env: dict[str, str], finished_run: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[str]:
    """``airflow api-server`` on a free port; its base URL once it answers, stopped (its process group) after."""
    port = _free_port()
    log = tmp_path_factory.mktemp("api-server") / "api-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port",
                                 str(port), "--workers", "1"], cwd=ROOT, env=airflow_env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the API server did not start:\n{log.read_text()[-4000:]}") from None
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _get(base: str, path: str, token: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    """A GET with the path sent exactly as written (no client-side removal of dot segments)."""
    conn = http.client.HTTPConnection(base.split("://", 1)[1], timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def _token(base: str) -> str:
    """A JWT of the test's viewer from ``POST /auth/token``, as an API client gets one."""
    request = urllib.request.Request(f"{base}/auth/token", method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps({"username": USER, "password": PASSWORD}).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


def test_the_api_server_guards_and_serves_the_outputs(api_server: str, finished_run: str) -> None:
    """Over real HTTP: refused without a login, served with a JWT from POST /auth/token, no way out of a folder."""
    run = f"/tthc/dags/{DAG_ID}/runs/{quote(finished_run, safe='')}"
    status, _, _ = _get(api_server, f"{run}/")
    assert status == 401
    assert _get(api_server, f"{run}/reports/bao-cao-tthc-872-2023-11.docx")[0] == 401
    token = _token(api_server)
    status, body, headers = _get(api_server, f"{run}/", token)
    assert status == 200 and headers["content-type"].startswith("text/html")
    html = body.decode("utf-8")
    assert "Huyện Tháp Mười (872)" in html and "Huyện Thanh Bình (874)" in html
    assert "resolved by task plan_run" in html and "3 dossiers quarantined" in html
    status, body, headers = _get(api_server, f"{run}/reports/bao-cao-tthc-872-2023-11.docx", token)
    assert status == 200 and body[:2] == b"PK"
    assert headers["content-type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert "bao-cao-tthc-872-2023-11.docx" in headers["content-disposition"]
    status, body, headers = _get(api_server, f"{run}/reports/{PROVINCE_SET}.xlsx", token)
    assert status == 200 and body[:2] == b"PK" and headers["content-type"] == XLSX
    assert f"{PROVINCE_SET}.xlsx" in headers["content-disposition"]
    assert _get(api_server, f"{run}/reports/{PROVINCE_SET}.announced.json", token)[0] == 404
    for escape in ("quality/872/../../../reports/bao-cao-tthc-872-2023-11.docx",
                   "quality/872/%2e%2e/%2e%2e/%2e%2e/reports/bao-cao-tthc-872-2023-11.docx",
                   "quality/872/..%2F..%2F..%2Freports%2Fbao-cao-tthc-872-2023-11.docx"):
        status, body, _ = _get(api_server, f"{run}/{escape}", token)
        assert status in (400, 404), (escape, status)
        assert not body.startswith(b"PK")


def test_operator_clicks_from_the_run_to_the_report_and_the_quality_page(browser: Any, api_server: str,
                                                                         finished_run: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        # Not logged in: the UI sends the operator to the login form; the outputs app refuses on its own too.
        page.goto(f"{api_server}/dags/{DAG_ID}")
        page.wait_for_url("**/auth/login**")
        page.screenshot(path=str(ARTIFACTS / "ui-login.png"))
        page.get_by_label("Username").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/dags/{DAG_ID}")

        # The DAG's latest run, then its tab of outputs (the plugin's external view, shown in an iframe).
        page.get_by_text("Latest Run").locator("..").get_by_role("link").first.click()
        page.wait_for_url(f"**/dags/{DAG_ID}/runs/**")
        assert finished_run in page.url
        page.get_by_role("link", name="Reports & quality").click()
        frame = page.frame_locator("iframe[title='Reports & quality']")
        frame.get_by_role("heading", name="Period 2023-11").wait_for()
        row_872, row_874 = frame.locator("#district-872"), frame.locator("#district-874")
        assert "Huyện Tháp Mười (872)" in row_872.inner_text()
        assert "passed with 3 quarantined" in row_872.inner_text()
        assert "BLOCKED" in row_874.inner_text() and row_874.get_by_text("not written").count() == 3
        assert "data quality blocks the report" in row_874.locator(".missing-reason").inner_text()  # why, no log
        assert "Huyện Thanh Bình (874)" in frame.get_by_text("Missing reports").locator("..").inner_text()
        page.screenshot(path=str(ARTIFACTS / "ui-run-outputs.png"), full_page=True)
        # The tab's page on its own (the UI resolves the view's relative href against its base URL), whole.
        src = page.locator("iframe[title='Reports & quality']").get_attribute("src")
        assert src == f"tthc/dags/{DAG_ID}/runs/{quote(finished_run, safe='')}/"
        alone = context.new_page()
        alone.goto(f"{api_server}/{src}")
        alone.screenshot(path=str(ARTIFACTS / "ui-run-outputs-page.png"), full_page=True)
        alone.close()

        # The report: a .docx download with its name.
        with page.expect_download() as download:
            row_872.get_by_role("link", name="bao-cao-tthc-872-2023-11.docx").click()
        assert download.value.suggested_filename == "bao-cao-tthc-872-2023-11.docx"
        assert Path(download.value.path()).read_bytes()[:2] == b"PK"

        # The quality results page, in the same tab, with its GX result one more click away.
        row_872.get_by_role("link", name="quality results page").click()
        frame.get_by_role("heading", name="Huyện Tháp Mười (872), period 2023-11").wait_for()
        assert frame.get_by_text("Passed with 3 quarantined").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "ui-quality.png"), full_page=True)
        with page.expect_response(lambda r: r.url.endswith("/quality/872/dossiers.json")) as gx:
            frame.get_by_role("link", name="dossiers.json").first.click()
        assert gx.value.status == 200 and gx.value.headers["content-type"] == "application/json"

        # A task instance of the district group: its tab shows that district only.
        page.goto(f"{api_server}/dags/{DAG_ID}/runs/{finished_run}/tasks/district.write_report/mapped/1")
        page.get_by_role("link", name="District outputs").click()
        frame = page.frame_locator("iframe[title='District outputs']")
        frame.get_by_role("heading", name="District 874").wait_for()
        assert frame.locator("#district-872").count() == 0
        assert frame.locator("#province").count() == 0  # a district's tab is about that district alone
        page.screenshot(path=str(ARTIFACTS / "ui-task-instance.png"), full_page=True)
    finally:
        context.close()


def test_the_province_block_links_the_consolidated_set(browser: Any, api_server: str, finished_run: str,
                                                       airflow_env: dict[str, str]) -> None:
    """The run consolidated 872 alone (874 blocked): its page shows the province's set, 1/12, the units left out."""
    reports = Path(airflow_env["TTHC_DATA_ROOT"]) / "reports" / "2023-11"
    assert (reports / f"{PROVINCE_SET}.docx").is_file() and (reports / f"{PROVINCE_SET}.xlsx").is_file()
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.add_cookies([{"name": "_token", "value": _token(api_server), "url": api_server}])  # as the UI sets it
    page = context.new_page()
    try:
        page.goto(f"{api_server}/tthc/dags/{DAG_ID}/runs/{quote(finished_run, safe='')}/")
        block = page.locator("#province")
        block.get_by_role("heading", name="Province: Tỉnh Đồng Tháp (87)").wait_for()
        assert "Consolidated report: partial: 1/12 units" in block.inner_text()
        left_out = block.locator("#province-missing").inner_text()
        assert "11 unit(s) without a report" in left_out and "Huyện Thanh Bình (874)" in left_out
        assert "Thành phố Cao Lãnh (866)" in left_out and "Huyện Tháp Mười (872)" not in left_out
        assert "this run" in block.inner_text()
        links = block.get_by_role("link")
        names = [links.nth(i).inner_text() for i in range(links.count())]
        pdf = (reports / f"{PROVINCE_SET}.pdf").is_file()  # written when LibreOffice is on the worker
        assert names == [f"{PROVINCE_SET}.docx", *([f"{PROVINCE_SET}.pdf"] if pdf else []), f"{PROVINCE_SET}.xlsx"]
        page.screenshot(path=str(ARTIFACTS / "ui-province.png"), full_page=True)
        with page.expect_download() as download:
            block.get_by_role("link", name=f"{PROVINCE_SET}.xlsx").click()
        assert download.value.suggested_filename == f"{PROVINCE_SET}.xlsx"
        assert Path(download.value.path()).read_bytes() == (reports / f"{PROVINCE_SET}.xlsx").read_bytes()
        with page.expect_download() as download:
            block.get_by_role("link", name=f"{PROVINCE_SET}.docx").click()
        assert Path(download.value.path()).read_bytes() == (reports / f"{PROVINCE_SET}.docx").read_bytes()
    finally:
        context.close()
