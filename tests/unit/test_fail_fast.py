"""Permanent errors fail the task without Airflow's retries; a source that was down keeps them."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tthc.metrics import DataError
from tthc.sources import SourceError
from tthc_airflow.errors import fail_fast


@pytest.mark.parametrize("exc", [SourceError("401 Unauthorized"), DataError("resolved without NgayHenTra")])
def test_permanent_errors_fail_at_once_with_their_message(exc: Exception) -> None:
    with pytest.raises(AirflowFailException, match=str(exc)), fail_fast():
        raise exc


@pytest.mark.parametrize("exc", [SourceError("still failing after 8 attempts", retryable=True), OSError("disk")])
def test_transient_errors_keep_their_type_for_retries(exc: Exception) -> None:
    with pytest.raises(type(exc)), fail_fast():
        raise exc


def test_a_task_timeout_names_the_setting_and_stays_a_timeout() -> None:
    from airflow.sdk.exceptions import AirflowTaskTimeout

    with pytest.raises(AirflowTaskTimeout, match=r"tasks\.execution_timeout_minutes"), fail_fast():
        raise AirflowTaskTimeout("Timeout, PID: 42")


def test_a_period_error_is_not_retried() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from tthc.periods import parse_period

    with pytest.raises(AirflowFailException, match="PeriodError: period 0000-01: year 0"), fail_fast():
        parse_period("0000-01")
