"""Speed and memory of each domain stage of one district-month at three sizes, each beside its floor.

Why a script and these floors: speed depends on the machine, so a benchmark prints figures an engineer
compares across changes, while tests assert behaviour. A figure alone says little; beside it stands what
the same work costs at least, measured in the same run on the same machine, and their ratio:

- ``extract``: the two extract tasks (``pipeline.extract_dossiers``/``extract_feedback``) over HTTP against
  the simulator, which runs in its own process (a real source system is on another host) and serves the
  synthetic month. No floor: it is the floor of validation.
- ``landing``: the connector's Arrow table -> Parquet (``tthc.landing.land_table``), floor: ``pq.write_table``
  of the same records, without the contract's type checks.
- ``validate``: ``pipeline.validate_sources`` as the validate task runs it (GX already imported, as in a
  task process after its first district); floor: the extraction it checks (the issue's target:
  validation <= extraction).
- ``metrics``: what ``compute_metrics`` computes: read the clean extracts, per-record flags and the rows of
  every level; floor: a pyarrow read, vectorised ``pd.to_datetime(format=...)``, the same flags and one
  group-by, checked to give the same 14 counts per handling unit.
- ``compute step``: the whole ``compute_metrics`` step (computation, metrics suite, results page, evidence,
  warehouse); no floor.
- ``docx``: the ``write_report`` step without its PDF (warehouse rows, context, chart, template, publish);
  floor: an empty template rendered by the same function (``report.render_report``).
- ``docx, new process``: the same step in a new interpreter with Airflow's SDK already imported, as a task
  process runs it (the report's imports count: every task is a new process); floor: the empty template
  rendered in a new interpreter the same way.
- ``pdf``: one conversion of that .docx as the pipeline makes it, by the host's shared LibreOffice (started
  and waited for first); floor: the empty .docx the same way.
- ``pdf, own start``: the same with ``TTHC_PDF_SHARED_LIBREOFFICE=0`` (a LibreOffice started for the
  conversion, as every unit did before); floor: the empty .docx the same way (LibreOffice's start).

The month is synthetic and deterministic: the simulator's records of Huyện Cao Lãnh (873) for period
2023-11 (5,157 dossiers, 22 feedback items, exactly the shape of docs/sources.md, personal data
included), sampled evenly below that size and repeated above it, each copy as the simulator's ``--scale`` makes it
(``simulator/scale.py``: its own ids, its times moved by a second per copy within their day, so that
parsing meets distinct values as with real data and every count is the original's). Feedback keeps
the simulator's ratio to dossiers. Sizes: ``--size`` and its 1/10 and 1/100. Seconds are the best of
``--repeat`` runs; memory is the process's resident set: its peak during the stage (``VmHWM``, reset
before each stage through ``/proc/self/clear_refs``) and that peak above the resident set at the stage's
start.

A whole month is measured with ``--month``: the DAG through ``scripts/run_month.py --use-executor`` (under
the scheduler with its LocalExecutor, as a deployment runs it; parallelism one task per core, PostgreSQL when
one answers) against the simulator at ``--scale`` (every
window served that many times), beside its floor: a plain script that pages through the same units'
pages and computes the month's counts with pandas, checked to read the same number of dossiers, and
the orchestration floor: a no-op DAG of the same shape (``scripts/bench_dags/tthc_noop_month.py``: the same
units, task ids, dependencies, trigger rules and skips, tasks that do nothing) run the same way, checked to
start and skip the same task instances. A month of many small units is bounded by Airflow's cost per task
start; that run shows the bound, and the line after the table gives it per started task instance.

    python scripts/bench.py [--size 100000] [--repeat 2] [--no-pdf]
    python scripts/bench.py --month 2023-11 --scale 22        # twelve districts, 1,021,922 dossiers
    python scripts/bench.py --month 2026-11 --scale 2         # 102 communes and wards
    make bench
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

DISTRICT = "873"
PERIOD = "2023-11"
ONE_STOP_TOKEN = "sim-one-stop-token"
HOTLINE_KEY = "sim-hotline-key"


# ---- the synthetic month ---------------------------------------------------------------------------


def _base(active_from: date, active_to: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from simulator import data

    return (data.dossiers_in_window(DISTRICT, active_from, active_to),
            data.feedback_in_window(DISTRICT, active_from, active_to))


def _pick(records: list[dict[str, Any]], n: int) -> list[tuple[int, dict[str, Any]]]:
    """``n`` (copy number, record) pairs: whole copies of ``records``, then an even sample of the rest."""
    whole, rest = divmod(n, len(records)) if records else (0, 0)
    picked = [(copy, record) for copy in range(whole) for record in records]
    picked += [(whole, records[i * len(records) // rest]) for i in range(rest)] if rest else []
    return picked


def synthetic_month(dossiers: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The raw records (as the systems send them) of a month of ``dossiers`` dossiers; same size, same records."""
    from simulator.scale import copy_dossier, copy_feedback
    from tthc.periods import parse_period

    period = parse_period(PERIOD)
    base_d, base_f = _base(period.start_date, period.end_date)
    out_d = [copy_dossier(record, copy) for copy, record in _pick(base_d, dossiers)]
    out_f = [copy_feedback(item, copy)
             for copy, item in _pick(base_f, max(1, round(dossiers * len(base_f) / len(base_d))))]
    out_d.sort(key=lambda r: r["MaHoSo"])  # the contract's order
    out_f.sort(key=lambda r: r["id"])
    return out_d, out_f


def serve(dossiers: int) -> None:
    """Child process: the simulator serving the synthetic month for the bench's district and window."""
    from simulator import data, server
    from tthc.periods import parse_period

    period = parse_period(PERIOD)
    window = (DISTRICT, period.start_date, period.end_date)
    month_d, month_f = synthetic_month(dossiers)
    real_d, real_f = data.dossiers_in_window, data.feedback_in_window

    def dossiers_in_window(district: str, start: date, end: date, units: Any = None) -> list[dict[str, Any]]:
        return month_d if (district, start, end) == window else real_d(district, start, end, units)

    def feedback_in_window(district: str, start: date, end: date, units: Any = None) -> list[dict[str, Any]]:
        return month_f if (district, start, end) == window else real_f(district, start, end, units)

    data.dossiers_in_window = dossiers_in_window  # type: ignore[assignment]
    data.feedback_in_window = feedback_in_window  # type: ignore[assignment]
    httpd = server.make_server("127.0.0.1", 0, quiet=True)
    print(f"http://127.0.0.1:{httpd.server_address[1]}", flush=True)
    httpd.serve_forever(poll_interval=0.1)


@contextmanager
def simulator(dossiers: int) -> Iterator[str]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(dossiers)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the simulator did not start (exit {child.poll()})")
        yield url
    finally:
        child.terminate()
        child.wait(timeout=30)


@contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


# ---- measuring -------------------------------------------------------------------------------------


def _status_mib(key: str) -> float:
    match = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


@dataclass
class Run:
    seconds: float
    peak_mib: float
    extra_mib: float


def measure(fn: Callable[[], Any]) -> tuple[Run, Any]:
    """Time ``fn`` and its memory: the resident set's peak during the call and that peak above its start."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident set
    before = _status_mib("VmRSS")
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    peak = _status_mib("VmHWM")
    return Run(seconds, peak, peak - before), result


@dataclass
class Stage:
    name: str
    records: int | None  # what records/s counts; None when the stage does not depend on the records
    runs: list[Run] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    floor_of: str | None = None  # the stage whose time is this one's floor

    def best(self) -> Run:
        return min(self.runs, key=lambda r: r.seconds)


# ---- the floors ------------------------------------------------------------------------------------


def landing_floor(dossiers: Any, feedback: Any) -> None:
    """The extracts' tables written as Parquet in memory: no file, no atomic rename."""
    import pyarrow.parquet as pq

    for table in (dossiers, feedback):
        pq.write_table(table, io.BytesIO(), compression="zstd")


def metrics_floor(dossiers_path: Path, feedback_path: Path, start: datetime, end: datetime) -> Any:
    """The 14 counts per handling unit (and the 8 feedback counts) with the least work pandas allows."""
    import pyarrow.parquet as pq

    return floor_counts(pq.read_table(dossiers_path).to_pandas(), pq.read_table(feedback_path).to_pandas(),
                        start, end)


def floor_counts(frame: Any, items: Any, start: datetime, end: datetime) -> Any:
    """The counts of ``metrics_floor`` from frames with the landed columns (``LePhi`` flattened)."""
    import pandas as pd

    start_n, end_n = pd.Timestamp(start.replace(tzinfo=None)), pd.Timestamp(end.replace(tzinfo=None))

    def compact(name: str) -> pd.Series:  # naive local time: Asia/Ho_Chi_Minh has no transition since 1975
        return pd.to_datetime(frame[name], format="%Y%m%d%H%M%S", errors="coerce")

    received, due, ended = compact("NgayTiepNhan"), compact("NgayHenTra"), compact("NgayKetThucXuLy")
    status = frame["TrangThaiHoSo"]
    accepted = ~status.isin([1, 3])
    open_end = ended.isna() | (ended >= end_n)
    flags = pd.DataFrame(index=frame.index)
    flags["received"] = accepted & (received >= start_n) & (received < end_n)
    flags["received_online"] = flags["received"] & (frame["KenhThucHien"] == 2)
    flags["carried_over"] = accepted & (received < start_n) & (ended.isna() | (ended >= start_n))
    ended_in = (ended >= start_n) & (ended < end_n)
    resolved = status.isin([9, 10]) & ended_in
    flags["resolved"] = resolved
    flags["resolved_early"] = resolved & (ended.dt.normalize() < due.dt.normalize())
    flags["resolved_on_time"] = resolved & ~flags["resolved_early"] & (ended <= due)
    flags["resolved_late"] = resolved & (ended > due)
    flags["withdrawn"] = status.isin([7, 8]) & ended_in
    flags["pending"] = accepted & (received < end_n) & open_end
    flags["pending_overdue"] = flags["pending"] & (due < end_n)
    flags["digitized_dossiers"] = flags["received"] & frame["SoHoaHoSo"].fillna(False)
    flags["digitized_results"] = resolved & frame["SoHoaKetQua"].fillna(False)
    flags["fee_dossiers"] = flags["received"] & frame["LePhi_present"] & (frame["LePhi_SoTien"].fillna(0) > 0)
    flags["paid_online"] = flags["fee_dossiers"] & frame["LePhi_ThanhToanTrucTuyen"].fillna(False)
    counts = flags.groupby(frame["MaDonVi"]).sum()

    times = {name: pd.to_datetime(items[name], format="ISO8601", utc=True) for name in
             ("received_at", "due_at", "answered_at")}
    in_period = (times["received_at"] >= start) & (times["received_at"] < end)
    answered, open_items = items["status"] == "answered", ~items["status"].isin(["answered", "rejected"])
    late = in_period & answered & (times["answered_at"] > times["due_at"])
    overdue = in_period & open_items & (times["due_at"] < end)
    feedback = {"feedback_received": in_period.sum(), "feedback_late": (late | overdue).sum()}
    return counts, feedback


def check_floor(counts: Any, rows: list[dict[str, Any]], unit_code: str) -> None:
    """The floor must compute the same figures, or it is not the floor of this work."""
    from tthc.metrics import DOSSIER_COUNTS

    by_unit = {r["unit_code"]: r for r in rows if r["level"] == "commune"}
    by_unit[unit_code] = next(r for r in rows if r["level"] == "huyen")
    for code, row in by_unit.items():
        got = {name: int(counts.loc[code, name]) if code in counts.index else 0 for name in DOSSIER_COUNTS}
        want = {name: row[name] for name in DOSSIER_COUNTS}
        if got != want:
            raise AssertionError(f"the metrics floor disagrees for unit {code}: {got} != {want}")


def empty_template(folder: Path) -> Path:
    from docx import Document

    path = folder / "empty.docx"
    Document().save(str(path))
    return path


# ---- the stages of one size -------------------------------------------------------------------------


FRESH = """
import json, re, sys, time
from pathlib import Path
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/plugins"]
import airflow.sdk  # noqa: F401  a task process has it loaded before its step runs
def kib(key):
    found = re.search(key + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text())
    return int(found.group(1)) if found else float("nan")
before = kib("VmRSS")
started = time.perf_counter()
if sys.argv[2] == "empty":
    from tthc.report import render_report
    render_report(Path(sys.argv[3]), {}, Path(sys.argv[4]))
else:
    from tthc import pipeline
    from tthc.config import load_config
    from tthc.district_month import DistrictMonth
    from tthc.periods import parse_period
    from tthc.report import pdf
    pdf.find_soffice = lambda: None
    config = load_config()
    period = parse_period(sys.argv[5], config.schedule.convention)
    month = DistrictMonth(config, period, config.unit_for(sys.argv[6], period), Path(sys.argv[3]),
                          "sqlite:///" + sys.argv[4])
    pipeline.write_report(month)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak": kib("VmHWM") / 1024, "extra": (kib("VmHWM") - before) / 1024}))
"""


def fresh_process(kind: str, source: Path, target: Path) -> Run:
    """The write_report step (``kind="docx"``: ``source`` the data root, ``target`` the warehouse file) or the empty
    template's render (``"empty"``: template, output) in a new interpreter, timed from after Airflow's import."""
    done = subprocess.run([sys.executable, "-c", FRESH, str(ROOT), kind, str(source), str(target), PERIOD, DISTRICT],
                          capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(figures["seconds"], figures["peak"], figures["extra"])


def shared_ready(docx: bytes) -> None:
    """Convert once and wait for the host's shared LibreOffice, so that ``pdf`` times a handed-over conversion."""
    from tthc.report import pdf

    pdf.pdf_bytes(docx, "warm-up.docx")
    folder = pdf.shared_folder()
    deadline = time.monotonic() + 90
    while folder is not None and pdf.running_instance(folder) is None and time.monotonic() < deadline:
        time.sleep(0.2)


def bench_size(dossiers: int, repeat: int, with_pdf: bool, work: Path) -> tuple[list[Stage], dict[str, Any]]:
    from tthc import metrics, pipeline, report
    from tthc.config import load_config
    from tthc.district_month import DistrictMonth
    from tthc.landing import land_table, read_landed
    from tthc.periods import parse_period
    from tthc.quality.checks import DOSSIERS, FEEDBACK
    from tthc.report import pdf
    from tthc.report.pdf import find_soffice, pdf_bytes
    from tthc.sources import RetryPolicy, fetch_dossiers, fetch_feedback

    config = load_config()
    period = parse_period(PERIOD, config.schedule.convention)
    unit = config.unit_for(DISTRICT, period)
    root = work / f"root-{dossiers}"
    month = DistrictMonth(config, period, unit, root, f"sqlite:///{work / f'wh-{dossiers}.db'}")
    policy = RetryPolicy(max_attempts=3, backoff_initial_seconds=0.1, backoff_max_seconds=1)
    with_pdf = with_pdf and find_soffice() is not None
    empty = empty_template(work)
    stages = {name: Stage(name, records) for name, records in (
        ("extract", 1), ("landing", 1), ("validate", 1), ("metrics", 1), ("compute step", 1), ("docx", None),
        ("pdf", None), ("pdf, own start", None))}
    fresh = Stage("docx, new process", None)  # printed in a table of its own
    stages["validate"].floor_of = "extract"
    info: dict[str, Any] = {}
    with simulator(dossiers) as url:
        extracted: dict[str, Any] = {}

        def d_fetch(code: str, start: date, end: date) -> Any:
            extracted[DOSSIERS] = fetch_dossiers(url, ONE_STOP_TOKEN, code, start, end, policy=policy)
            return extracted[DOSSIERS]

        def f_fetch(code: str, start: date, end: date) -> Any:
            extracted[FEEDBACK] = fetch_feedback(url, HOTLINE_KEY, code, start, end, policy=policy)
            return extracted[FEEDBACK]

        def one_round(number: int) -> None:
            """Every stage once, in the pipeline's order (each reads what the one before wrote)."""
            run, _ = measure(lambda: (pipeline.extract_dossiers(month, d_fetch),
                                      pipeline.extract_feedback(month, f_fetch)))
            stages["extract"].runs.append(run)
            records_d, records_f = extracted[DOSSIERS].table, extracted[FEEDBACK].table
            info["dossiers"], info["feedback"] = records_d.num_rows, records_f.num_rows
            for stage in stages.values():
                if stage.records is not None:
                    stage.records = records_d.num_rows + records_f.num_rows
            scratch = work / "landing"
            scratch.mkdir(exist_ok=True)
            run, _ = measure(lambda: (land_table(scratch / "d.parquet", records_d),
                                      land_table(scratch / "f.parquet", records_f)))
            stages["landing"].runs.append(run)
            stages["landing"].floors.append(measure(lambda: landing_floor(records_d, records_f))[0].seconds)

            run, summary = measure(lambda: pipeline.validate_sources(month))
            stages["validate"].runs.append(run)
            info["quarantined"] = summary["quarantined"]

            clean = month.files.quality.clean

            def compute() -> tuple[list[dict[str, Any]], dict[str, Any]]:
                d_flags = metrics.dossier_flags(read_landed(clean(DOSSIERS)), unit, period)
                f_flags = metrics.feedback_flags(read_landed(clean(FEEDBACK)), period)
                return (metrics.dossier_metrics(d_flags, unit, period),
                        metrics.feedback_metrics(f_flags, unit, period))

            run, (rows, feedback_row) = measure(compute)
            stages["metrics"].runs.append(run)
            floor_run, (counts, floor_feedback) = measure(
                lambda: metrics_floor(clean(DOSSIERS), clean(FEEDBACK), period.start, period.end))
            stages["metrics"].floors.append(floor_run.seconds)
            check_floor(counts, rows, unit.code)
            if floor_feedback != {k: feedback_row[k] for k in floor_feedback}:
                raise AssertionError(f"the metrics floor disagrees on feedback: {floor_feedback} != {feedback_row}")

            run, _ = measure(lambda: pipeline.compute_metrics(month, "bench"))
            stages["compute step"].runs.append(run)

            def render() -> bytes:  # the write_report step with its PDF left out (timed on its own below)
                with patched(pdf, "find_soffice", lambda: None):
                    return Path(pipeline.write_report(month)["path"]).read_bytes()

            run, docx = measure(render)
            stages["docx"].runs.append(run)
            stages["docx"].floors.append(
                measure(lambda: report.render_report(empty, {}, work / "empty-out.docx"))[0].seconds)
            fresh.runs.append(fresh_process("docx", root, work / f"wh-{dossiers}.db"))
            fresh.floors.append(fresh_process("empty", empty, work / "empty-new.docx").seconds)
            if with_pdf and number == 0:  # one conversion per size: LibreOffice's cost does not vary with records
                shared_ready(docx)
                run, _ = measure(lambda: pdf_bytes(docx, "report.docx"))
                stages["pdf"].runs.append(run)
                stages["pdf"].floors.append(measure(lambda: pdf_bytes(empty.read_bytes(), "empty.docx"))[0].seconds)
                saved = os.environ.get(pdf.SHARED_ENV)
                os.environ[pdf.SHARED_ENV] = "0"
                try:
                    run, _ = measure(lambda: pdf_bytes(docx, "report.docx"))
                    stages["pdf, own start"].runs.append(run)
                    stages["pdf, own start"].floors.append(
                        measure(lambda: pdf_bytes(empty.read_bytes(), "empty.docx"))[0].seconds)
                finally:
                    os.environ.pop(pdf.SHARED_ENV)
                    if saved is not None:
                        os.environ[pdf.SHARED_ENV] = saved

        for number in range(repeat):
            one_round(number)
    for stage in stages.values():
        if stage.floor_of:
            stage.floors = [stages[stage.floor_of].best().seconds]
    info["docx, new process"] = fresh
    return [s for s in stages.values() if s.runs], info


# ---- a whole month of a province: the DAG against its floor ----------------------------------------------


def _raw_frames(records: list[dict[str, Any]], items: list[dict[str, Any]]) -> tuple[Any, Any]:
    """Frames of raw records with ``LePhi`` flattened as landing flattens it, for ``floor_counts``."""
    import pandas as pd

    frame = pd.DataFrame(records)
    fee = frame.pop("LePhi") if "LePhi" in frame else pd.Series([None] * len(frame))
    frame["LePhi_present"] = fee.notna()
    frame["LePhi_SoTien"] = [f.get("SoTien") if isinstance(f, dict) else None for f in fee]
    frame["LePhi_ThanhToanTrucTuyen"] = [bool(f.get("ThanhToanTrucTuyen")) if isinstance(f, dict) else False
                                         for f in fee]
    return frame, pd.DataFrame(items, columns=["id", "status", "received_at", "due_at", "answered_at"])


def warm_simulator(url: str, codes: list[str], period: Any) -> None:
    """Ask the simulator for one record of each unit's windows, so that no timed run pays for building them.

    Why: the simulator builds and caches a (unit, window) the first time it is asked; without this the floor,
    timed first, paid that for every unit and the DAG after it did not, which flattered the ratio.
    """
    import requests

    with requests.Session() as session:
        for code in codes:
            session.get(f"{url}/api/v1/dossiers", params={"district": code, "active_from": str(period.start_date),
                                                         "active_to": str(period.end_date), "page": 1,
                                                         "page_size": 1},
                        headers={"Authorization": f"Bearer {ONE_STOP_TOKEN}"}, timeout=600).raise_for_status()
            session.get(f"{url}/api/v2/feedback", params={"district": code, "received_from": str(period.start_date),
                                                         "received_to": str(period.end_date), "limit": 1},
                        headers={"X-API-Key": HOTLINE_KEY}, timeout=600).raise_for_status()


def plain_month(url: str, codes: list[str], period: Any) -> dict[str, int]:
    """The floor of a whole month: bare HTTP paging of every unit's pages, then vectorised counts per unit."""
    import requests

    session, totals = requests.Session(), {"dossiers": 0, "feedback": 0, "received": 0}
    window: dict[str, Any] = {"active_from": str(period.start_date), "active_to": str(period.end_date)}
    for code in codes:
        records, page = [], 1
        while True:
            body = session.get(f"{url}/api/v1/dossiers", params={"district": code, **window, "page": page,
                                                                  "page_size": 1000},
                               headers={"Authorization": f"Bearer {ONE_STOP_TOKEN}"}, timeout=120).json()
            records += body["data"]
            if page >= body["total_pages"]:
                break
            page += 1
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"district": code, "received_from": str(period.start_date),
                                  "received_to": str(period.end_date), "limit": 500}
        while True:
            body = session.get(f"{url}/api/v2/feedback", params=params, headers={"X-API-Key": HOTLINE_KEY},
                               timeout=120).json()
            items += body["items"]
            if not body["next_cursor"]:
                break
            params["cursor"] = body["next_cursor"]
        counts, _ = floor_counts(*_raw_frames(records, items), period.start, period.end)
        totals["dossiers"] += len(records)
        totals["feedback"] += len(items)
        totals["received"] += int(counts["received"].sum())
    return totals


@contextmanager
def scaled_simulator(scale: int) -> Iterator[tuple[str, int]]:
    """The bundled simulator serving every window ``scale`` times (``python -m simulator --scale``), own process;
    its URL and process id."""
    child = subprocess.Popen([sys.executable, "-m", "simulator", "--port", "0", "--quiet", "--scale", str(scale)],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the simulator did not start (exit {child.poll()})")
        yield line.strip().rsplit(" ", 1)[-1], child.pid
    finally:
        child.terminate()
        child.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BENCH_DATABASES = "tthc_bench"  # run_month's PostgreSQL databases for the bench: tthc_bench_airflow, _warehouse
NOOP_DATABASES = "tthc_bench_noop"  # those of the orchestration floor's run (the no-op DAG)
NOOP_DAGS = ROOT / "scripts" / "bench_dags"  # outside dags/: production never loads the no-op DAG
NOOP_DAG_ID = "tthc_noop_month"
NOOP_UNITS_ENV = "TTHC_NOOP_UNITS"  # read by the no-op's plan_run (scripts/bench_dags/tthc_noop_month.py)
NOOP_STEPS_ENV = "TTHC_NOOP_STEPS"  # the office's steps the real DAG has (tthc.config.OfficeSteps), for its shape


def _postgres_server() -> str:
    return os.environ.get("TTHC_STANDALONE_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _drop_bench_databases(prefix: str = BENCH_DATABASES) -> None:
    """A month's bench starts from empty databases (not the developer's ``make standalone`` ones)."""
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(_postgres_server(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            for name in (f"{prefix}_airflow", f"{prefix}_warehouse"):
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
    except Exception as exc:  # no server: run_month falls back to SQLite, one task at a time
        print(f"no PostgreSQL for the bench's databases ({type(exc).__name__})", flush=True)


def _run_month(period_name: str, home: Path, url: str, databases: str, executor: bool, districts: list[str],
               extra: list[str] | None = None, env: dict[str, str] | None = None) -> float:
    """``scripts/run_month.py`` for the period against the sources at ``url``; its wall seconds (it must succeed)."""
    command = [sys.executable, str(ROOT / "scripts" / "run_month.py"), "--period", period_name, "--home",
               str(home), "--source-url", url, "--databases", databases,
               *(["--use-executor"] if executor else []),
               *(["--districts", *districts] if districts else []), *(extra or [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the month's run ({' '.join(command[2:])}) failed:\n{done.stdout[-4000:]}\n"
                           f"{done.stderr[-2000:]}")
    return seconds


@dataclass
class TaskStarts:
    """What the scheduler did with a run's task instances, from its Airflow metadata database."""

    started: int  # task instances a worker process ran (the task runner reported its pid)
    skipped_unstarted: int  # skipped by the scheduler without a process (upstream skipped, trigger rule)
    run_seconds: float  # the DAG run's own time, its creation to its end (no db migrate, no API server start)
    profile: dict[tuple[str, str, bool], int]  # (task id, state, started) -> task instances


def task_starts(databases: str, dag_id: str) -> TaskStarts | None:
    """The run of ``dag_id`` in ``<databases>_airflow`` (the bench's only run there); None without PostgreSQL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(_postgres_server()).set(database=f"{databases}_airflow")
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            rows: list[Any] = list(conn.execute(text("select task_id, state, pid is not null, count(*) "
                                                     "from task_instance where dag_id = :dag group by 1, 2, 3"),
                                                {"dag": dag_id}))
            # run_after (the run's creation), not start_date: a `dags test` run's start_date is its logical date.
            seconds = conn.execute(text("select extract(epoch from max(end_date) - min(run_after)) from dag_run "
                                        "where dag_id = :dag"), {"dag": dag_id}).scalar()
        engine.dispose()
    except Exception as exc:  # SQLite fallback: the figures are not kept where this looks
        print(f"no task instances of {dag_id} in {url.database} ({type(exc).__name__})", flush=True)
        return None
    profile = {(task_id, state, bool(started)): int(count) for task_id, state, started, count in rows}
    return TaskStarts(started=sum(n for (_, _, started), n in profile.items() if started),
                      skipped_unstarted=sum(n for (_, state, started), n in profile.items()
                                            if state == "skipped" and not started),
                      run_seconds=float(seconds or 0.0), profile=profile)


def noop_month(period: Any, units: list[dict[str, str]], complete: bool, url: str, executor: bool,
               districts: list[str], work: Path) -> float:
    """The orchestration floor: the no-op DAG of the same shape (``scripts/bench_dags``), run as the real one is.

    Why through ``run_month.py`` too: the same executor, parallelism, API server, PostgreSQL, ``db migrate`` of a
    new database and the scheduler, so what differs from the real run's time is the tasks' work alone. Its units
    are the real run's (``tthc.pipeline.plan`` for the same period and districts), passed in the environment.
    """
    from tthc.config import load_config

    _drop_bench_databases(NOOP_DATABASES)
    env = {**os.environ, NOOP_UNITS_ENV: json.dumps({"units": units, "complete": complete}),
           NOOP_STEPS_ENV: json.dumps(asdict(load_config().office_steps()))}
    return _run_month(period.name, work / "airflow-home-noop", url, NOOP_DATABASES, executor, districts,
                      ["--dags-folder", str(NOOP_DAGS), "--dag-id", NOOP_DAG_ID], env)


def bench_month(period_name: str, scale: int, districts: list[str], executor: bool, work: Path,
                orchestration_floor: bool = True) -> list[str]:
    """The whole DAG for a period (``scripts/run_month.py``) against the simulator at ``scale``, beside its floors:
    the plain script's (the work without orchestration) and the no-op DAG's (the orchestration without the work)."""
    from tthc import pipeline
    from tthc.config import load_config
    from tthc.locations import run_summary_path
    from tthc.periods import parse_period

    config = load_config()
    period = parse_period(period_name, config.schedule.convention)
    every = [unit.code for unit in config.hierarchy_for(period).reporting_units]
    codes = districts or every
    units = pipeline.plan(config, period, districts)  # what the real plan_run returns for this run
    home = work / "airflow-home"
    _drop_bench_databases()
    noop_seconds: float | None = None
    with scaled_simulator(scale) as (url, simulator_pid):
        warm_simulator(url, codes, period)  # every unit's windows built before anything is timed
        served = cpu_seconds(simulator_pid)
        floor_run, totals = measure(lambda: plain_month(url, codes, period))
        served, floor_served = cpu_seconds(simulator_pid), cpu_seconds(simulator_pid) - served
        seconds = _run_month(period.name, home, url, BENCH_DATABASES, executor, districts)
        run_served = cpu_seconds(simulator_pid) - served
        if orchestration_floor:
            noop_seconds = noop_month(period, units, {u["code"] for u in units} >= set(every), url, executor,
                                      districts, work)
    summary = json.loads(run_summary_path(home / "tthc-data", period.name).read_text(encoding="utf-8"))
    if summary["dossiers_read"] != totals["dossiers"]:
        raise AssertionError(f"the run read {summary['dossiers_read']} dossiers, the floor {totals['dossiers']}")
    if summary["districts"] != len(units):
        raise AssertionError(f"the run reported {summary['districts']} unit(s), the no-op plans {len(units)}")
    records = totals["dossiers"] + totals["feedback"]
    how = "the scheduler with its LocalExecutor" if executor else "serial (`dags test`)"
    lines = [f"Period {period.name}, {len(codes)} unit(s), simulator at scale {scale}: {totals['dossiers']:,} "
             f"dossiers and {totals['feedback']:,} feedback items; {summary['reports_written']} report(s); {how}.\n",
             "| run | seconds | records/s | floor s | ratio |", "|---|---:|---:|---:|---:|",
             f"| whole DAG, every output | {seconds:.1f} | {records / seconds:,.0f} | {floor_run.seconds:.1f} | "
             f"{seconds / floor_run.seconds:.2f}× |",
             f"| plain script (floor: paging + counts) | {floor_run.seconds:.1f} | "
             f"{records / floor_run.seconds:,.0f} | — | — |",
             "", f"The simulator (a stand-in for source systems on other hosts, here on the same cores) used "
             f"{floor_served:.1f} CPU seconds serving the plain script's pages and {run_served:.1f} serving the "
             "DAG's."]
    if noop_seconds is None:
        return lines
    lines.append(f"| orchestration floor (no-op DAG, same shape and executor) | {noop_seconds:.1f} | — | — | — |")
    real, noop = task_starts(BENCH_DATABASES, "tthc_monthly_report"), task_starts(NOOP_DATABASES, NOOP_DAG_ID)
    if real is None or noop is None:
        return lines
    if real.profile != noop.profile:  # another shape would not be this DAG's floor
        differ = sorted(set(real.profile.items()) ^ set(noop.profile.items()))
        raise AssertionError(f"the no-op DAG's task instances differ from the real run's: {differ}")
    # Each task process holds a core (parallelism = cores), so wall × cores / starts is what one start costs at most.
    cores = int(os.environ.get("AIRFLOW__CORE__PARALLELISM", os.cpu_count() or 1)) if executor else 1
    lines += ["", f"Task instances: {noop.started} started a process and {noop.skipped_unstarted} were skipped by the "
              "scheduler without one, in the real run and the no-op alike (task id, state and start of each "
              "compared).",
              f"Per started task instance (wall × {cores} core(s) / {noop.started}): no-op "
              f"{noop_seconds * cores / noop.started:.2f} s, real run {seconds * cores / real.started:.2f} s. "
              f"The DAG runs alone (creation to end in the metadata, without `db migrate` and the API server's "
              f"start): no-op {noop.run_seconds:.1f} s, {noop.run_seconds * cores / noop.started:.2f} s per start; "
              f"real {real.run_seconds:.1f} s, {real.run_seconds * cores / real.started:.2f} s per start."]
    return lines


# ---- the report --------------------------------------------------------------------------------------


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    found = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    memory = int(found.group(1)) / 1024 / 1024 if found else float("nan")
    import pandas as pd
    import pyarrow as pa

    return (f"{cpu}, {os.cpu_count()} CPUs available ({len(os.sched_getaffinity(0))} to this process), "
            f"{memory:.0f} GiB RAM; {platform.system()} {platform.release()}; Python {platform.python_version()}, "
            f"pandas {pd.__version__}, pyarrow {pa.__version__}")


def table(results: dict[int, list[Stage]]) -> list[str]:
    lines = ["| stage | dossiers | seconds | records/s | peak RSS MiB | +MiB | floor s | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size, stages in results.items():
        for stage in stages:
            best = stage.best()
            rate = f"{stage.records / best.seconds:,.0f}" if stage.records else "—"
            floor = min(stage.floors) if stage.floors else None
            lines.append(f"| {stage.name} | {size:,} | {best.seconds:.3f} | {rate} | {best.peak_mib:.0f} | "
                         f"{best.extra_mib:+.0f} | {'—' if floor is None else f'{floor:.3f}'} | "
                         f"{'—' if not floor else f'{best.seconds / floor:.2f}×'} |")
    return lines


def growth(results: dict[int, list[Stage]]) -> list[str]:
    sizes = sorted(results)
    steps = list(itertools.pairwise(sizes))
    lines = ["| stage | " + " | ".join(f"{a:,} → {b:,}" for a, b in steps) + " |",
             "|---|" + "---:|" * len(steps)]
    for name in [s.name for s in results[sizes[-1]]]:
        cells = []
        for a, b in steps:
            ta = next((s.best().seconds for s in results[a] if s.name == name), None)
            tb = next((s.best().seconds for s in results[b] if s.name == name), None)
            cells.append("—" if not ta or tb is None else f"×{tb / ta:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="dossiers of the largest month (also 1/10, 1/100)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per stage and size; the best is shown")
    parser.add_argument("--no-pdf", action="store_true", help="skip the LibreOffice conversion")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--month", metavar="YYYY-MM",
                        help="instead: the whole DAG for this period against the simulator at --scale, with its floor")
    parser.add_argument("--scale", type=int, default=1, help="with --month: the simulator's --scale (default 1)")
    parser.add_argument("--districts", nargs="*", default=[], help="with --month: these units only (default: all)")
    parser.add_argument("--serial", action="store_true", help="with --month: `dags test` without the executor")
    parser.add_argument("--no-orchestration-floor", action="store_true",
                        help="with --month: skip the no-op DAG of the same shape (Airflow's own time)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    print(f"machine: {machine()}", flush=True)
    started = time.perf_counter()
    if args.month:
        with tempfile.TemporaryDirectory(prefix="tthc-bench-month-") as tmp:
            print("\n".join(bench_month(args.month, args.scale, args.districts, not args.serial, Path(tmp),
                                         not args.no_orchestration_floor)))
        print(f"\nbench took {time.perf_counter() - started:.0f} s")
        return
    from tthc.quality.runner import GxSession

    gx_import = GxSession().import_seconds  # once per task process: not part of any district's validation
    sizes = sorted({max(1, args.size // 100), max(1, args.size // 10), args.size})
    results: dict[int, list[Stage]] = {}
    infos: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tthc-bench-") as tmp:
        for size in sizes:
            results[size], infos[size] = bench_size(size, args.repeat, not args.no_pdf, Path(tmp))
            print(f"  {size:,} dossiers: {infos[size]['dossiers']:,} dossiers and {infos[size]['feedback']:,} "
                  f"feedback items extracted, quarantined {infos[size]['quarantined']}", flush=True)
    print(f"\nDistrict {DISTRICT}, period {PERIOD}, synthetic month; best of {args.repeat}; GX import "
          f"{gx_import:.2f} s once per task process (not counted); records/s counts dossiers + feedback items.\n")
    print("\n".join(table(results)))
    print("\nThe docx stage in a new interpreter with Airflow's SDK imported, as a task process runs it (its imports "
          "count); floor: the empty template rendered the same way:\n")
    print("\n".join(table({size: [infos[size]["docx, new process"]] for size in sizes})))
    print("\nGrowth of each stage's time when the month grows tenfold (×10 is linear):\n")
    print("\n".join(growth(results)))
    print(f"\nbench took {time.perf_counter() - started:.0f} s")
    if args.json:
        figures = {str(size): [{"stage": s.name, "best": s.best().__dict__, "records": s.records,
                                "floor": min(s.floors) if s.floors else None} for s in stages]
                   for size, stages in results.items()}
        fresh = {str(size): {"best": infos[size]["docx, new process"].best().__dict__,
                             "floor": min(infos[size]["docx, new process"].floors)} for size in sizes}
        args.json.write_text(json.dumps({"machine": machine(), "sizes": figures, "docx_new_process": fresh}, indent=1))


if __name__ == "__main__":
    main()
