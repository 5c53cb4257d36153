"""``python -m simulator``: the ready line, a real port for ``--port 0``, clean stop, bad options."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def test_cli_prints_ready_line_serves_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", "0", "--fault-rate", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    try:
        line = proc.stdout.readline().strip() if proc.stdout else ""
        assert line.startswith("simulator listening on http://127.0.0.1:")
        base = line.removeprefix("simulator listening on ")
        assert not base.endswith(":0")
        assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok"}
        resp = requests.get(base + "/api/v2/feedback", params={"district": "872", "received_from": "2023-01-01",
                                                              "received_to": "2023-02-01"},
                            headers={"X-API-Key": "sim-hotline-key"}, timeout=10)
        assert resp.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        log = proc.stderr.read() if proc.stderr else ""
        assert "GET /api/v2/feedback district=872" in log and "-> 200" in log
        # One line per request and never a personal-data field or value.
        names = [item["citizen_name"] for item in resp.json()["items"]]
        assert names and not any(name in log for name in names)
        assert "X-API-Key" not in log and "sim-hotline-key" not in log
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_unknown_fault_kind() -> None:
    out = subprocess.run([sys.executable, "-m", "simulator", "--faults", "5xx,teapot"], cwd=REPO,
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 2
    assert "teapot" in out.stderr
