"""The fault sweep: at 0, 10, 30 and 50 % of requests failing, the month's metrics do not change.

Pages are small (20 dossiers, 1 feedback item) so that each run makes hundreds of requests and
meets every kind of fault many times: 5xx, 429 with Retry-After, bodies cut short, slow replies, and
pages shifted as in a live system. Each rate runs the extract steps of the pipeline (landing
included), then the metrics of docs/metrics.md over what landed; every figure must equal the fault-free
run's, and so must the landed record ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.server import start_in_thread
from tthc import metrics, pipeline
from tthc.config import load_config
from tthc.district_month import DistrictMonth
from tthc.landing import read_landed
from tthc.periods import Period
from tthc.sources import RetryPolicy, fetch_dossiers, fetch_feedback

PERIOD = Period(2023, 11)
DISTRICT = "874"
RATES = (0.0, 0.1, 0.3, 0.5)
POLICY = RetryPolicy(max_attempts=30, backoff_initial_seconds=0.005, backoff_max_seconds=0.01, timeout_seconds=2.0,
                     max_passes=12)


@pytest.fixture(scope="module")
def unit() -> Any:
    return load_config().hierarchy_for("2023-11").get(DISTRICT)


def run_at(rate: float, root: Path, unit: Any) -> dict[str, Any]:
    with start_in_thread(one_stop_token="t", hotline_key="k", fault_rate=rate, slow_seconds=0.02, retry_after=0,
                         seed=7, quiet=True) as sim:
        month = DistrictMonth(load_config(), PERIOD, unit, root, f"sqlite:///{root / 'warehouse.db'}")
        d = pipeline.extract_dossiers(
            month, lambda c, f, t: fetch_dossiers(sim.base_url, "t", c, f, t, policy=POLICY, page_size=20))
        f = pipeline.extract_feedback(
            month, lambda c, f_, t: fetch_feedback(sim.base_url, "k", c, f_, t, policy=POLICY, limit=1))
    raw = root / "raw" / PERIOD.name / DISTRICT
    dossiers, feedback = read_landed(raw / "dossiers.parquet"), read_landed(raw / "feedback.parquet")
    return {
        "requests": d["requests"] + f["requests"], "retried": d["retried"] + f["retried"],
        "dossier_ids": list(dossiers["MaHoSo"]), "feedback_ids": list(feedback["id"]),
        "dossier_metrics": metrics.dossier_metrics(metrics.dossier_flags(dossiers, unit, PERIOD), unit, PERIOD),
        "feedback_metrics": metrics.feedback_metrics(metrics.feedback_flags(feedback, PERIOD), unit, PERIOD),
    }


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, unit: Any) -> Iterator[dict[float, dict[str, Any]]]:
    yield {rate: run_at(rate, tmp_path_factory.mktemp(f"sweep-{int(rate * 100)}"), unit) for rate in RATES}


@pytest.mark.parametrize("rate", RATES[1:])
def test_metrics_identical_at_every_fault_rate(sweep: dict[float, dict[str, Any]], rate: float) -> None:
    clean, faulty = sweep[0.0], sweep[rate]
    assert faulty["dossier_ids"] == clean["dossier_ids"]
    assert faulty["feedback_ids"] == clean["feedback_ids"]
    assert faulty["dossier_metrics"] == clean["dossier_metrics"]
    assert faulty["feedback_metrics"] == clean["feedback_metrics"]
    assert faulty["retried"] > 0  # the faults really happened...
    assert faulty["requests"] >= clean["requests"]


def test_the_sweep_makes_hundreds_of_requests(sweep: dict[float, dict[str, Any]]) -> None:
    clean = sweep[0.0]
    assert clean["requests"] >= 100 and clean["retried"] == 0
    assert sweep[0.5]["retried"] >= 100, sweep[0.5]["retried"]  # ...many times at half the requests
    total = next(r for r in clean["dossier_metrics"] if r["level"] == "tong")
    assert total["received"] > 500  # a real district-month, not an empty one
    print({rate: (run["requests"], run["retried"]) for rate, run in sweep.items()})
