"""Rerunning one district of a finished run, as the Airflow 3.3.2 UI asks the API server to, on real components.

The README's remedy for a failed district is to clear it and let the scheduler run it again: both sources
must be read again (not the extract already landed) and its report rewritten, while the other districts
of the run stay as they are. What the UI sends was read from its bundle (``airflow/ui/dist/assets``) and
captured from Chromium on ``airflow standalone``:

* selecting the five task instances of one district (one map index of group ``district``) in the run's or
  the group's Task Instances list and pressing **Clear Task Instances** sends ``task_ids`` as
  ``[task_id, map_index]`` pairs (below, :func:`district_clear_body`);
* the group's own **Clear** (Grid, group ``district``) has no map index at all: the dialog lists the group's
  task instances (``GET .../taskInstances?task_group_id=district``) and sends their bare ``task_id`` s,
  which the API server reads as every map index (:func:`group_clear_body`).

The simulator runs in this process (the harness's thread), so its requests are counted here, per source
and district.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator import server as simulator_server
from tests.scheduler.stack import DAG_ID, AirflowStack, wait_for
from tthc import warehouse

pytestmark = [pytest.mark.scheduler, pytest.mark.services]

DISTRICTS = ["872", "866"]
RERUN = "872"  # the district cleared and run again; 866 must not run again
PERIOD = "2023-11"
LOGICAL_DATE = "2023-11-01T03:00:00Z"  # 10:00 on 1 November, Vietnam time: inside 2023-11 [10-15, 11-15)
GROUP_TASKS = ["district.extract_dossiers", "district.extract_feedback", "district.validate",
               "district.compute_metrics", "district.write_report"]
# The group's other task: the step that keeps the office's inputs (the bundled configuration asks no office,
# so the form is not in the DAG). The README's rerun clears the five above; validate reads the kept inputs.
FORM_TASKS = ["district.record_inputs"]
# After the report, cleared with it (downstream): the report made final. Sign-off, its return to the form on
# Reject and delivery are not in the DAG: the bundled configuration signs off nothing and mails nothing.
REVISION: list[str] = []
AFTER_REPORT = ["district.finalize_report"]
# announce_province skips: two of twelve districts make no complete period, so nothing is announced.
SKIPPED = {"announce_province"}
# Downstream of every district: the province's consolidation and its announcement, then the run's summary.
AFTER_DISTRICTS = [("consolidate_province", -1), ("announce_province", -1), ("summarize", -1)]
SOURCES = {simulator_server.DOSSIERS_PATH: "dossiers", simulator_server.FEEDBACK_PATH: "feedback"}
RUN_TIMEOUT = 300
TERMINAL = ("success", "failed")


def district_clear_body(run_id: str, map_index: int, dry_run: bool) -> dict[str, Any]:
    """The body of the UI's Clear for the task instances selected in a Task Instances list (as captured)."""
    return {"dag_run_id": run_id, "dry_run": dry_run, "include_downstream": True, "include_future": False,
            "include_past": False, "include_upstream": False, "note": None, "only_failed": False,
            "prevent_running_task": True, "task_ids": [[task_id, map_index] for task_id in reversed(GROUP_TASKS)]}


def group_clear_body(stack: AirflowStack, run_id: str, dry_run: bool) -> dict[str, Any]:
    """The body of the group's Clear in the Grid: the bare task id of every task instance the group lists."""
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                       params={"task_group_id": "district"})["task_instances"]
    return {"dag_run_id": run_id, "dry_run": dry_run, "include_downstream": True, "include_future": False,
            "include_past": False, "include_upstream": False, "only_failed": False, "run_on_latest_version": False,
            "task_ids": [ti["task_id"] for ti in listed]}


@pytest.fixture(scope="module")
def source_requests() -> Iterator[Counter[tuple[str, str]]]:
    """Answered source requests per (source, district), counted as the in-process simulator logs them."""
    counts: Counter[tuple[str, str]] = Counter()
    original = simulator_server._Handler._log_request_line

    def counting(handler: Any) -> None:
        source = SOURCES.get(getattr(handler, "_route", ""))
        if source and handler._status == 200:
            params = handler._parse_query(handler._query) if handler._query else {}
            counts[source, params.get("district", "?")] += 1
        original(handler)

    simulator_server._Handler._log_request_line = counting  # type: ignore[method-assign,assignment]
    try:
        yield counts
    finally:
        simulator_server._Handler._log_request_line = original  # type: ignore[method-assign,assignment]


def task_instances(stack: AirflowStack, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    return {(ti["task_id"], ti["map_index"]): ti for ti in listed["task_instances"]}


def outputs(stack: AirflowStack, district: str) -> dict[str, int]:
    """mtime (ns) of the district's landed extracts and report files."""
    root = stack.data_root
    paths = [root / "raw" / PERIOD / district / f"{source}.parquet" for source in ("dossiers", "feedback")]
    paths += [root / "reports" / PERIOD / f"bao-cao-tthc-{district}-{PERIOD}{suffix}" for suffix in (".docx", ".pdf")]
    for path in paths:
        assert path.is_file(), f"missing {path}"
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in paths}


def wait_run_end(stack: AirflowStack, run_id: str, what: str,
                 done: Any = lambda tis: True) -> dict[tuple[str, int], dict[str, Any]]:
    def ended() -> dict[tuple[str, int], dict[str, Any]] | None:
        run = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        if run["state"] not in TERMINAL:
            return None
        tis = task_instances(stack, run_id)
        return tis if done(tis) else None

    return wait_for(what, ended, timeout=RUN_TIMEOUT, interval=3, alive=stack.check_alive)


@pytest.fixture(scope="module")
def first_run(airflow_stack: AirflowStack, source_requests: Counter[tuple[str, str]]) -> dict[str, Any]:
    """One run of 2023-11 for two districts, ended; what it asked the sources and wrote."""
    stack = airflow_stack
    # The warehouse tables exist before the districts run, as after any deployment's first run: on an empty
    # database the districts' parallel CREATE TABLE race (tthc.warehouse.engine_for), and the loser waits
    # for its retry. That is not what this test is about.
    warehouse.engine_for(stack.warehouse_url).dispose()
    started = time.monotonic()
    run = stack.api("POST", f"/dags/{DAG_ID}/dagRuns",
                    json={"logical_date": LOGICAL_DATE, "conf": {"districts": DISTRICTS}})
    run_id = run["dag_run_id"]
    tis = wait_run_end(stack, run_id, "the run of two districts to end")
    print(f"\n[rerun test] run of {DISTRICTS} ended in {time.monotonic() - started:.0f} s", flush=True)
    assert stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"] == "success", tis
    index = {d: ti["map_index"] for d in DISTRICTS for ti in tis.values()
             if ti["task_id"] == "district.write_report" and f"({d})" in (ti["rendered_map_index"] or "")}
    assert sorted(index) == sorted(DISTRICTS), index
    return {"run_id": run_id, "tis": tis, "index": index, "requests": Counter(source_requests),
            "outputs": {d: outputs(stack, d) for d in DISTRICTS}}


@pytest.fixture(scope="module")
def rerun(airflow_stack: AirflowStack, first_run: dict[str, Any],
          source_requests: Counter[tuple[str, str]]) -> dict[str, Any]:
    """District RERUN cleared as the UI's Task Instances list clears it; waits until it ran again."""
    stack, run_id, map_index = airflow_stack, first_run["run_id"], first_run["index"][RERUN]
    preview = stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances",
                        json=district_clear_body(run_id, map_index, dry_run=True))
    started = time.monotonic()
    cleared = stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances",
                        json=district_clear_body(run_id, map_index, dry_run=False))

    def ran_again(tis: dict[tuple[str, int], dict[str, Any]]) -> bool:
        return all(tis[t, map_index]["try_number"] == 2 for t in GROUP_TASKS)

    tis = wait_run_end(stack, run_id, f"district {RERUN} (map index {map_index}) to run again", ran_again)
    print(f"[rerun test] district {RERUN} ran again in {time.monotonic() - started:.0f} s", flush=True)
    return {"preview": preview, "cleared": cleared, "tis": tis, "requests": Counter(source_requests),
            "outputs": {d: outputs(stack, d) for d in DISTRICTS},
            "run": stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")}


def affected(answer: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((ti["task_id"], ti["map_index"]) for ti in answer["task_instances"])


def test_the_district_clear_targets_its_map_index_and_summarize_only(first_run: dict[str, Any],
                                                                     rerun: dict[str, Any]) -> None:
    map_index = first_run["index"][RERUN]
    want = sorted([(t, map_index) for t in GROUP_TASKS + AFTER_REPORT] + AFTER_DISTRICTS)
    assert affected(rerun["preview"]) == want
    assert affected(rerun["cleared"]) == want


def test_the_cleared_district_runs_again_and_no_other(first_run: dict[str, Any], rerun: dict[str, Any]) -> None:
    assert rerun["run"]["state"] == "success", rerun["run"]
    map_index = first_run["index"][RERUN]
    for (task_id, index), ti in rerun["tis"].items():
        again = (index == map_index and task_id in GROUP_TASKS + AFTER_REPORT) or (task_id, -1) in AFTER_DISTRICTS
        tries = 0 if task_id in REVISION else 2 if again else 1
        assert ti["try_number"] == tries, (task_id, index, ti["try_number"])
        assert ti["state"] == ("skipped" if task_id in SKIPPED else "success"), (task_id, index, ti["state"])


def test_the_sources_are_read_again_for_that_district_only(first_run: dict[str, Any], rerun: dict[str, Any]) -> None:
    before, after = first_run["requests"], rerun["requests"]
    for source in SOURCES.values():
        assert before[source, RERUN] > 0 and before[source, "866"] > 0, before
        # The same window, the same pages: every request of the first run made again, nothing for 866.
        assert after[source, RERUN] == 2 * before[source, RERUN], (source, before, after)
        assert after[source, "866"] == before[source, "866"], (source, before, after)
    # The landed extracts and the report are rewritten for that district, and only for it.
    assert all(rerun["outputs"][RERUN][p] > first_run["outputs"][RERUN][p] for p in first_run["outputs"][RERUN])
    assert rerun["outputs"]["866"] == first_run["outputs"]["866"]


def test_the_group_clear_of_the_grid_reruns_every_district(airflow_stack: AirflowStack, first_run: dict[str, Any],
                                                           rerun: dict[str, Any],
                                                           source_requests: Counter[tuple[str, str]]) -> None:
    """Airflow 3.3.2: the group ``district`` has one Clear per run, with no map index; it takes every district.

    The README's "clear its task group in the Grid (group ``district``, that district's map index)" cannot
    be done: the Grid offers no group instance per map index, and the group's Clear dialog ("Affected
    Tasks") lists every district of the run, then summarize. Confirmed, every district runs again.
    """
    stack, run_id, index = airflow_stack, first_run["run_id"], first_run["index"]
    every = sorted([(t, i) for t in GROUP_TASKS + FORM_TASKS + AFTER_REPORT for i in index.values()]
                   + AFTER_DISTRICTS)
    preview = stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances",
                        json=group_clear_body(stack, run_id, dry_run=True))
    assert affected(preview) == every
    requests_before = Counter(source_requests)
    cleared = stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances",
                        json=group_clear_body(stack, run_id, dry_run=False))
    assert affected(cleared) == every
    tries = {RERUN: 3, "866": 2}  # 872 was cleared once already

    def all_ran_again(tis: dict[tuple[str, int], dict[str, Any]]) -> bool:
        return all(tis[t, index[d]]["try_number"] == tries[d] for t in GROUP_TASKS for d in DISTRICTS)

    tis = wait_run_end(stack, run_id, "every district to run again after the group clear", all_ran_again)
    assert all(ti["state"] == ("skipped" if task_id in SKIPPED else "success")
               for (task_id, _), ti in tis.items()), tis
    assert tis["plan_run", -1]["try_number"] == 1
    for source in SOURCES.values():
        for district in DISTRICTS:
            assert source_requests[source, district] == requests_before[source, district] + first_run["requests"][
                source, district], (source, district)


def test_no_component_died_and_the_logs_are_clean(airflow_stack: AirflowStack, rerun: dict[str, Any]) -> None:
    for component in airflow_stack.components.values():
        assert component.alive(), f"{component.name} exited with {component.process.returncode}"
        text = Path(component.log).read_text(encoding="utf-8", errors="replace")
        assert "database is locked" not in text, component.name
        for crash in ("Exception when executing SchedulerJob._run_scheduler_loop",
                      "Exception when executing DagProcessorJob"):
            assert crash not in text, f"{component.name}: {crash}"
