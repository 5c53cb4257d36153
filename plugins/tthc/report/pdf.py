"""The report as a PDF: headless LibreOffice, preferably one already running on the host.

Why a module of its own: converting is the one step that runs an outside program. It must never
hang a task (a timeout ends LibreOffice's whole process group), never let two conversions fight
over one profile, and never leave a LibreOffice running after its task was killed (the next
conversion sweeps what a dead process left). Without LibreOffice on the worker there is no PDF,
and the caller says so.

Why a shared instance: starting LibreOffice is most of a conversion (1.7-2.1 s with a new profile
on the 2-core reference machine, against 0.4-0.5 s for the conversion itself), and every unit's
report is converted in a task process of its own. LibreOffice's own launcher hands a
``--convert-to`` to the instance already running on the same profile (its per-user IPC pipe) and
waits for it, so a conversion is the usual command line with the shared profile. Two facts make it
work and are handled here: LibreOffice 7.4 ends itself after a handed-over conversion when no
document is left open (``DispatchWatcher::executeDispatchRequests``: "We don't have any task open
so we have to shutdown ourself"), so the instance keeps a small file open; and a hung or dead
instance must cost one conversion at most, so a short timeout ends it and the conversion falls back
to a LibreOffice of its own, as before. The instance is owned by a small keeper process
(``keep_instance``) that ends it after ``SHARED_IDLE_SECONDS`` without a conversion. The PDFs are
the same as a LibreOffice started for the conversion makes (only the creation time, ``/ID`` and
``/DocChecksum``, which differ between any two conversions, differ). ``TTHC_PDF_SHARED_LIBREOFFICE=0``
turns the shared instance off.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tthc.storage import atomic_write_bytes

log = logging.getLogger(__name__)

PDF_TIMEOUT_SECONDS = 120  # one conversion; the model report takes 1-2 s, a hung LibreOffice never ends
# Private folders of one process: ``tthc-soffice-<pid>-<random>`` under the system's temporary folder.
SCRATCH_PREFIX = "tthc-soffice-"
# The shared instance's folder, one per user: ``tthc-libreoffice-<uid>``. Not ``SCRATCH_PREFIX``: the sweep of
# dead processes' folders must leave it alone (its keeper's pid is not in its name).
SHARED_PREFIX = "tthc-libreoffice-"
SHARED_ENV = "TTHC_PDF_SHARED_LIBREOFFICE"  # "0": every conversion starts its own LibreOffice
SHARED_TIMEOUT_SECONDS = 30.0  # a handed-over conversion; the model report takes 0.4 s, a queue of a few more
SHARED_START_SECONDS = 60.0  # the instance's start, until its kept file is open
SHARED_IDLE_SECONDS = 600.0  # the keeper ends the instance after this long without a conversion
SHARED_BASE: Path | None = None  # where the shared folder is made (None: the system's temporary folder); for tests
OPTIONS = ("--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nofirststartwizard")
KEPT_FILE = "kept-open.txt"
_keepers: list[subprocess.Popen[bytes]] = []  # held so that Python does not warn about a child still running


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
        orphans = _kill_and_wait(_processes_using(folder))
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


def _run(command: list[str], home: Path, timeout: float, name: str) -> tuple[int, bytes, bytes]:
    """Run LibreOffice's launcher in its own session; its exit code and output, RuntimeError after ``timeout``.

    ``finally`` kills the whole process group whenever the launcher has not exited: on a timeout, or
    any exception here (Airflow's ``execution_timeout`` raises in the task), the child ``soffice.bin``
    must not outlive it.
    """
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, env={**os.environ, "HOME": str(home)})
    try:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"LibreOffice did not convert {name} within {timeout:g} s") from None
    finally:
        if process.returncode is None:  # still running: timed out, or interrupted by an exception
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return process.returncode, stdout, stderr


def _command(executable: str, profile: Path, outdir: Path, source: Path) -> list[str]:
    return [executable, f"-env:UserInstallation={profile.as_uri()}", *OPTIONS,
            "--convert-to", "pdf:writer_pdf_Export", "--outdir", str(outdir), str(source)]


def convert_in_folder(work: Path, source: Path, executable: str, timeout: float) -> bytes:
    """Convert ``source`` (inside ``work``) with headless LibreOffice; the PDF's bytes, or an error.

    First through the host's shared LibreOffice (``convert_shared``); when there is none yet, or it
    fails, with a LibreOffice started for this conversion, as before the shared one existed: its
    profile lives in ``work`` (two conversions sharing the default profile block or fail on its
    lock). One log line says which way the PDF was made.
    """
    started = time.monotonic()
    pdf, how = convert_shared(work, source, executable, timeout)
    if pdf is not None:
        log.info("PDF of %s converted by %s in %.2f s", source.name, how, time.monotonic() - started)
        return pdf
    outdir = work / "out"
    code, stdout, stderr = _run(_command(executable, work / "profile", outdir, source), work, timeout, source.name)
    produced = outdir / f"{source.stem}.pdf"
    if code != 0 or not produced.is_file():
        detail = (stderr or stdout).decode("utf-8", "replace").strip()
        raise RuntimeError(f"LibreOffice failed to convert {source.name} (exit {code}): {detail}")
    log.info("PDF of %s converted by a LibreOffice started for it in %.2f s (%s)", source.name,
             time.monotonic() - started, how)
    return produced.read_bytes()


# ---- the shared instance ---------------------------------------------------------------------------


def shared_folder() -> Path | None:
    """This user's folder of the shared instance (made 0700), or None when it cannot be trusted.

    Why the checks: the folder is in the shared temporary folder, where another user could have made
    it first to have our conversions run in a LibreOffice of theirs; it must be a real folder of this
    user, closed to others.
    """
    folder = (SHARED_BASE or Path(tempfile.gettempdir())) / f"{SHARED_PREFIX}{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as error:
        log.warning("no shared LibreOffice: %s", error)
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        log.warning("no shared LibreOffice: %s is not a folder of this user closed to others", folder)
        return None
    return folder


def _real_launcher(executable: str) -> bool:
    """Whether ``executable`` is LibreOffice's own launcher (``soffice.bin`` beside it), whose hand-over we rely on.

    A wrapper script (a snap, a stand-in) is run the old way: what it does with a second call is unknown.
    """
    return Path(executable).resolve().with_name("soffice.bin").is_file()


def _lock(folder: Path) -> int:
    return os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)


def running_instance(folder: Path) -> dict[str, Any] | None:
    """The shared instance's record (``keeper``, ``soffice`` pids) when both processes run; None otherwise."""
    try:
        record = json.loads((folder / "instance").read_text())
        alive = all(isinstance(record.get(key), int) and _pid_alive(record[key]) for key in ("keeper", "soffice"))
    except (OSError, ValueError, AttributeError):
        return None
    return record if alive else None


def end_instance(folder: Path) -> list[int]:
    """End every process of the shared instance (keeper, LibreOffice, launchers handing over to it); their pids."""
    pids = _kill_and_wait(_processes_using(folder))
    (folder / "instance").unlink(missing_ok=True)
    return pids


def _kill_and_wait(pids: list[int], seconds: float = 5) -> list[int]:
    """SIGKILL each process (gone or not ours: ignored) and wait up to ``seconds`` for them to be gone."""
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def _start_keeper(folder: Path, executable: str) -> None:
    """Start ``keep_instance`` detached: its own session, no inherited output (a task's log pipe would stay open)."""
    code = ("import sys, pathlib; from tthc.report.pdf import keep_instance; "
            "keep_instance(pathlib.Path(sys.argv[1]), sys.argv[2])")
    plugins = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join([plugins, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    _keepers[:] = [keeper for keeper in _keepers if keeper.poll() is None]
    _keepers.append(subprocess.Popen([sys.executable, "-c", code, str(folder), executable], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                     env={**os.environ, "PYTHONPATH": path}, cwd=folder))


def convert_shared(work: Path, source: Path, executable: str, timeout: float) -> tuple[bytes | None, str]:
    """The PDF made by the host's running LibreOffice and how, or None and why not (the caller starts its own).

    A conversion holds the folder's lock shared; starting or ending the instance holds it alone, so a
    launcher never finds the instance half started. With no instance running, a keeper is started for
    the next conversions and this one goes the old way. A launcher that finds the instance gone
    converts by itself (it says so on its output): the PDF is as good, and a new keeper is started.
    """
    if os.environ.get(SHARED_ENV, "1") == "0":
        return None, f"{SHARED_ENV}=0"
    if not _real_launcher(executable):
        return None, f"{executable} is not LibreOffice's own launcher"
    folder = shared_folder()
    if folder is None:
        return None, "no folder for a shared LibreOffice"
    lock = _lock(folder)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return None, "the shared LibreOffice is starting or ending"
        record = running_instance(folder)
        if record is None:
            _start_keeper(folder, executable)
            return None, "no shared LibreOffice ran; one is starting for the next conversions"
        os.utime(folder / "instance")  # the keeper's idle clock
        outdir = work / "shared-out"
        limit = min(timeout, SHARED_TIMEOUT_SECONDS)
        try:
            code, stdout, stderr = _run(_command(executable, folder / "profile", outdir, source), folder, limit,
                                        source.name)
        except RuntimeError:
            ended = end_instance(folder)
            log.warning("the shared LibreOffice (pid %s) did not convert %s within %g s: ended (%d processes)",
                        record["soffice"], source.name, limit, len(ended))
            return None, f"the shared LibreOffice did not answer within {limit:g} s"
    finally:
        os.close(lock)
    produced = outdir / f"{source.stem}.pdf"
    if code != 0 or not produced.is_file():
        detail = (stderr or stdout).decode("utf-8", "replace").strip()
        return None, f"the shared LibreOffice failed (exit {code}): {detail}"
    if b"convert " in stdout:  # the launcher printed its own conversion: the instance was gone
        _start_keeper(folder, executable)  # it waits for the lock, then replaces the instance
        return produced.read_bytes(), "a LibreOffice of its own on the shared profile (the shared one had ended)"
    return produced.read_bytes(), f"the shared LibreOffice (pid {record['soffice']})"


def keep_instance(folder: Path, executable: str, idle: float | None = None) -> None:
    """Run the shared LibreOffice until it has had no conversion for ``idle`` seconds, or dies; then end it.

    Runs in a process of its own (``_start_keeper``), in a session of its own that LibreOffice shares,
    so ending the session's process group ends both. Only one keeper runs: the lock is taken alone and
    the record checked again; what a killed keeper left (a LibreOffice on the profile, its record, the
    kept file's lock) is removed before starting.
    """
    idle = SHARED_IDLE_SECONDS if idle is None else idle
    lock = _lock(folder)
    fcntl.flock(lock, fcntl.LOCK_EX)
    if running_instance(folder) is not None:
        return
    end_instance(folder)
    shutil.rmtree(folder / "profile", ignore_errors=True)  # a new profile per instance, as a per-unit start has
    kept = folder / KEPT_FILE
    kept.write_text("")
    ready = folder / f".~lock.{KEPT_FILE}#"  # LibreOffice's lock of an open document: the instance is up
    ready.unlink(missing_ok=True)
    with open(folder / "instance.log", "ab") as out:
        office = subprocess.Popen([executable, f"-env:UserInstallation={(folder / 'profile').as_uri()}", *OPTIONS,
                                   str(kept)], stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=folder,
                                  env={**os.environ, "HOME": str(folder)})
    deadline = time.monotonic() + SHARED_START_SECONDS
    while not ready.exists():
        if office.poll() is not None or time.monotonic() > deadline:
            os.killpg(0, signal.SIGKILL)
        time.sleep(0.05)
    record = folder / "instance"
    staged = folder / "instance.new"
    staged.write_text(json.dumps({"keeper": os.getpid(), "soffice": office.pid}))
    staged.replace(record)
    fcntl.flock(lock, fcntl.LOCK_UN)
    while office.poll() is None:
        time.sleep(1)
        with suppress(OSError):
            if time.time() - record.stat().st_mtime < idle:
                continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no conversion under way
        except BlockingIOError:
            continue
        break
    record.unlink(missing_ok=True)
    os.killpg(0, signal.SIGKILL)  # LibreOffice's launcher, soffice.bin, and this keeper


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
