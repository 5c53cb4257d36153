"""The report as a PDF: headless LibreOffice in a private, swept scratch folder.

Why a module of its own: converting is the one step that runs an outside program. It must never
hang a task (a timeout ends LibreOffice's whole process group), never share a profile between two
conversions on one worker (each gets its own folder), and never leave a LibreOffice running after
its task was killed (the next conversion sweeps what a dead process left). Without LibreOffice on
the worker there is no PDF, and the caller says so.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tthc.storage import atomic_write_bytes

log = logging.getLogger(__name__)

PDF_TIMEOUT_SECONDS = 120  # one conversion; the model report takes 1-2 s, a hung LibreOffice never ends
# Private folders of one process: ``tthc-soffice-<pid>-<random>`` under the system's temporary folder.
SCRATCH_PREFIX = "tthc-soffice-"


def find_soffice() -> str | None:
    """LibreOffice's command on PATH (``soffice`` or ``libreoffice``), or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def _processes_using(folder: Path) -> list[int]:
    """Processes started for ``folder``: its path in their command line or as their HOME (Linux ``/proc``).

    Why both: LibreOffice's launcher passes the profile on its command line, and every process it
    starts inherits the HOME set for the conversion. Empty where there is no ``/proc``.
    """
    marker, home = os.fsencode(str(folder)), b"HOME=" + os.fsencode(str(folder)) + b"\0"
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "cmdline").read_bytes() or home in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return [pid for pid in found if pid != os.getpid()]


def sweep_scratch(base: Path | None = None) -> list[Path]:
    """Remove the scratch folders of processes that no longer exist, ending the LibreOffice they left running.

    Why: a task killed by SIGKILL (out of memory, a worker shut down hard) runs no ``finally``, so
    its ``TemporaryDirectory`` and LibreOffice's profile stay behind, and LibreOffice itself, in its own
    process group, may still run. The folder's name carries the pid of the process that made it; when
    that process is gone, whatever still runs inside the folder is killed and the folder removed. A
    folder of a live process (another task converting on this worker) is left alone. This assumes the
    temporary folder is not shared between pid namespaces (containers), as it is not by default.
    """
    removed = []
    for folder in Path(base or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        owner = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if not folder.is_dir() or not owner.isdigit() or _pid_alive(int(owner)):
            continue
        orphans = _processes_using(folder)
        for pid in orphans:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(_pid_alive(pid) for pid in orphans) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
            log.info("removed %s, left by process %s that no longer runs (%d process(es) ended)", folder, owner,
                     len(orphans))
    return removed


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A private temporary folder named after this process, removed on exit; stale ones are swept first.

    Normal exits and exceptions remove it (``TemporaryDirectory``); a SIGKILL does not, so the next
    conversion on the host sweeps it (``sweep_scratch``).
    """
    sweep_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as work:
        yield Path(work)


def convert_in_folder(work: Path, source: Path, executable: str, timeout: float) -> bytes:
    """Convert ``source`` (inside ``work``) with headless LibreOffice; the PDF's bytes, or an error.

    The profile lives in ``work``: two conversions sharing the default profile (two tasks on one
    worker) block or fail on its lock. LibreOffice runs in its own process group, so that a timeout,
    or any exception here (Airflow's ``execution_timeout`` raises in the task), ends its child
    ``soffice.bin`` too: ``finally`` kills the group whenever the launcher has not exited.
    """
    profile, outdir = work / "profile", work / "out"
    command = [
        executable,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nofirststartwizard",
        "--convert-to", "pdf:writer_pdf_Export",
        "--outdir", str(outdir),
        str(source),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "HOME": str(work)},
    )
    try:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"LibreOffice did not convert {source.name} within {timeout:g} s") from None
    finally:
        if process.returncode is None:  # still running: timed out, or interrupted by an exception
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    produced = outdir / f"{source.stem}.pdf"
    if process.returncode != 0 or not produced.is_file():
        detail = (stderr or stdout).decode("utf-8", "replace").strip()
        raise RuntimeError(f"LibreOffice failed to convert {source.name} (exit {process.returncode}): {detail}")
    return produced.read_bytes()


def pdf_bytes(docx: bytes, name: str, timeout: float = PDF_TIMEOUT_SECONDS) -> bytes | None:
    """The PDF of a .docx given as bytes (``name`` is its file name); None without LibreOffice; an error if it fails.

    Nothing is written outside a scratch folder, so a caller publishes the PDF when, and where, it chooses.
    """
    executable = find_soffice()
    if executable is None:
        return None
    with scratch_folder() as work:
        source = work / name
        source.write_bytes(docx)
        return convert_in_folder(work, source, executable, timeout)


def convert_to_pdf(docx_path: Path, timeout: float = PDF_TIMEOUT_SECONDS) -> Path | None:
    """Convert with headless LibreOffice to a PDF beside the .docx; None (and one log line) without LibreOffice.

    For a .docx already written (tests, by hand); the pipeline uses ``render_documents``. A failed
    conversion raises and writes nothing. LibreOffice works on a copy in a scratch folder, so
    ``docx_path`` may also be on object storage.
    """
    docx_path = Path(docx_path) if isinstance(docx_path, str) else docx_path
    if find_soffice() is None:
        log.warning("LibreOffice (soffice) is not on PATH: no PDF written for %s", docx_path.name)
        return None
    pdf = pdf_bytes(docx_path.read_bytes(), docx_path.name, timeout)
    if pdf is None:  # LibreOffice removed between the two looks
        return None
    return atomic_write_bytes(docx_path.with_suffix(".pdf"), pdf)
