"""Which failures are worth Airflow's task retries, and which must fail the task at once.

Why: a task retried after a wrong token, a bad request or invalid source data fails again the
same way, minutes later, hiding the message an operator needs behind retry noise. Such errors
become ``AirflowFailException`` (no retry); a source that was down keeps its retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException, AirflowTaskTimeout


def _permanent(exc: BaseException) -> bool:
    from tthc.config import ConfigError
    from tthc.delivery import DeliveryError
    from tthc.inputs import InputsError
    from tthc.landing import LandingError
    from tthc.metrics import DataError
    from tthc.periods import PeriodError
    from tthc.pipeline import SignOffError
    from tthc.records import RecordError
    from tthc.sources import SourceError
    from tthc.units import UnitsError

    if isinstance(exc, SourceError):
        return not exc.retryable
    return isinstance(exc, DataError | LandingError | RecordError | ConfigError | PeriodError | UnitsError
                      | InputsError | SignOffError | DeliveryError)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Run a step; a permanent error fails the task without retries, with the same message.

    A task stopped by its ``execution_timeout`` gets a message that names the setting, since Airflow's
    own says only that time ran out (it is still an ``AirflowTaskTimeout``: retried like any timeout).
    """
    try:
        yield
    except AirflowTaskTimeout as exc:
        raise AirflowTaskTimeout(
            f"{exc or 'timeout'}: the task ran longer than tasks.execution_timeout_minutes "
            "(include/config/pipeline.yaml); a source that answers too slowly, or a unit too large for "
            "that limit: raise it, or look at the log for the step that was running") from exc
    except Exception as exc:
        if _permanent(exc):
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
        raise
