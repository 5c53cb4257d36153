"""Airflow settings that free a task slot as soon as its task process ends: every deployment of ours uses them.

Why: in Airflow 3.3 the supervisor of a task process (the LocalExecutor's worker, a Celery worker's pool
process) watches the process's sockets and, between two heartbeats to the API server, sleeps in ``select``
for up to ``[workers] min_heartbeat_interval`` seconds (default 5). The task process closes its sockets a
moment before it exits; when the supervisor looks before the exit, it finds no socket left to wait on and
sleeps the whole interval while the slot stays taken and the next task waits
(``airflow/sdk/execution_time/supervisor.py``, ``_monitor_subprocess``). Measured here with the month's
shape and tasks that do nothing (the orchestration floor of ``scripts/bench.py --month``, twelve districts,
88 task processes, 2 slots): the run under the scheduler took 74 s, about one task process in five losing
those 5 s; with a 1 s interval, 31 s.

The cost: each running task's supervisor calls the API server's heartbeat once a second instead of once
every five (a small PUT; a few tens of slots make a few tens of calls a second). ``max_failed_heartbeats``
grows with it so that a task still outlives an API server that is away for about 15 s, as with the
defaults (3 × 5 s), instead of being killed after 3 s.

Read by ``scripts/run_month.py`` and the scheduler tests' components; ``docker-compose.yaml`` sets the same
values (``tests/test_deployment_files.py`` checks them). An operator's own setting wins everywhere.
"""

from __future__ import annotations

HEARTBEAT_INTERVAL_S = 1
# Tolerance of an unreachable API server kept at Airflow's default: 3 failed heartbeats × 5 s.
FAILED_HEARTBEATS = 15 // HEARTBEAT_INTERVAL_S

SETTINGS: dict[str, str] = {
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL_S),
    "AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS": str(FAILED_HEARTBEATS),
}


def with_turnaround(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``SETTINGS`` added where it does not set them already (the operator's values stand)."""
    return {**SETTINGS, **env}
