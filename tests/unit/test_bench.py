"""``make bench`` runs end to end at a tiny size: every stage measured, and each floor computes the same figures.

Not a timing test (figures depend on the machine): it checks that the benchmark still measures the
pipeline's own steps and that its floors are floors of the same work (``scripts/bench.py`` refuses a
metrics floor whose counts differ from the pipeline's).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_measures_every_stage_at_three_sizes_with_agreeing_floors(tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--size", "300", "--repeat", "1",
                           "--no-pdf", "--json", str(figures)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| stage | dossiers |" in done.stdout
    sizes = json.loads(figures.read_text())["sizes"]
    assert sorted(int(size) for size in sizes) == [3, 30, 300]
    for stages in sizes.values():
        by_name = {stage["stage"]: stage for stage in stages}
        assert set(by_name) == {"extract", "landing", "validate", "metrics", "compute step", "docx"}
        for name in ("landing", "validate", "metrics", "docx"):
            assert by_name[name]["floor"] is not None and by_name[name]["floor"] > 0, name
        assert all(stage["best"]["seconds"] > 0 for stage in stages)
