"""A district's report set never disagrees with the warehouse, wherever the task process is killed.

A child Python process runs ``compute_metrics`` then ``write_report`` for Tháp Mười (872), November
2023, against a data root that holds the set and the warehouse rows of an earlier run with other
figures (20 dossiers then, 25 now). The child's script patches one write point to SIGKILL itself at its
Nth call: every ``atomic_write_bytes``, ``warehouse.replace_period``, every removal of a file under the
data root, and LibreOffice's start (the child dies while ``soffice`` converts). The points are counted by
a first run with counting patches; then each is killed in turn on a fresh copy of the data root, and
the parent checks that either the earlier set is there whole with its rows, or no report is (a .pdf or
evidence left without its .docx is allowed only from the same computation as the rows), and that a
normal rerun writes the complete new set. Nothing in the production code knows about this test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable
from tests.quality.conftest import CONFIG, PERIOD, UNIT, dossier, feedback, land
from tthc import pipeline, report, warehouse
from tthc.district_month import DistrictMonth

ROOT = Path(__file__).resolve().parents[2]
OLD_RUN, NEW_RUN = "run-old", "run-new"

CHILD = textwrap.dedent('''
    """Run compute_metrics and write_report for 872/2023-11, killing this process at one write point."""
    import json
    import os
    import pathlib
    import signal
    import subprocess
    import sys
    import time

    root, url, kind, nth = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])

    from tthc import pipeline, report, storage, warehouse
    import tthc.quality.district  # noqa: F401  (loaded now, so that the patch below reaches its name too)
    from tthc.config import load_config
    from tthc.district_month import DistrictMonth
    from tthc.periods import parse_period

    counts = {"write": 0, "replace_period": 0, "remove": 0, "soffice": 0}

    def hit(point):
        counts[point] += 1
        if point == kind and counts[point] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    original_write = storage.atomic_write_bytes

    def write(path, data):
        hit("write")
        return original_write(path, data)

    for module in list(sys.modules.values()):
        if getattr(module, "atomic_write_bytes", None) is original_write:
            module.atomic_write_bytes = write

    original_replace = warehouse.replace_period

    def replace_period(*args, **kwargs):
        hit("replace_period")
        return original_replace(*args, **kwargs)

    warehouse.replace_period = replace_period

    original_unlink = pathlib.Path.unlink

    def unlink(self, *args, **kwargs):
        if str(self).startswith(str(root)):
            hit("remove")
        return original_unlink(self, *args, **kwargs)

    pathlib.Path.unlink = unlink

    class Popen(subprocess.Popen):
        def __init__(self, args, *rest, **kwargs):
            super().__init__(args, *rest, **kwargs)
            if os.path.basename(str(args[0])) in ("soffice", "libreoffice"):
                if kind == "soffice" and counts["soffice"] + 1 == nth:
                    time.sleep(1.5)  # LibreOffice is converting now, in its own process group
                hit("soffice")

    subprocess.Popen = Popen

    config = load_config()
    month = DistrictMonth(config, parse_period("2023-11"), config.hierarchy_for("2023-11").get("872"), root, url)
    pipeline.compute_metrics(month, sys.argv[5])
    pipeline.write_report(month)
    print(json.dumps(counts))
''')


def url(root: Path) -> str:
    return f"sqlite:///{root / 'warehouse.db'}"


def month(root: Path) -> DistrictMonth:
    return DistrictMonth(CONFIG, PERIOD, UNIT, root, url(root))


def run_steps(root: Path, run_id: str) -> dict[str, Any]:
    pipeline.compute_metrics(month(root), run_id)
    return pipeline.write_report(month(root))


def run_child(script: Path, root: Path, kind: str, nth: int, run_id: str = NEW_RUN) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    return subprocess.run([sys.executable, str(script), str(root), url(root), kind, str(nth), run_id],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def rows(root: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    with warehouse.connected(url(root)) as engine:
        return (warehouse.dossier_rows(engine, PERIOD.name, UNIT.code),
                warehouse.feedback_row(engine, PERIOD.name, UNIT.code))


def agrees(evidence: dict[str, Any], root: Path) -> bool:
    """The evidence's figures are the warehouse rows' figures, row by row and field by field."""
    dossier_rows, feedback_row = rows(root)
    stored = {(r["level"], r["unit_code"]): r for r in dossier_rows}
    written = {(r["level"], r["unit_code"]): r for r in evidence["dossier_metrics"]}
    return (feedback_row is not None and stored.keys() == written.keys()
            and all(pipeline.same_figure(v, stored[k][name]) for k, row in written.items() for name, v in row.items())
            and all(pipeline.same_figure(v, feedback_row[name]) for name, v in evidence["feedback_metrics"].items()))


def comparable(evidence_bytes: bytes) -> dict[str, Any]:
    """The evidence without the one field that names the data root (the results page's path)."""
    evidence = json.loads(evidence_bytes)
    evidence["quality"].pop("results", None)
    return evidence


def snapshot(root: Path) -> dict[str, bytes]:
    return {kind: path.read_bytes() for kind, path in month(root).files.report_set.items() if path.exists()}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The data root before the run under test: the earlier run's set and rows, the new extracts validated.

    Also the new set a run without a crash writes from it (the reference), and the child's script.
    Validation (Great Expectations) runs here once; each case copies the folder.
    """
    base = tmp_path_factory.mktemp("crash")
    root = base / "before"
    land(root, [dossier(f"H87.872-231101-{i:04d}") for i in range(20)], [feedback("PA-1")])
    pipeline.validate_sources(month(root))
    written = run_steps(root, OLD_RUN)
    old = snapshot(root)
    summary = root / "reports" / PERIOD.name / "run-summary.json"  # as the earlier run's last task wrote it
    summary.write_text(json.dumps({"run_id": OLD_RUN, "reports_written": 1, "reports": [written["path"]]}))
    land(root, [dossier(f"H87.872-231101-{i:04d}") for i in range(25)], [feedback("PA-1"), feedback("PA-2")])
    pipeline.validate_sources(month(root))
    reference = base / "reference"
    shutil.copytree(root, reference)
    run_steps(reference, NEW_RUN)
    new = snapshot(reference)
    assert rows(root)[0] and next(r for r in rows(root)[0] if r["level"] == "tong")["received"] == 20
    assert next(r for r in rows(reference)[0] if r["level"] == "tong")["received"] == 25
    assert comparable(old["evidence"])["dossier_metrics"] != comparable(new["evidence"])["dossier_metrics"]
    script = base / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    return {"base": base, "root": root, "old": old, "new": new, "script": script,
            "pdf": report.find_soffice() is not None}


def check_after_kill(root: Path, prepared: dict[str, Any]) -> str:
    """What a reader finds now is consistent: "old" set whole with its rows, "new" set whole, or "none"."""
    files = month(root).files.report_set
    found = snapshot(root)
    intermediate = month(root).files.evidence
    if intermediate.exists():
        assert agrees(json.loads(intermediate.read_bytes()), root), "metrics evidence disagrees with the warehouse"
    if "evidence" in found:
        assert agrees(json.loads(found["evidence"]), root), "report evidence disagrees with the warehouse"
    if "pdf" in found:
        assert "evidence" in found, "a PDF without the evidence of its computation"
    assert not list(files["docx"].parent.glob(".*.tmp-*")), "a half-written file left in the reports folder"
    if "docx" not in found:
        assert not (files["docx"].parent / "run-summary.json").exists(), "a run summary lists a report that is gone"
        return "none"
    assert "evidence" in found and ("pdf" in found or not prepared["pdf"]), f"incomplete set: {sorted(found)}"
    if found == prepared["old"]:
        assert {r["run_id"] for r in rows(root)[0]} == {OLD_RUN}
        return "old"
    assert found["docx"] == prepared["new"]["docx"], "a .docx of neither run"
    assert comparable(found["evidence"]) == comparable(prepared["new"]["evidence"])
    assert found.keys() == prepared["new"].keys()
    return "new"


def rerun_and_check(root: Path, prepared: dict[str, Any]) -> None:
    """A normal run after the crash writes the complete new set and removes every leftover."""
    out = run_steps(root, NEW_RUN)
    found = snapshot(root)
    assert found["docx"] == prepared["new"]["docx"]
    assert comparable(found["evidence"]) == comparable(prepared["new"]["evidence"])
    assert agrees(json.loads(found["evidence"]), root)
    assert ("pdf" in found) == prepared["pdf"] and (out["pdf"] is not None) == prepared["pdf"]
    if prepared["pdf"]:
        assert found["pdf"][:5] == b"%PDF-"
    names = sorted(p.name for p in (root / "reports" / PERIOD.name).iterdir())  # the run summary comes at the end
    assert names == sorted(p.name for p in month(root).files.report_set.values() if p.exists())


@pytest.fixture(scope="module")
def counts(prepared: dict[str, Any]) -> dict[str, int]:
    """How many times the run calls each write point, from a child run with counting patches that kill nothing."""
    case = prepared["base"] / "count"
    shutil.copytree(prepared["root"], case)
    done = run_child(prepared["script"], case, "none", 0)
    assert done.returncode == 0, done.stderr[-3000:]
    assert check_after_kill(case, prepared) == "new"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_counting_run_finds_every_write_point(prepared: dict[str, Any], counts: dict[str, int]) -> None:
    assert counts["replace_period"] == 1 and counts["write"] >= 5 and counts["remove"] >= 4
    assert counts["soffice"] == (1 if prepared["pdf"] else 0)


def test_killed_at_every_write_point_leaves_old_set_or_none(prepared: dict[str, Any], counts: dict[str, int]) -> None:
    points = [(kind, n) for kind in ("write", "replace_period", "remove")
              for n in range(1, counts[kind] + 1)]
    outcomes = {}
    for kind, n in points:
        case = prepared["base"] / f"kill-{kind}-{n}"
        shutil.copytree(prepared["root"], case)
        done = run_child(prepared["script"], case, kind, n)
        assert done.returncode == -9, f"{kind} #{n} was not reached: {done.returncode} {done.stderr[-2000:]}"
        outcomes[f"{kind} #{n}"] = check_after_kill(case, prepared)
        rerun_and_check(case, prepared)
        shutil.rmtree(case)
    print(f"{len(points)} kill points: {outcomes}")
    assert "old" in outcomes.values() and "none" in outcomes.values()
    # The earlier set stays until the new figures are about to be stored; it is withdrawn before the rows change.
    assert outcomes["replace_period #1"] == "none"


def test_killed_during_conversion_leaves_no_profile_behind(prepared: dict[str, Any]) -> None:
    if not prepared["pdf"]:
        unavailable("LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui")
    case = prepared["base"] / "kill-soffice"
    shutil.copytree(prepared["root"], case)
    done = run_child(prepared["script"], case, "soffice", 1)
    assert done.returncode == -9, done.stderr[-2000:]
    assert check_after_kill(case, prepared) == "none"
    # The child's scratch folder (the .docx, LibreOffice's profile) outlived it: no finally runs on SIGKILL.
    # The pid is read from the folder's name, as the sweep does.
    left = [p for p in Path(tempfile.gettempdir()).glob(f"{report.SCRATCH_PREFIX}*")
            if not report.pdf._pid_alive(int(p.name.removeprefix(report.SCRATCH_PREFIX).split("-", 1)[0]))]
    assert left, "the killed child's scratch folder was expected to survive it"
    rerun_and_check(case, prepared)  # its conversion sweeps the folders of dead processes first
    assert not [p for p in left if p.exists()], "a dead process's LibreOffice profile survived the next conversion"
    assert not [pid for p in left for pid in report.pdf._processes_using(p)], "LibreOffice of a dead task still runs"
