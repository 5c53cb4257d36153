"""``python -m tthc_airflow.preload <airflow args>``: the heavy libraries imported, then Airflow's own CLI.

Why it matters: tasks forked by the executor from this process find pandas, pyarrow and GX imported, so
the test checks both halves in a real interpreter: the modules are in ``sys.modules`` before Airflow's
``main`` runs, and the command's arguments reach Airflow unchanged (its exit code included).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tthc_airflow.preload import HEAVY

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT / "plugins"), AIRFLOW_HOME=str(tmp_path),
                AIRFLOW__CORE__LOAD_EXAMPLES="False")


def test_the_heavy_libraries_are_imported_before_airflow_runs(tmp_path: Path) -> None:
    code = ("import sys, runpy\n"
            "import airflow.__main__ as cli\n"
            "def main():\n"
            f"    print('loaded:', ','.join(m for m in {HEAVY!r} if m in sys.modules), flush=True)\n"
            "    print('argv:', ' '.join(sys.argv[1:]), flush=True)\n"
            "cli.main = main\n"
            "sys.argv = ['preload', 'dags', 'list']\n"
            "runpy.run_module('tthc_airflow.preload', run_name='__main__')\n")
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"loaded: {','.join(HEAVY)}" in out.stdout
    assert "argv: dags list" in out.stdout
    assert "imported in" in out.stderr


def test_airflow_s_own_answer_and_exit_code_come_through(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tthc_airflow.preload", "version"], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].startswith("3.3")
    wrong = subprocess.run([sys.executable, "-m", "tthc_airflow.preload", "no-such-command"], env=_env(tmp_path),
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode != 0
