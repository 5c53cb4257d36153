"""The outputs app's routes against a prepared data root and DagRun rows in the migrated test database.

What an operator relies on: nothing without Airflow's login; the run page says what the run produced,
quarantined and defaulted, with a link to every file that exists and "not written" for every one that does
not; the files come back with their content types; nothing outside the run's files can be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from tests.quality.pages import scan_html, start_tags
from tests.ui.conftest import (
    DAG_ID,
    DOCX_BYTES,
    PROVINCE_DOCX,
    XLSX_BYTES,
    province_result,
    write_outputs,
    write_province,
)
from tthc_airflow.outputs import DOCX, PROVINCE_TASK, XLSX

BASE = f"/tthc/dags/{DAG_ID}/runs"
THAP_MUOI = "Huyện Tháp Mười (872)"
THANH_BINH = "Huyện Thanh Bình (874)"
UNITS_2023 = ["866", "867", "868", "869", "870", "871", "872", "873", "874", "875", "876", "877"]
PROVINCE_SET = "tong-hop-tthc-87-2023-11"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_url(run_id: str, rest: str = "") -> str:
    return f"{BASE}/{run_id}/{rest}"


def province_block(html: str) -> str:
    """The run page's province section (it comes before the districts' table)."""
    return html.split('<section id="province">')[1].split("</section>")[0]


def links_of(html: str) -> list[str]:
    return [attrs["href"] for tag, attrs in start_tags(html) if tag == "a"]


def summary_of(run_id: str, **changes: Any) -> dict[str, Any]:
    summary = {"period": "2023-11", "run_id": run_id, "districts": 2, "dossiers_read": 120, "feedback_read": 9,
               "source_requests_retried": 3, "reports_written": 1, "reports": [], "records_quarantined": 2,
               "quality": [{"unit": THAP_MUOI, "results_page": "x", "quarantined": {"dossiers": 2, "feedback": 0}}],
               "warnings": ["872: signer name not set: the signature line is left blank",
                            "1 report(s) without PDF: LibreOffice is not installed on the worker (make system-deps)"],
               "missing": [THANH_BINH]}
    summary.update(changes)
    return summary


# ---------------------------------------------------------------- authentication


def test_every_route_refuses_a_request_without_a_login(client: Any, make_run: Any, data_root: Path) -> None:
    run_id = make_run(conf={"districts": ["872"]})
    write_outputs(data_root)
    write_province(data_root)
    for path in (run_url(run_id), run_url(run_id, "reports/bao-cao-tthc-872-2023-11.docx"),
                 run_url(run_id, f"reports/{PROVINCE_SET}.docx"), run_url(run_id, f"reports/{PROVINCE_SET}.xlsx"),
                 run_url(run_id, "reports/run-summary.json"), run_url(run_id, "quality/872/index.html"),
                 run_url(run_id, "quality/872/dossiers.json"), run_url(run_id, "tasks/district.validate/0")):
        response = client.get(path)
        assert response.status_code == 401, path
        assert DOCX_BYTES not in response.content and PROVINCE_DOCX not in response.content
        forged = client.get(path, headers={"Authorization": "Bearer not-a-jwt"})
        assert forged.status_code == 403, path
        assert client.get(path, cookies={"_token": "not-a-jwt"}).status_code == 403, path


def test_the_ui_cookie_and_a_bearer_token_are_accepted(client: Any, make_run: Any, data_root: Path,
                                                       viewer_token: str) -> None:
    run_id = make_run(conf={"districts": ["872"]})
    assert client.get(run_url(run_id), headers=auth(viewer_token)).status_code == 200
    client.cookies.set("_token", viewer_token)
    assert client.get(run_url(run_id)).status_code == 200


# ---------------------------------------------------------------- the run page


def test_run_page_shows_files_written_and_not_written(client: Any, make_run: Any, data_root: Path,
                                                      viewer_token: str) -> None:
    run_id = make_run(conf={"districts": ["874", "872"]})
    write_outputs(data_root, "872", summary=summary_of(run_id))
    response = client.get(run_url(run_id), headers=auth(viewer_token))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert "Period 2023-11" in html and "the run&#39;s data interval" in html
    assert THAP_MUOI in html and THANH_BINH in html  # diacritics as written
    links = [attrs["href"] for tag, attrs in start_tags(html) if tag == "a"]
    assert "reports/bao-cao-tthc-872-2023-11.docx" in links
    assert "reports/bao-cao-tthc-872-2023-11.evidence.json" in links
    assert "quality/872/index.html" in links
    assert "reports/run-summary.json" in links
    assert not any("874" in link or ".pdf" in link for link in links)  # nothing links to a file that is not there
    row_874 = html.split('id="district-874"')[1].split("</tr>")[0]
    assert row_874.count("not written") == 4 and "no report: see its failed task" in row_874
    row_872 = html.split('id="district-872"')[1].split("</tr>")[0]
    assert row_872.count("not written") == 1  # the PDF
    assert "2 dossiers quarantined" in row_872 and "passed with 2 quarantined" in row_872
    assert "signer name not set" in row_872  # what was defaulted, on the district's row
    assert "LibreOffice is not installed" in html  # a warning of the whole run
    assert "1 of 2 district(s)" in html and "120 dossiers, 9 feedback items" in html
    # Rows in the order of the run's plan (the configuration's order), as the map indexes are.
    assert html.index("district-872") < html.index("district-874")


def test_every_link_of_the_run_page_is_served_and_every_page_is_self_contained(
        client: Any, make_run: Any, record_task: Any, data_root: Path, viewer_token: str, tmp_path: Path) -> None:
    """Crawl the run page as a browser would: each link resolves to a file the app serves; scan every page."""
    run_id = make_run(conf={"districts": ["872"], "note": "<script>alert(1)</script>"})
    write_outputs(data_root, "872", pdf=True, summary=summary_of(run_id, missing=[]))
    province = write_province(data_root)
    record_task(run_id, PROVINCE_TASK, "success", province_result(
        province, [c for c in UNITS_2023 if c != "872"], warnings=["87: <b>signer</b> not set"]))
    mirror = tmp_path / "mirror"
    start = run_url(run_id)
    queue, seen = [start], set()
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, headers=auth(viewer_token))
        assert response.status_code == 200, url
        local = mirror / (unquote(urlsplit(url).path)[len(start):] or "index.html")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(response.content)
        if response.headers["content-type"].startswith("text/html"):
            for tag, attrs in start_tags(response.text):
                href = attrs.get("href")
                if tag == "a" and href and urlsplit(href).path:
                    queue.append(urljoin(url, href))
    # page, docx, pdf, evidence, summary, quality page and the two files it links to, the province's three files
    assert len(seen) == 11
    pages, problems = scan_html(mirror)
    assert len(pages) == 2 and problems == []
    html = (mirror / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>" not in html and "&lt;b&gt;signer&lt;/b&gt; not set" in province_block(html)


def test_one_district_and_a_summary_of_another_run(client: Any, make_run: Any, data_root: Path,
                                                    viewer_token: str) -> None:
    run_id = make_run(conf={"districts": ["872", "874"]})
    write_outputs(data_root, "872", summary=summary_of("scheduled__2023-11"))
    html = client.get(run_url(run_id) + "?district=872", headers=auth(viewer_token)).text
    assert 'id="district-872"' in html and 'id="district-874"' not in html
    assert "written by run" in html and "scheduled__2023-11" in html
    assert "signer name not set" not in html  # another run's per-district warnings are not this run's
    assert client.get(run_url(run_id) + "?district=../1", headers=auth(viewer_token)).status_code == 400
    assert "not part of this run" in client.get(run_url(run_id) + "?district=866", headers=auth(viewer_token)).text


def test_run_page_without_any_output_and_without_a_period(client: Any, make_run: Any, data_root: Path,
                                                           viewer_token: str) -> None:
    run_id = make_run()
    html = client.get(run_url(run_id), headers=auth(viewer_token)).text
    # 12 districts of the configuration, the summary, the province's three files and its status
    assert html.count("not written") == 12 * 4 + 1 + 3 + 1
    assert "Huyện Châu Thành (877)" in html
    no_period = make_run(interval=False)
    html = client.get(run_url(no_period), headers=auth(viewer_token)).text
    assert "No reporting period" in html and "names no reporting period" in html
    confirmed = make_run(conf={"period": "2023-12"})  # conf that contradicts the interval: plan_run failed
    html = client.get(run_url(confirmed), headers=auth(viewer_token)).text
    assert "but its conf asks for 2023-12" in html


def test_unknown_runs_and_other_dags_answer_helpfully(client: Any, make_run: Any, data_root: Path,
                                                      viewer_token: str) -> None:
    response = client.get(run_url("manual__nope"), headers=auth(viewer_token))
    assert response.status_code == 404 and "has no run manual__nope" in response.text
    other = make_run(dag_id="some_other_dag")
    response = client.get(f"/tthc/dags/some_other_dag/runs/{other}/", headers=auth(viewer_token))
    assert response.status_code == 404 and f"outputs of runs of {DAG_ID} only" in response.text
    _, problems = _scan_one(response.text)
    assert problems == []


def _scan_one(html: str) -> tuple[list[Path], list[str]]:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    (folder / "page.html").write_text(html, encoding="utf-8")
    return scan_html(folder)


# ---------------------------------------------------------------- files


def test_report_files_with_their_content_types(client: Any, make_run: Any, data_root: Path,
                                               viewer_token: str) -> None:
    run_id = make_run(conf={"districts": ["872"]})
    write_outputs(data_root, pdf=True, summary=summary_of(run_id))
    docx = client.get(run_url(run_id, "reports/bao-cao-tthc-872-2023-11.docx"), headers=auth(viewer_token))
    assert docx.status_code == 200 and docx.content == DOCX_BYTES
    assert docx.headers["content-type"] == DOCX
    assert docx.headers["content-disposition"].startswith("attachment")
    assert 'filename="bao-cao-tthc-872-2023-11.docx"' in docx.headers["content-disposition"]
    pdf = client.get(run_url(run_id, "reports/bao-cao-tthc-872-2023-11.pdf"), headers=auth(viewer_token))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["content-disposition"].startswith("inline")
    evidence = client.get(run_url(run_id, "reports/bao-cao-tthc-872-2023-11.evidence.json"), headers=auth(viewer_token))
    assert evidence.headers["content-type"] == "application/json" and evidence.json()["unit"] == "872"
    summary = client.get(run_url(run_id, "reports/run-summary.json"), headers=auth(viewer_token))
    assert summary.json()["missing"] == [THANH_BINH]
    assert "Thanh Bình" in summary.content.decode("utf-8")
    missing = client.get(run_url(run_id, "reports/bao-cao-tthc-874-2023-11.docx"), headers=auth(viewer_token))
    assert missing.status_code == 404 and "was not written" in missing.text
    # A PDF or evidence without its .docx is what an interrupted write left: not a report, neither listed nor served.
    (data_root / "reports" / "2023-11" / "bao-cao-tthc-874-2023-11.pdf").write_bytes(b"%PDF leftover")
    leftover = client.get(run_url(run_id, "reports/bao-cao-tthc-874-2023-11.pdf"), headers=auth(viewer_token))
    assert leftover.status_code == 404
    run_874 = make_run(conf={"districts": ["874"]})
    assert "bao-cao-tthc-874-2023-11.pdf" not in client.get(run_url(run_874), headers=auth(viewer_token)).text
    # Only the run's period's report names and the summary: no other file of the reports folder.
    (data_root / "reports" / "2023-11" / "notes.txt").write_text("x")
    (data_root / "reports" / "2023-10").mkdir()
    (data_root / "reports" / "2023-10" / "bao-cao-tthc-872-2023-10.docx").write_bytes(DOCX_BYTES)
    for name in ("notes.txt", "bao-cao-tthc-872-2023-10.docx", "..%2F2023-10%2Fbao-cao-tthc-872-2023-10.docx"):
        assert client.get(run_url(run_id, f"reports/{name}"), headers=auth(viewer_token)).status_code == 404, name


def test_quality_page_and_the_files_it_links_to(client: Any, make_run: Any, data_root: Path,
                                                viewer_token: str) -> None:
    run_id = make_run(conf={"districts": ["872"]})
    write_outputs(data_root)
    page = client.get(run_url(run_id, "quality/872/index.html"), headers=auth(viewer_token))
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Passed with 2 quarantined" in page.text
    assert client.get(run_url(run_id, "quality/872/"), headers=auth(viewer_token)).text == page.text
    href = next(a["href"] for tag, a in start_tags(page.text) if tag == "a" and a["href"].endswith(".json"))
    linked = client.get(urljoin(run_url(run_id, "quality/872/index.html"), href), headers=auth(viewer_token))
    assert linked.status_code == 200 and linked.json()["success"] is False
    parquet = client.get(run_url(run_id, "quality/872/quarantine/dossiers.parquet"), headers=auth(viewer_token))
    assert parquet.status_code == 200 and parquet.headers["content-disposition"].startswith("attachment")
    assert client.get(run_url(run_id, "quality/874/index.html"), headers=auth(viewer_token)).status_code == 404


@pytest.mark.parametrize("path", [
    "..%2F..%2F..%2Freports%2F2023-11%2Fbao-cao-tthc-872-2023-11.docx",
    "%2e%2e/%2e%2e/%2e%2e/reports/2023-11/bao-cao-tthc-872-2023-11.docx",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
    "%252e%252e%252f%252e%252e%252fsecret.txt",
    "..%5C..%5C..%5Csecret.txt",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "quarantine/../../../../secret.txt",
    "quarantine/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    ".hidden",
    "escape.json",
    "index.html%00.json",
    "a/b/c/d/e.json",
])
def test_nothing_outside_the_quality_folder(client: Any, make_run: Any, data_root: Path, viewer_token: str,
                                            path: str) -> None:
    run_id = make_run(conf={"districts": ["872"]})
    folder = write_outputs(data_root)["quality"]
    (data_root / "secret.txt").write_text("SECRET")
    (data_root.parent / "secret.txt").write_text("SECRET")
    (folder / ".hidden").write_text("SECRET")
    (folder / "escape.json").symlink_to(data_root / "secret.txt")
    assert raw_get(client.app, run_url(run_id, "quality/872/quarantine/dossiers.parquet"), viewer_token)[0] == 200
    status, body = raw_get(client.app, run_url(run_id, f"quality/872/{path}"), viewer_token)
    assert status in (400, 404), body
    assert b"SECRET" not in body and DOCX_BYTES not in body


def raw_get(app: Any, target: str, token: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (HTTP clients remove dot segments), as uvicorn hands it to the app:
    ``path`` percent-decoded once, ``raw_path`` as sent."""
    import asyncio

    messages: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while not any(m["type"] == "http.response.body" and not m.get("more_body") for m in messages):
            await asyncio.sleep(0.01)  # the client stays until the whole response is sent, then leaves
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote(target), "raw_path": target.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


@pytest.mark.parametrize("code", ["..", "87a", "1234567", "%2e%2e"])
def test_district_codes_are_digits(client: Any, make_run: Any, data_root: Path, viewer_token: str,
                                   code: str) -> None:
    run_id = make_run()
    response = client.get(run_url(run_id, f"quality/{code}/index.html"), headers=auth(viewer_token))
    assert response.status_code in (400, 404)


# ---------------------------------------------------------------- the province's consolidated set


def test_province_set_with_its_coverage_and_the_units_left_out(client: Any, make_run: Any, record_task: Any,
                                                               data_root: Path, viewer_token: str) -> None:
    run_id = make_run(conf={"districts": ["872", "874"]})
    missing = [c for c in UNITS_2023 if c != "872"]
    write_outputs(data_root, "872", summary=summary_of(run_id, warnings=[
        "87: signer of the province not set: the signature line is left blank",
        "the province's consolidated report of 2023-11 leaves out the units without a report: 866"]))
    province = write_province(data_root)
    record_task(run_id, PROVINCE_TASK, "success", province_result(
        province, missing, warnings=["87: signer of the province not set: the signature line is left blank"]))
    html = client.get(run_url(run_id), headers=auth(viewer_token)).text
    block = province_block(html)
    assert "Province: Tỉnh Đồng Tháp (87)" in block
    assert html.index('id="province"') < html.index('id="district-872"')  # the consolidated set comes first
    assert [link for link in links_of(block)] == [f"reports/{PROVINCE_SET}.docx", f"reports/{PROVINCE_SET}.pdf",
                                                  f"reports/{PROVINCE_SET}.xlsx"]
    assert "partial: 1/12 units" in block and "<strong>1/12</strong>" in block
    left_out = block.split('id="province-missing"')[1].split("</dd>")[0]
    assert "11 unit(s) without a report" in left_out
    assert THANH_BINH in left_out and "Thành phố Cao Lãnh (866)" in left_out and "Huyện Châu Thành (877)" in left_out
    assert THAP_MUOI not in left_out
    assert "this run" in block.split("Written by")[1]
    # The province's own warning is shown with its set, not again among the run's.
    assert "signer of the province not set" in block
    run_warnings = html.split("Warnings of the run")[1].split("</div>")[0]
    assert "signer of the province" not in run_warnings and "leaves out the units" in run_warnings
    # A district's own view (a task instance's tab) is about that district alone.
    assert 'id="province"' not in client.get(run_url(run_id) + "?district=872", headers=auth(viewer_token)).text


def test_the_set_of_another_run_shows_what_that_run_covered(client: Any, make_run: Any, record_task: Any,
                                                            data_root: Path, viewer_token: str) -> None:
    """A period reported a unit at a time: each run rewrites the set; the page says whose it is and what it covers."""
    first = make_run(conf={"districts": ["872"]})
    record_task(first, PROVINCE_TASK, "success",
                province_result(write_province(data_root), [c for c in UNITS_2023 if c != "872"]))
    later = make_run(conf={"districts": [c for c in UNITS_2023 if c != "872"]})
    record_task(later, PROVINCE_TASK, "success", province_result(write_province(data_root), []))
    block = province_block(client.get(run_url(first), headers=auth(viewer_token)).text)
    assert "complete: 12/12 units" in block and "every unit in force has its report" in block
    assert "province-missing" not in block
    assert f"written by run {later}, not by this run" in block and f"<code>{later}</code>" in block
    assert f"reports/{PROVINCE_SET}.xlsx" in links_of(block)
    block = province_block(client.get(run_url(later), headers=auth(viewer_token)).text)
    assert "complete: 12/12 units" in block and "not by this run" not in block
    # Files no recorded result matches: shown, with what they cover unknown rather than guessed.
    unrecorded = make_run(conf={"districts": ["872"]})
    write_province(data_root)
    block = province_block(client.get(run_url(unrecorded), headers=auth(viewer_token)).text)
    assert "written, coverage unknown" in block and "No recorded result of task consolidate_province" in block
    assert "Units covered" not in block and f"reports/{PROVINCE_SET}.docx" in links_of(block)


def test_a_missing_set_says_why(client: Any, make_run: Any, record_task: Any, data_root: Path,
                                viewer_token: str) -> None:
    def block_of(run_id: str) -> str:
        block = province_block(client.get(run_url(run_id), headers=auth(viewer_token)).text)
        assert "Consolidated report: not written" in block and block.count('class="missing">not written') == 3
        assert not [link for link in links_of(block) if "tong-hop" in link]
        return block

    failed = make_run()
    record_task(failed, PROVINCE_TASK, "failed")
    assert "consolidate_province of this run failed" in block_of(failed)
    nothing = make_run()
    record_task(nothing, PROVINCE_TASK, "success", province_result(None, UNITS_2023, warnings=[
        "87: no unit has its report for 2023-11: no consolidated report"]))
    assert "No unit had its report for 2023-11" in block_of(nothing)
    older = make_run()  # no task consolidate_province: a run of the DAG before it had one
    assert "a run of an earlier version of the DAG" in block_of(older)
    waiting = make_run()
    record_task(waiting, PROVINCE_TASK, None)
    assert "Not written yet" in block_of(waiting) and "state: not started" in block_of(waiting)
    skipped = make_run()
    record_task(skipped, PROVINCE_TASK, "skipped")
    assert "no unit was planned" in block_of(skipped)
    withdrawn = make_run(conf={"districts": ["872"]})
    written = write_province(data_root)
    record_task(withdrawn, PROVINCE_TASK, "success", province_result(written, UNITS_2023[1:]))
    for path in (written["docx"], written["pdf"], written["xlsx"]):
        path.unlink()
    assert "has been withdrawn since" in block_of(withdrawn)
    # A PDF and a workbook without their .docx are what an interrupted write left: neither listed nor served.
    write_province(data_root, docx=False)
    block_of(withdrawn)
    for kind in ("pdf", "xlsx"):
        response = client.get(run_url(withdrawn, f"reports/{PROVINCE_SET}.{kind}"), headers=auth(viewer_token))
        assert response.status_code == 404 and "was not written" in response.text


def test_province_files_with_their_content_types(client: Any, make_run: Any, record_task: Any, data_root: Path,
                                                 viewer_token: str) -> None:
    run_id = make_run(conf={"districts": ["872"]})
    written = write_province(data_root)
    record_task(run_id, PROVINCE_TASK, "success", province_result(written, UNITS_2023[1:]))
    docx = client.get(run_url(run_id, f"reports/{PROVINCE_SET}.docx"), headers=auth(viewer_token))
    assert docx.status_code == 200 and docx.content == written["docx"].read_bytes()
    assert docx.headers["content-type"] == DOCX and docx.headers["content-disposition"].startswith("attachment")
    assert f'filename="{PROVINCE_SET}.docx"' in docx.headers["content-disposition"]
    pdf = client.get(run_url(run_id, f"reports/{PROVINCE_SET}.pdf"), headers=auth(viewer_token))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["content-disposition"].startswith("inline")
    xlsx = client.get(run_url(run_id, f"reports/{PROVINCE_SET}.xlsx"), headers=auth(viewer_token))
    assert xlsx.status_code == 200 and xlsx.content == XLSX_BYTES
    assert xlsx.headers["content-type"] == XLSX == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert xlsx.headers["content-disposition"].startswith("attachment")
    assert f'filename="{PROVINCE_SET}.xlsx"' in xlsx.headers["content-disposition"]
    for response in (docx, pdf, xlsx):
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    # Only the set of the province in force for the run's period: not the marker the pipeline keeps beside it,
    # not another period's set, not another province's, not a name the pipeline does not write.
    reports = data_root / "reports"
    (reports / "2023-11" / f"{PROVINCE_SET}.announced.json").write_text('{"digest": "x"}')
    (reports / "2023-11" / "tong-hop-tthc-82-2023-11.docx").write_bytes(PROVINCE_DOCX)
    (reports / "2023-11" / f"{PROVINCE_SET}.xlsx.bak").write_bytes(XLSX_BYTES)
    write_province(data_root, period="2023-10")
    for name in (f"{PROVINCE_SET}.announced.json", "tong-hop-tthc-82-2023-11.docx", f"{PROVINCE_SET}.xlsx.bak",
                 "tong-hop-tthc-87-2023-10.docx", "tong-hop-tthc-87-2023-10.xlsx", f"{PROVINCE_SET}.csv",
                 f"{PROVINCE_SET.upper()}.DOCX", f"{PROVINCE_SET}.evidence.json", f"{PROVINCE_SET}",
                 "..%2F2023-10%2Ftong-hop-tthc-87-2023-10.docx"):
        response = client.get(run_url(run_id, f"reports/{name}"), headers=auth(viewer_token))
        assert response.status_code == 404, name
        assert PROVINCE_DOCX not in response.content and XLSX_BYTES not in response.content
    for escape in (f"reports/..%2F2023-10%2F{PROVINCE_SET[:-7]}2023-10.docx",
                   f"reports/%2e%2e/2023-10/{PROVINCE_SET[:-7]}2023-10.xlsx",
                   f"reports/../../reports/2023-10/{PROVINCE_SET[:-7]}2023-10.docx"):
        status, body = raw_get(client.app, run_url(run_id, escape), viewer_token)
        assert status in (400, 404), escape
        assert PROVINCE_DOCX not in body and XLSX_BYTES not in body
    page = client.get(run_url(run_id), headers=auth(viewer_token)).text
    assert not [link for link in links_of(page) if "announced" in link or "2023-10" in link or "-82-" in link]


def test_after_the_reform_the_set_and_its_units_are_the_new_provinces(
        client: Any, make_run: Any, record_task: Any, data_root: Path, viewer_token: str) -> None:
    """2025-08 is reported on Đồng Tháp (82) and its wards and communes: the names, the files, what is served."""
    run_id = make_run(period="2025-08", conf={"districts": ["28261"]})
    written = write_province(data_root, period="2025-08", code="82")
    record = province_result(written, ["28249", "28273"], units=102, period="2025-08")
    record["province"] = "82"
    record_task(run_id, PROVINCE_TASK, "success", record)
    html = client.get(run_url(run_id), headers=auth(viewer_token)).text
    assert "Period 2025-08" in html
    block = province_block(html)
    assert "Province: Tỉnh Đồng Tháp (82)" in block and "partial: 100/102 units" in block
    assert "Phường Đạo Thạnh (28249)" in block and "Phường Mỹ Phong (28273)" in block
    assert "reports/tong-hop-tthc-82-2025-08.xlsx" in links_of(block)
    xlsx = client.get(run_url(run_id, "reports/tong-hop-tthc-82-2025-08.xlsx"), headers=auth(viewer_token))
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    (data_root / "reports" / "2025-08" / "tong-hop-tthc-87-2025-08.docx").write_bytes(PROVINCE_DOCX)
    assert client.get(run_url(run_id, "reports/tong-hop-tthc-87-2025-08.docx"),
                      headers=auth(viewer_token)).status_code == 404


# ---------------------------------------------------------------- task instances


def test_task_instance_leads_to_its_district(client: Any, make_run: Any, data_root: Path, viewer_token: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = make_run(conf={"districts": ["874", "872"]})  # plan_run keeps the configuration's order: 872, 874
    ti = run_url(run_id, "tasks")

    def location(task_id: str, index: str) -> tuple[int, str]:
        response = client.get(f"{ti}/{task_id}/{index}", headers=auth(viewer_token))
        return response.status_code, response.headers.get("location", "")

    assert location("district.write_report", "0") == (307, "../../?district=872")
    assert location("district.validate", "1") == (307, "../../?district=874")
    assert location("plan_run", "-1") == (307, "../../")
    assert location("district.validate", "{MAP_INDEX}") == (307, "../../")  # the UI leaves it for unmapped tasks
    assert location("district.validate", "7")[0] == 404
    # The followed redirect lands on the district's row.
    landed = client.get(f"{ti}/district.validate/1", headers=auth(viewer_token), follow_redirects=True)
    assert landed.status_code == 200 and THANH_BINH in landed.text and 'id="district-872"' not in landed.text

    # plan_run's XCom decides when there is one (here: a plan in another order than the configuration's).
    from tthc_airflow import outputs

    plan = [{"code": "874", "label": THANH_BINH, "period": "2023-11"},
            {"code": "872", "label": THAP_MUOI, "period": "2023-11"}]
    monkeypatch.setattr(outputs, "_planned_units", lambda session, dag_id, run: plan)
    assert location("district.write_report", "0") == (307, "../../?district=874")


# ---------------------------------------------------------------- object storage


def test_object_storage_root_is_read_through_the_path_object(client: Any, make_run: Any, record_task: Any,
                                                             tmp_path: Path, viewer_token: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath(f"memory://tthc-ui-{tmp_path.name}/data")
    local = tmp_path / "staging"
    write_outputs(local)
    province = write_province(local)
    for file in local.rglob("*"):
        if file.is_file():
            target = root / file.relative_to(local).as_posix()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    monkeypatch.setenv("TTHC_DATA_ROOT", str(root))
    run_id = make_run(conf={"districts": ["872"]})
    record_task(run_id, PROVINCE_TASK, "success", province_result(province, UNITS_2023[1:]))
    html = client.get(run_url(run_id), headers=auth(viewer_token)).text
    assert "reports/bao-cao-tthc-872-2023-11.docx" in html and "quality/872/index.html" in html
    assert "partial: 1/12 units" in province_block(html)  # the set's digest read through the path object
    xlsx = client.get(run_url(run_id, f"reports/{PROVINCE_SET}.xlsx"), headers=auth(viewer_token))
    assert xlsx.content == XLSX_BYTES and xlsx.headers["content-type"] == XLSX
    docx = client.get(run_url(run_id, "reports/bao-cao-tthc-872-2023-11.docx"), headers=auth(viewer_token))
    assert docx.content == DOCX_BYTES and docx.headers["content-type"] == DOCX
    assert "bao-cao-tthc-872-2023-11.docx" in docx.headers["content-disposition"]
    page = client.get(run_url(run_id, "quality/872/index.html"), headers=auth(viewer_token))
    assert page.headers["content-type"] == "text/html; charset=utf-8" and "Passed" in page.text
    assert json.loads(client.get(run_url(run_id, "quality/872/dossiers.json"), headers=auth(viewer_token)).content)
