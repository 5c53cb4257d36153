"""The host name Airflow records for a task instance, as ``[core] hostname_callable`` of the test's Celery workers.

Every worker of a test runs on this one machine; each gets its own name in ``TTHC_TEST_WORKER_NAME`` so the
task instances say which worker ran them (``tests.scheduler.stack.start_celery_worker``). Any other process
keeps the machine's name.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("TTHC_TEST_WORKER_NAME") or socket.getfqdn()
