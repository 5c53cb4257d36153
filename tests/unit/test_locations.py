"""The data root's layout, spelled once in ``tthc.locations``: every name as the README documents it."""

from __future__ import annotations

from pathlib import PurePosixPath

from tthc.locations import DistrictFiles, parse_report_name, report_names, run_summary_path

FILES = DistrictFiles(PurePosixPath("/data"), "2023-11", "872")


def test_every_file_of_a_district_month_where_the_readme_says() -> None:
    quality = FILES.quality
    assert [str(p) for p in (
        FILES.landed("dossiers"), FILES.rejected("feedback"), quality.page, quality.summary,
        quality.results("metrics"), quality.quarantined("dossiers"), quality.clean("feedback"), FILES.evidence,
        FILES.run_summary, *FILES.report_set.values(),
    )] == [
        "/data/raw/2023-11/872/dossiers.parquet", "/data/raw/2023-11/872/feedback.rejected.json",
        "/data/quality/2023-11/872/index.html", "/data/quality/2023-11/872/summary.json",
        "/data/quality/2023-11/872/metrics.json", "/data/quality/2023-11/872/quarantine/dossiers.parquet",
        "/data/quality/2023-11/872/feedback.parquet", "/data/metrics/2023-11/872/evidence.json",
        "/data/reports/2023-11/run-summary.json", "/data/reports/2023-11/bao-cao-tthc-872-2023-11.docx",
        "/data/reports/2023-11/bao-cao-tthc-872-2023-11.pdf",
        "/data/reports/2023-11/bao-cao-tthc-872-2023-11.evidence.json",
    ]
    assert run_summary_path(PurePosixPath("/data"), "2023-11") == FILES.run_summary


def test_report_names_read_back() -> None:
    for kind, name in report_names("872", "2023-11").items():
        assert parse_report_name(name) == ("872", "2023-11", kind)
    for other in ("run-summary.json", "bao-cao-tthc-872-2023-11.json", "bao-cao-tthc-872-2023-11.docx.pdf",
                  "bao-cao-tthc-8721234-2023-11.docx", "x-bao-cao-tthc-872-2023-11.pdf"):
        assert parse_report_name(other) is None, other
