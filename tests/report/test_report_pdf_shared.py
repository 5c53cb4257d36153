"""PDFs through the host's shared LibreOffice: handed over, the same PDF, concurrent, and safe when it dies or hangs."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tthc.report import pdf

LOGGER = "tthc.report.pdf"


def normalised(data: bytes) -> bytes:
    """A PDF without what differs between any two LibreOffice conversions: creation time, /ID, /DocChecksum."""
    assert data[:5] == b"%PDF-"
    data = re.sub(rb"/CreationDate\(D:[^)]*\)", b"/CreationDate()", data)
    data = re.sub(rb"/ID \[ ?<[0-9A-F]+>\s*<[0-9A-F]+> ?\]", b"/ID []", data)
    return re.sub(rb"/DocChecksum /[0-9A-F]+", b"/DocChecksum", data)


def wait_ready(folder: Path, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = pdf.running_instance(folder)
        if record:
            return record
        time.sleep(0.1)
    raise AssertionError(f"no shared LibreOffice in {folder} after {seconds} s: "
                         f"{(folder / 'instance.log').read_text(errors='replace')[-2000:]}")


def office_bin(folder: Path) -> int:
    """The pid of the shared instance's soffice.bin."""
    pids = [pid for pid in pdf._processes_using(folder)
            if b"soffice.bin" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]]
    assert len(pids) == 1, pids
    return pids[0]


@pytest.fixture
def shared(soffice, tmp_path, monkeypatch):
    """A shared instance's folder of this test only, ended afterwards."""
    monkeypatch.setattr(pdf, "SHARED_BASE", tmp_path / "base")
    monkeypatch.delenv(pdf.SHARED_ENV, raising=False)
    (tmp_path / "base").mkdir()
    folder = pdf.shared_folder()
    assert folder is not None
    yield folder
    pdf.end_instance(folder)


@pytest.fixture(scope="module")
def empty_docx() -> bytes:
    import docx

    out = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Trống")
    document.save(out)
    return out.getvalue()


def messages(caplog) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    caplog.clear()
    return found


def test_conversions_are_handed_to_the_running_libreoffice_and_give_the_same_pdf(shared, model_docx, empty_docx,
                                                                                    caplog, monkeypatch):
    model = model_docx.read_bytes()
    caplog.set_level(logging.INFO, logger=LOGGER)
    first = pdf.pdf_bytes(model, "r.docx")
    [said] = messages(caplog)
    assert "started for it" in said and "one is starting" in said
    record = wait_ready(shared)
    shared_pdfs = []
    for docx in (model, empty_docx, model):
        shared_pdfs.append(pdf.pdf_bytes(docx, "r.docx"))
        [said] = messages(caplog)
        assert f"converted by the shared LibreOffice (pid {record['soffice']})" in said
    monkeypatch.setenv(pdf.SHARED_ENV, "0")
    own = pdf.pdf_bytes(model, "r.docx")
    assert "started for it" in messages(caplog)[0]
    # The same PDF as a LibreOffice started for the conversion, before and after another document.
    assert normalised(first) == normalised(shared_pdfs[0]) == normalised(shared_pdfs[2]) == normalised(own)
    assert normalised(shared_pdfs[1]) != normalised(own)
    # The sweep of dead tasks' folders leaves the shared instance alone.
    pdf.sweep_scratch(shared.parent)
    assert pdf.running_instance(shared) == record


def test_two_conversions_at_once(shared, model_docx, caplog):
    model = model_docx.read_bytes()
    pdf.pdf_bytes(model, "r.docx")
    wait_ready(shared)
    caplog.set_level(logging.INFO, logger=LOGGER)
    caplog.clear()  # the first conversion's line is kept when the logger was at INFO already (CI's logging)
    results: dict[int, bytes] = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, pdf.pdf_bytes(model, f"r{n}.docx")))
               for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [0, 1] and normalised(results[0]) == normalised(results[1])
    said = messages(caplog)
    assert len(said) == 2 and all("by the shared LibreOffice" in line for line in said), said


def test_a_killed_libreoffice_costs_no_conversion_and_is_replaced(shared, model_docx, caplog):
    model = model_docx.read_bytes()
    reference = normalised(pdf.pdf_bytes(model, "r.docx"))
    old = wait_ready(shared)
    os.kill(office_bin(shared), signal.SIGKILL)
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert normalised(pdf.pdf_bytes(model, "r.docx")) == reference  # whichever way it went
    new = wait_ready(shared)
    assert new["keeper"] != old["keeper"] and not pdf._pid_alive(old["keeper"])
    assert normalised(pdf.pdf_bytes(model, "r.docx")) == reference
    assert f"shared LibreOffice (pid {new['soffice']})" in messages(caplog)[-1]


def test_a_hung_libreoffice_is_ended_and_the_conversion_falls_back(shared, model_docx, caplog, monkeypatch):
    model = model_docx.read_bytes()
    reference = normalised(pdf.pdf_bytes(model, "r.docx"))
    record = wait_ready(shared)
    hung = office_bin(shared)
    os.kill(hung, signal.SIGSTOP)
    monkeypatch.setattr(pdf, "SHARED_TIMEOUT_SECONDS", 3)
    caplog.set_level(logging.INFO, logger=LOGGER)
    started = time.monotonic()
    assert normalised(pdf.pdf_bytes(model, "r.docx")) == reference
    assert time.monotonic() - started < 3 + 30
    said = messages(caplog)
    assert any("did not convert r.docx within 3 s: ended" in line for line in said), said
    assert "started for it" in said[-1]
    assert not pdf._pid_alive(hung) and not pdf._pid_alive(record["keeper"])
    assert pdf.running_instance(shared) is None


def test_a_stale_record_and_stale_locks_are_not_trusted(shared, model_docx, caplog):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    (shared / "instance").write_text(json.dumps({"keeper": dead, "soffice": dead}))
    (shared / f".~lock.{pdf.KEPT_FILE}#").write_text("stale")  # as a killed instance leaves it
    (shared / "profile").mkdir()
    (shared / "profile" / ".lock").write_text("stale")
    caplog.set_level(logging.INFO, logger=LOGGER)
    model = model_docx.read_bytes()
    pdf.pdf_bytes(model, "r.docx")
    assert "one is starting" in messages(caplog)[0]
    record = wait_ready(shared)
    assert record["keeper"] != dead
    pdf.pdf_bytes(model, "r.docx")
    assert f"shared LibreOffice (pid {record['soffice']})" in messages(caplog)[0]


def test_the_keeper_ends_an_idle_instance(shared, soffice):
    code = ("import sys, pathlib; from tthc.report.pdf import keep_instance; "
            "keep_instance(pathlib.Path(sys.argv[1]), sys.argv[2], idle=2)")
    keeper = subprocess.Popen([sys.executable, "-c", code, str(shared), soffice], start_new_session=True,
                              env={**os.environ, "PYTHONPATH": str(Path(pdf.__file__).resolve().parents[2])})
    record = wait_ready(shared)
    assert record["keeper"] == keeper.pid
    office = office_bin(shared)
    assert keeper.wait(timeout=30) == -signal.SIGKILL  # it ends its own process group, itself included
    assert not pdf._pid_alive(office) and pdf.running_instance(shared) is None


def test_a_folder_open_to_others_or_not_ours_is_refused(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(pdf, "SHARED_BASE", tmp_path)
    folder = tmp_path / f"{pdf.SHARED_PREFIX}{os.getuid()}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert pdf.shared_folder() is None
    folder.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "elsewhere")
    assert pdf.shared_folder() is None
    folder.unlink()
    if os.getuid() == 0:
        folder.mkdir(mode=0o700)
        os.chown(folder, 65534, 65534)
        assert pdf.shared_folder() is None
        folder.rmdir()
    assert pdf.shared_folder() == folder  # made here, 0700, ours
    assert all("closed to others" in r.getMessage() for r in caplog.records if r.name == LOGGER)


def test_a_wrapper_script_is_run_the_old_way(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "soffice"
    wrapper.write_text("#!/bin/sh\nexit 1\n")
    wrapper.chmod(0o755)
    monkeypatch.setattr(pdf, "SHARED_BASE", tmp_path)
    assert pdf.convert_shared(tmp_path, tmp_path / "r.docx", str(wrapper), 10) == (
        None, f"{wrapper} is not LibreOffice's own launcher")
    assert not list(tmp_path.glob(f"{pdf.SHARED_PREFIX}*"))
