"""One way to declare a task of the mapped task group ``district``: ``@district_task(config)`` on a step.

Why: each task of a district's month (extract dossiers, extract feedback, validate, compute metrics,
write the report) did the same things before its one line of work: show the district's name on its map
index, parse the period and look the unit up from the dict ``plan_run`` sent through XCom, find the data
root and the warehouse, and run the step under ``fail_fast`` so that a permanent error skips the
retries. Written out five times they drifted (the steps took their arguments in four orders). Here they
are done once, in one order, and a task's body says only which step it runs on the district's month
(``tthc.district_month.DistrictMonth``):

    @district_task(CONFIG, retries=3)
    def extract_dossiers(month: DistrictMonth) -> dict[str, Any]:
        # a docstring here: the task's doc in the UI
        return pipeline.extract_dossiers(month, OneStopHook().fetcher(month.config.extraction))

How it wraps Airflow's ``@task``: ``@task`` takes the task id from the function's ``__name__``, the task's
doc (shown in the UI) from its docstring, and what the task is called and mapped with from its
signature. So ``@task`` gets a new function, ``run(unit)``, with the group's argument (the dict of
``plan_run``) as its signature and the step's name and docstring. It is deliberately not marked as a
wrapper of the step (no ``__wrapped__``): ``inspect.signature``, which Airflow uses, would follow that
to the step and see ``(month)`` instead of ``(unit)``. The task pushes one XCom, the step's dict
(``multiple_outputs=False``: the run summary and the outputs pages read it whole).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from airflow.sdk import get_current_context, task

from tthc_airflow.errors import fail_fast

if TYPE_CHECKING:
    from airflow.sdk.bases.decorator import Task

    from tthc.config import PipelineConfig
    from tthc.district_month import DistrictMonth

MAP_INDEX_KEY = "district_label"  # put in each task's context; the map index shows it
MAP_INDEX_TEMPLATE = "{{ " + MAP_INDEX_KEY + " }}"

Step: TypeAlias = Callable[["DistrictMonth"], dict[str, Any]]  # a pipeline step on the month, returning its XCom
DistrictTask: TypeAlias = "Task[[dict[str, str]], dict[str, Any]]"  # called (and mapped) with plan_run's dict


def district_month(config: PipelineConfig, unit: dict[str, str]) -> DistrictMonth:
    """The district's month from ``plan_run``'s dict (``code``, ``label``, ``period``) and this worker's context.

    The one place a task builds it. Only the small dict travels through XCom; the data root and the
    warehouse come from where the task runs (``TTHC_DATA_ROOT``, connection ``tthc_warehouse``), so a
    task rerun after a connection is fixed uses the fixed one.
    """
    from tthc.district_month import DistrictMonth
    from tthc.periods import parse_period
    from tthc_airflow.hooks import data_root, warehouse_url

    root = data_root()
    period = parse_period(unit["period"], config.schedule.convention)
    return DistrictMonth(config=config, period=period, unit=config.unit_for(unit["code"], period), root=root,
                         warehouse_url=warehouse_url())


def district_task(config: PipelineConfig, **task_options: Any) -> Callable[[Step], DistrictTask]:
    """Declare a task of the group ``district`` that runs ``step`` on the district's month.

    ``task_options`` go to ``@task`` as they are (e.g. ``retries``). The task: shows the district's name
    on its map index, builds the month (``district_month``), runs the step under ``fail_fast`` (a
    permanent error fails without retries, also one met while building the month), and returns the
    step's dict as its single XCom.
    """

    def declare(step: Step) -> DistrictTask:
        def run(unit: dict[str, str]) -> dict[str, Any]:
            get_current_context()[MAP_INDEX_KEY] = unit["label"]  # type: ignore[literal-required]
            with fail_fast():
                return step(district_month(config, unit))

        run.__name__ = step.__name__  # the task id
        run.__qualname__ = step.__qualname__  # the callable's name in the serialized DAG
        run.__doc__ = step.__doc__  # the task's doc in the UI
        run.__module__ = step.__module__
        return task(map_index_template=MAP_INDEX_TEMPLATE, multiple_outputs=False, **task_options)(run)

    return declare


def sibling_result(task_id: str) -> Any:
    """The XCom of task ``task_id`` of the running task's group, same map index; None when it pushed none
    (skipped)."""
    ti = get_current_context()["ti"]
    group = ti.task_id.rpartition(".")[0]
    return ti.xcom_pull(task_ids=f"{group}.{task_id}" if group else task_id, map_indexes=ti.map_index)
