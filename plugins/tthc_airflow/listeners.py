"""Every run of ``tthc_monthly_report`` shown as its month: the run's note names the period it reports.

Registered by the plugin ``tthc`` (``TthcPlugin.listeners``). When a run without a note starts, its note
becomes ``Báo cáo tháng 11/2023 (kỳ 15/10/2023 – 14/11/2023)`` (``tthc_airflow.run_label``). A note a
person wrote (the trigger form's or REST's ``note``, or one added later) is never replaced; the label is
written without a user, so the UI shows it as nobody's.

Where Airflow 3.3.2 calls this, and why writing from there is safe:

- ``on_dag_run_running`` is called by the **scheduler** only (``SchedulerJobRunner._start_queued_dagruns``),
  for every run it moves from queued to running (scheduled, backfill, trigger form, REST), inside its
  scheduling transaction: the run's row is locked ``FOR UPDATE SKIP LOCKED`` and any commit other than
  the scheduler's own raises ("UNEXPECTED COMMIT"). So the note is written on that same transaction,
  committed with the run's start, never committed here. A second connection would wait on the
  scheduler's row lock (the note's foreign key) while the scheduler waits on this listener: a deadlock.
- The write is wrapped in a SAVEPOINT taken on the session's connection (not ``Session.begin_nested``,
  whose release fires the session's ``before_commit`` and trips the scheduler's commit guard). If it
  fails, only the savepoint is rolled back, the error is logged, and the scheduler's transaction and
  loop go on; the run simply has no label. Airflow also catches listener errors, but could not undo a
  failed statement in its transaction.
- It cannot race a person's note: inserting a note takes a key-share lock on the run's row (its foreign
  key), which conflicts with the scheduler's ``FOR UPDATE``. A note being written when the scheduler
  looks makes it skip the run (``SKIP LOCKED``) until the next loop, where the note is seen. A note saved
  in the very milliseconds the scheduler holds the run waits for its commit, then fails once on the
  label's row (the API server answers an error) and is saved when sent again: it replaces the label.
- ``airflow dags test`` creates its run already running, so the scheduler never starts it; its run gets
  the label when it ends (``on_dag_run_success``/``on_dag_run_failed``, called by ``DagRun.update_state``
  in ``dag.test``'s own session). Those hooks label only test runs: any other run was labelled when it
  started, and a note a person deleted since must stay deleted. ``dag.test`` keeps its run object
  outside any session, so the label is written in a short transaction of its own there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.listeners import hookimpl

from tthc_airflow import DAG_ID
from tthc_airflow.run_label import run_label

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

log = logging.getLogger(__name__)


def label_run(dag_run: DagRun, own_transaction_if_detached: bool = False) -> bool:
    """Give ``dag_run`` its month as note when it has none; True when written. Never raises.

    ``own_transaction_if_detached``: for a ``dags test`` run only, whose object ``dag.test`` keeps outside
    any session; nothing holds its row then, so a transaction of our own cannot wait on a lock of the
    caller's. Never for the scheduler's runs (see the module docstring).
    """
    if dag_run.dag_id != DAG_ID:
        return False
    try:
        label = run_label(dag_run.data_interval_start, dag_run.data_interval_end)
        if label is None:
            return False
        written = _insert_note_if_none(dag_run, label, own_transaction_if_detached)
        if written:
            log.info("run %s of %s: note set to %r", dag_run.run_id, dag_run.dag_id, label)
        return written
    except Exception:  # a missing label must never stop the scheduler
        log.exception("could not write the month label of run %s of %s", dag_run.run_id, dag_run.dag_id)
        return False


def _insert_note_if_none(dag_run: DagRun, label: str, own_transaction_if_detached: bool) -> bool:
    """Insert the note in a savepoint of the run's own session's transaction (see the module docstring)."""
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is not None:
        connection = session.connection()
        with connection.begin_nested():
            return _insert(connection, dag_run.id, label)
    if not own_transaction_if_detached:
        log.warning("run %s of %s is not attached to a session: no month label", dag_run.run_id, dag_run.dag_id)
        return False
    from airflow.utils.session import create_session

    with create_session() as own:  # commits on leaving, rolls back on an error
        return _insert(own.connection(), dag_run.id, label)


def _insert(connection: Any, dag_run_id: int, label: str) -> bool:
    """INSERT the label as the run's note unless it has one; no user (the UI shows it as nobody's)."""
    from airflow.models.dagrun import DagRunNote
    from sqlalchemy import insert, select

    table: Any = DagRunNote.__table__
    if connection.execute(select(table.c.dag_run_id).where(table.c.dag_run_id == dag_run_id)).first():
        return False
    connection.execute(insert(table).values(dag_run_id=dag_run_id, content=label, user_id=None))
    return True


def _is_test_run(dag_run: DagRun) -> bool:
    return str(getattr(dag_run.triggered_by, "value", dag_run.triggered_by)) == "test"


@hookimpl
def on_dag_run_running(dag_run: DagRun, msg: str) -> None:
    """The scheduler started the run: label it with its month."""
    label_run(dag_run)


@hookimpl
def on_dag_run_success(dag_run: DagRun, msg: str) -> None:
    """A ``dags test`` run ended (it never passed through the scheduler's start): label it now."""
    if _is_test_run(dag_run):
        label_run(dag_run, own_transaction_if_detached=True)


@hookimpl
def on_dag_run_failed(dag_run: DagRun, msg: str) -> None:
    """As ``on_dag_run_success``: a failed ``dags test`` run is named by its month too."""
    if _is_test_run(dag_run):
        label_run(dag_run, own_transaction_if_detached=True)
