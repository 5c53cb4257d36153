"""Benchmark one district-month through the domain steps and print the figures (no assertions).

Why a script rather than timed tests: speed depends on the machine; a benchmark prints figures an
engineer compares across changes, while tests assert behaviour. Runs against the simulator in a
thread, so the HTTP path is real.

    python scripts/bench_pipeline.py [--district 873] [--period 2023-11] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from simulator.server import start_in_thread  # noqa: E402
from tthc import pipeline  # noqa: E402
from tthc.config import load_config  # noqa: E402
from tthc.district_month import DistrictMonth  # noqa: E402
from tthc.periods import parse_period  # noqa: E402
from tthc.sources import RetryPolicy, fetch_dossiers, fetch_feedback  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--district", default="873")
    parser.add_argument("--period", default="2023-11")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = load_config()
    period = parse_period(args.period)
    unit = config.unit_for(args.district, period)
    policy = RetryPolicy(max_attempts=3, backoff_initial_seconds=0.1, backoff_max_seconds=1)
    timings: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[..., Any], *a: Any) -> Any:
        started = time.perf_counter()
        result = fn(*a)
        timings.setdefault(name, []).append(time.perf_counter() - started)
        return result

    with start_in_thread(quiet=True) as sim, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wh = f"sqlite:///{root / 'wh.db'}"
        d_fetch = lambda d, f, t: fetch_dossiers(sim.base_url, "sim-one-stop-token", d, f, t, policy=policy)  # noqa: E731
        f_fetch = lambda d, f, t: fetch_feedback(sim.base_url, "sim-hotline-key", d, f, t, policy=policy)  # noqa: E731
        month = DistrictMonth(config, period, unit, root, wh)
        pipeline.extract_dossiers(month, d_fetch)  # warm the simulator's cache
        for _ in range(args.repeat):
            extract = timed("extract dossiers + land", pipeline.extract_dossiers, month, d_fetch)
            timed("extract feedback + land", pipeline.extract_feedback, month, f_fetch)
            timed("validate (GX)", pipeline.validate_sources, month)
            timed("metrics + warehouse", pipeline.compute_metrics, month, "bench")
            timed("report .docx (+PDF)", pipeline.write_report, month)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"district {unit.name} ({unit.code}), period {period.name}: {extract['records']} dossiers, "
          f"{extract['requests']} requests")
    for name, values in timings.items():
        print(f"  {name:28s} best {min(values):6.2f} s   median {sorted(values)[len(values) // 2]:6.2f} s")
    print(f"  peak memory of the process     {peak:6.0f} MiB")


if __name__ == "__main__":
    main()
