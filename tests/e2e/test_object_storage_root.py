"""A whole month on an ``s3://`` data root: no step may assume that the tasks of a run share a disk.

Starts moto's S3 server on loopback (the S3 API, as MinIO serves it to the compose deployment), gives it
to Airflow as an ``aws`` connection through ``AIRFLOW_CONN_TTHC_DATA``, sets
``TTHC_DATA_ROOT=s3://tthc_data@<bucket>/`` and runs the DAG with ``dag.test()`` for two districts, as
the local-disk end-to-end test does. Then reads the bucket back through boto3, not through the
pipeline's own paths: every report set (.docx, .pdf, evidence), the quality folders (results page, GX
results, findings), the metrics evidence, the province's set and the run summary are there, the
figures are the independent computation's (``tests.e2e.oracle``) as in a local run, no temporary
object is left, and nothing was written to a local disk in place of the bucket.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_monthly_report_e2e import HIERARCHY, PERIOD, assert_record_ids, expected, stored, workbook_total
from tthc.numbers import fmt_count

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DISTRICTS = ["872", "866"]
CONN_ID, BUCKET, GATE_BUCKET = "tthc_data", "tthc-data", "tthc-gate"
KEYS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret", "region_name": "us-east-1"}


class Bucket:
    """The test's view of the bucket: boto3 against the moto server, independent of the pipeline's paths."""

    def __init__(self, endpoint: str, name: str = BUCKET) -> None:
        import boto3

        self.client, self.name = boto3.client("s3", endpoint_url=endpoint, **KEYS), name

    def keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())

    def json(self, key: str) -> Any:
        return json.loads(self.read(key).decode("utf-8"))


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the bucket; its endpoint URL. Stopped after."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name in (BUCKET, GATE_BUCKET):
            Bucket(endpoint).client.create_bucket(Bucket=name)
        yield endpoint
    finally:
        server.stop()


def local_files(folder: Path) -> set[str]:
    """Files under ``folder``, relative, but what Airflow writes there whatever the data root: task logs and
    its SQLite metadata database (with its write-ahead log)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and not p.relative_to(folder).as_posix().startswith(("logs/", "airflow.db"))}


def docx_text(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    return "\n".join(parts + [cell.text for table in document.tables for row in table.rows for cell in row.cells])


@pytest.fixture
def s3_connection(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``aws`` connection ``tthc_data`` to the moto server, in the shape docker-compose.yaml gives MinIO's."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({
        "conn_type": "aws", "login": KEYS["aws_access_key_id"], "password": KEYS["aws_secret_access_key"],
        "extra": {"endpoint_url": s3_server, "region_name": KEYS["region_name"],
                  "config_kwargs": {"s3": {"addressing_style": "path"}}}}))
    return s3_server


def test_a_month_on_an_s3_data_root(run_dag: Any, s3_connection: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    s3_server = s3_connection
    home = Path(os.environ["AIRFLOW_HOME"])
    local_root = Path(os.environ["TTHC_DATA_ROOT"])  # the session's local data root, which must stay untouched
    monkeypatch.setenv("TTHC_DATA_ROOT", f"s3://{CONN_ID}@{BUCKET}/")
    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.db'}"  # its own: the local run's rows must not count here
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", warehouse_url)
    before = local_files(home), local_files(local_root) if local_root.exists() else set()

    run = run_dag(PERIOD.start, {"period": PERIOD.name, "districts": DISTRICTS})
    assert run.state == "success"

    bucket = Bucket(s3_server)
    keys = set(bucket.keys())
    name = PERIOD.name
    pdf = shutil.which("soffice") is not None or shutil.which("libreoffice") is not None
    for district in DISTRICTS:
        stem = f"reports/{name}/bao-cao-tthc-{district}-{name}"
        quality = f"quality/{name}/{district}"
        wanted = {f"{stem}.docx", f"{stem}.evidence.json", f"raw/{name}/{district}/dossiers.parquet",
                  f"raw/{name}/{district}/feedback.parquet", f"{quality}/index.html", f"{quality}/summary.json",
                  f"{quality}/dossiers.parquet", f"{quality}/feedback.parquet", f"{quality}/dossiers.json",
                  f"{quality}/feedback.json", f"{quality}/metrics.json", f"metrics/{name}/{district}/evidence.json"}
        assert wanted <= keys, sorted(wanted - keys)
        assert (f"{stem}.pdf" in keys) == pdf
        if pdf:
            assert bucket.read(f"{stem}.pdf").startswith(b"%PDF")

        # The figures are the independent computation's, in the warehouse and in the report read from the bucket.
        want_rows, want_feedback = expected(district)
        got_rows, got_feedback = stored(warehouse_url, district)
        assert set(got_rows) == set(want_rows)
        for key, want in want_rows.items():
            assert {n: got_rows[key][n] for n in want} == want, f"{district} {key}"
        assert {n: got_feedback[n] for n in want_feedback} == want_feedback
        text = docx_text(bucket.read(f"{stem}.docx"))
        assert f"tiếp nhận {fmt_count(want_feedback['feedback_received'])} phản ánh" in text
        assert HIERARCHY.get(district).name.upper() in text
        assert_record_ids(bucket.json(f"{stem}.evidence.json"), bucket.read, district, want_rows, want_feedback)
        assert bucket.json(f"{quality}/summary.json")["blocked"] is False
        assert "<html" in bucket.read(f"{quality}/index.html").decode("utf-8").lower()

    # The province's set and the run summary, which name their files by the bucket's URLs.
    province = f"reports/{name}/tong-hop-tthc-87-{name}"
    assert {f"{province}.docx", f"{province}.xlsx"} <= keys and (f"{province}.pdf" in keys) == pdf
    summary = bucket.json(f"reports/{name}/run-summary.json")
    assert summary["reports_written"] == 2 and summary["missing"] == []
    assert summary["province"]["workbook"] == f"s3://{CONN_ID}@{BUCKET}/{province}.xlsx"
    totals = workbook_total(io.BytesIO(bucket.read(f"{province}.xlsx")))
    figures = [{**rows["tong", d], **feedback} for d in DISTRICTS for rows, feedback in [expected(d)]]
    for metric in ("received", "resolved", "pending_overdue", "feedback_received"):
        assert totals[metric] == sum(f[metric] for f in figures), metric
    assert totals["reported"] == f"2/{len(HIERARCHY.reporting_units)}"

    # Objects only, each written once: no temporary object, no folder marker left behind.
    assert not [k for k in keys if ".tmp-" in k or k.endswith("/")]
    # Nothing went to a local disk instead: not the local data root, not the Airflow home, not a folder "s3:".
    after = local_files(home), local_files(local_root) if local_root.exists() else set()
    assert after[0] - before[0] == set() and after[1] - before[1] == set()
    assert not (ROOT / "s3:").exists() and not (Path.cwd() / "s3:").exists() and not (home / "s3:").exists()


def test_quarantine_block_and_leftovers_on_s3(s3_connection: str, tmp_path: Path) -> None:
    """The gate's quarantine, its removal when a later extract blocks, and leftover temporary objects, on S3.

    The month above is clean; this drives the quality gate itself on records the simulator never serves: one
    quarantined dossier, then a blocking extract, which must take the report, the clean extracts and the
    quarantine folder out of the bucket. A hidden temporary object beside a report (left by a writer of an
    earlier version, killed midway) goes with the report it belongs to.
    """
    from airflow.sdk import ObjectStoragePath

    from tests.quality.conftest import CONFIG, UNIT, dossier, feedback
    from tests.quality.conftest import PERIOD as GATE_PERIOD
    from tthc import pipeline
    from tthc.district_month import DistrictMonth
    from tthc.landing import land_dossiers, land_feedback
    from tthc.quality import QualityError

    bucket = Bucket(s3_connection, GATE_BUCKET)
    month = DistrictMonth(CONFIG, GATE_PERIOD, UNIT, ObjectStoragePath(f"s3://{CONN_ID}@{GATE_BUCKET}/"),
                          f"sqlite:///{tmp_path / 'warehouse.db'}")
    files, name = month.files, GATE_PERIOD.name
    land_dossiers(files.landed("dossiers"), [dossier("a"), dossier("b", NgayHenTra=None)])
    land_feedback(files.landed("feedback"), [feedback("f")])
    assert pipeline.validate_sources(month)["quarantined"] == {"dossiers": 1, "feedback": 0}
    quality = f"quality/{name}/{UNIT.code}"
    assert {f"{quality}/quarantine/dossiers.parquet", f"{quality}/dossiers.parquet"} <= set(bucket.keys())
    pipeline.compute_metrics(month, "run")
    assert "Passed with 1 quarantined" in bucket.read(f"{quality}/index.html").decode("utf-8")

    report = f"reports/{name}/bao-cao-tthc-{UNIT.code}-{name}.docx"
    leftover = f"reports/{name}/.bao-cao-tthc-{UNIT.code}-{name}.docx.tmp-0123abcd"
    for key in (report, leftover):
        bucket.client.put_object(Bucket=GATE_BUCKET, Key=key, Body=b"stale")
    land_dossiers(files.landed("dossiers"), [dossier(f"x{i}", NgayHenTra=None) for i in range(4)])
    with pytest.raises(QualityError):
        pipeline.validate_sources(month)
    keys = set(bucket.keys())
    assert not {report, leftover, f"{quality}/dossiers.parquet", f"metrics/{name}/{UNIT.code}/evidence.json"} & keys
    assert not [key for key in keys if key.startswith(f"{quality}/quarantine/")]
    assert f"{quality}/index.html" in keys and bucket.json(f"{quality}/summary.json")["blocked"]
    assert not [key for key in keys if ".tmp-" in key or key.endswith("/")]
