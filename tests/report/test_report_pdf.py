"""PDF conversion with headless LibreOffice: absent, failing, hanging, and working."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest

from tthc.report import convert_to_pdf


def fake_soffice(tmp_path, monkeypatch, body: str) -> None:
    """Put a stand-in ``soffice`` first on PATH (found before a real one), to test our side of the call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "soffice"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]))


def test_absent_libreoffice_gives_none_and_one_message(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))
    docx_path = tmp_path / "r.docx"
    docx_path.write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="tthc.report"):
        assert convert_to_pdf(docx_path) is None
    assert len(caplog.records) == 1 and "LibreOffice" in caplog.records[0].getMessage()
    assert not docx_path.with_suffix(".pdf").exists()


def test_failed_conversion_raises(tmp_path, monkeypatch):
    fake_soffice(tmp_path, monkeypatch, "echo 'Error: source file could not be loaded' >&2; exit 1")
    docx_path = tmp_path / "r.docx"
    docx_path.write_bytes(b"x")
    with pytest.raises(RuntimeError, match="could not be loaded"):
        convert_to_pdf(docx_path)
    fake_soffice(tmp_path / "ok", monkeypatch, "exit 0")  # "succeeds" but writes nothing
    with pytest.raises(RuntimeError, match="failed to convert"):
        convert_to_pdf(docx_path)


def test_each_call_has_its_own_profile(tmp_path, monkeypatch):
    log = tmp_path / "args.log"
    fake_soffice(tmp_path, monkeypatch, f'echo "$@" >> {log}; exit 1')
    docx_path = tmp_path / "r.docx"
    docx_path.write_bytes(b"x")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            convert_to_pdf(docx_path)
    profiles = [arg for line in log.read_text().splitlines() for arg in line.split() if "UserInstallation" in arg]
    assert len(profiles) == 2 and profiles[0] != profiles[1]
    assert all(p.startswith("-env:UserInstallation=file:///") for p in profiles)


def test_hanging_conversion_times_out_and_is_killed(tmp_path, monkeypatch):
    pid_file = tmp_path / "child.pid"
    # The stand-in starts a child, as soffice starts soffice.bin: the timeout must end both.
    fake_soffice(tmp_path, monkeypatch, f"sleep 60 & echo $! > {pid_file}; wait")
    docx_path = tmp_path / "r.docx"
    docx_path.write_bytes(b"x")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="within 1 s"):
        convert_to_pdf(docx_path, timeout=1)
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the child of the timed-out conversion is still running")


def test_real_conversion(model_docx, soffice, tmp_path):
    source = tmp_path / "872-2023-11.docx"
    shutil.copyfile(model_docx, source)
    pdf = convert_to_pdf(source, timeout=180)
    assert pdf == tmp_path / "872-2023-11.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["872-2023-11.docx", "872-2023-11.pdf"]


def test_sweep_removes_folders_of_dead_processes_and_ends_what_runs_in_them(tmp_path):
    """A task killed by SIGKILL leaves its scratch folder and a LibreOffice still running; the next sweep ends both."""
    import subprocess
    import sys

    from tthc.report.pdf import SCRATCH_PREFIX, _pid_alive, sweep_scratch

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    orphaned = tmp_path / f"{SCRATCH_PREFIX}{dead_pid}-abc"
    (orphaned / "profile").mkdir(parents=True)
    # Stands for soffice.bin: the profile's path on its command line, in a session of its own.
    lingering = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(orphaned / "profile")],
                                 start_new_session=True)
    for _ in range(100):  # exec has returned to Popen a moment before the new command line is readable
        if str(orphaned).encode() in Path(f"/proc/{lingering.pid}/cmdline").read_bytes():
            break
        time.sleep(0.01)
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"
    live.mkdir()
    other = tmp_path / "tthc-soffice-notapid-x"
    other.mkdir()

    assert sweep_scratch(tmp_path) == [orphaned]
    assert lingering.wait(timeout=5) == -9 and not _pid_alive(lingering.pid)
    assert not orphaned.exists() and live.exists() and other.exists()
