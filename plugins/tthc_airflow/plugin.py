"""The Airflow plugin of the pipeline: the reporting timetable, the run outputs in the UI, the runs' month labels.

- ``timetables``: registers ``ReportingPeriodTimetable`` so DAGs using it can be serialized.
- ``fastapi_apps``: the outputs app (``tthc_airflow.outputs``) mounted on the API server at ``/tthc``;
  every route requires read access to the DAG through Airflow's own login.
- ``external_views``: a tab on each DAG run page ("Reports & quality") and on each task instance page
  ("District outputs") showing that app in the UI's iframe.
- ``listeners``: ``tthc_airflow.listeners`` gives each run of ``tthc_monthly_report`` its month as note
  (``Báo cáo tháng 11/2023 (kỳ 15/10/2023 – 14/11/2023)``) when it starts, unless a person wrote one.
  Cheap to import here (Airflow's ``hookimpl`` and the pure label function); it acts in the scheduler.

Why the app is wrapped in ``_LazyApp``: every Airflow component (scheduler, DAG processor, triggerer,
workers) imports this plugin for its timetable, and the outputs app needs the API server's security
module (about half a second of imports). Only the API server ever serves a request, so the app's module is
imported there, on the first request, and nowhere else.

Why ``url_route`` on both views and ``href`` without a leading slash: the 3.3 UI shows a view on a run or
task instance page only when it has a ``url_route`` (as a tab rendering ``href`` in an iframe); the UI's
page has ``<base href>`` set to the API server's base URL, so a relative ``href`` follows the deployment's
base path. Views cannot be limited to one DAG: on other DAGs' runs the tab says which DAG it is for.
"""

from __future__ import annotations

import importlib
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from tthc_airflow import listeners as run_labels
from tthc_airflow.timetable import ReportingPeriodTimetable

URL_PREFIX = "/tthc"  # also tthc_airflow.outputs.URL_PREFIX, not imported here to keep this module cheap
RUN_VIEW_HREF = "tthc/dags/{DAG_ID}/runs/{RUN_ID}/"
TASK_VIEW_HREF = "tthc/dags/{DAG_ID}/runs/{RUN_ID}/tasks/{TASK_ID}/{MAP_INDEX}"


class _LazyApp:
    """An ASGI app that imports ``module``'s ``app`` when the first request arrives, then hands every request to it."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._app: Any = None

    @property
    def app(self) -> Any:
        if self._app is None:
            self._app = importlib.import_module(self.module).app
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


outputs_app = _LazyApp("tthc_airflow.outputs")


class TthcPlugin(AirflowPlugin):
    name = "tthc"
    timetables = [ReportingPeriodTimetable]  # noqa: RUF012 (Airflow reads class attributes)
    listeners = [run_labels]  # noqa: RUF012
    fastapi_apps = [{"app": outputs_app, "url_prefix": URL_PREFIX, "name": "TTHC run outputs"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {"name": "Reports & quality", "href": RUN_VIEW_HREF, "destination": "dag_run",
         "url_route": "tthc-run-outputs", "category": "tthc"},
        {"name": "District outputs", "href": TASK_VIEW_HREF, "destination": "task_instance",
         "url_route": "tthc-district-outputs", "category": "tthc"},
    ]
