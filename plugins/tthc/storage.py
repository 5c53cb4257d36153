"""How files are written under the data root: atomically, replacing the old; and how they are removed.

Where each file lives is ``tthc.locations``. Why path objects and not strings: the data root is a local
folder by default and object storage (S3, MinIO) when workers run on several hosts. Functions here take
any pathlib-like object: a ``pathlib.Path``, or the Airflow glue's ``ObjectStoragePath`` (a ``UPath``),
so nothing assumes that the tasks of one run share a disk.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any


def as_root(location: str | os.PathLike[str]) -> Path:
    """A local data root from a path or ``file://`` URL (the Airflow glue handles other schemes)."""
    text = os.fspath(location)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise ValueError(f"data root {location!r} is not local: open it through ObjectStoragePath")
    return Path(text).expanduser().resolve()


TMP_MARK = ".tmp-"  # in the name of a file being written: ``.<name>.tmp-<hex>``, hidden, beside its target


def atomic_write_bytes(path: Any, data: bytes) -> Any:
    """Replace ``path`` with ``data`` so that a reader sees the old file or the new one, never half of either.

    On a local disk ``data`` is written beside ``path`` and renamed into place; it is flushed to the device
    before the rename and the folder after it, so that a host that loses power keeps either the old file or
    the new one, never an empty file under the new name (a rename can reach the disk before the data it
    names). A process killed mid-write leaves at most a hidden ``.<name>.tmp-<hex>`` beside the target, which
    ``remove_leftover_temps`` removes.

    On object storage (S3, MinIO: any ``ObjectStoragePath``) the object is written directly, in one request:
    an object appears only when its upload completes, so one PUT is already all-or-nothing, and a large body
    sent in parts becomes visible only when the upload is completed (s3fs aborts it on failure). A temporary
    object and a rename would be worse there: a rename is a copy and a delete, two requests that are not
    atomic together and move the bytes twice, and a killed process would leave the temporary object behind.
    """
    if not isinstance(path, Path):
        _put_object(path, data)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}{TMP_MARK}{uuid.uuid4().hex}"
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _put_object(path: Any, data: bytes) -> None:
    """Write the whole object in one call of its file system (``pipe_file``: one PUT, or a completed upload).

    Why not ``path.open("wb")``: fsspec's file object commits whatever it holds when its ``with`` block
    ends, even on an error, so a failed write could publish part of the data; ``pipe_file`` either finishes
    the upload or raises. No folder is made first: object stores have none (a key's prefix is its folder).
    """
    fs, key = getattr(path, "fs", None), getattr(path, "path", None)
    if fs is None or key is None:  # a pathlib-like object that is not fsspec's: the best it offers
        path.write_bytes(data)
        return
    fs.pipe_file(key, data)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; a file system that cannot open folders (some network mounts) is skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_file(path: Any) -> bool:
    """Remove ``path`` if it is there (local or object storage); True when something was removed.

    Why not ``unlink(missing_ok=True)`` alone: callers report what they removed, and object-storage
    paths do not all accept ``missing_ok``.
    """
    if not path.exists():
        return False
    try:
        path.unlink()
    except FileNotFoundError:  # removed meanwhile by another process: the outcome wanted
        return False
    return True


def remove_leftover_temps(path: Any) -> list[Any]:
    """Remove the hidden temporary files that writes of ``path`` killed midway left beside it; returns them.

    Only for a target no other process is writing at the same time (the caller owns it, e.g. a
    district's report of a period): a live writer's temporary file would be taken from under it.
    """
    folder = path.parent
    if not folder.exists():
        return []
    removed = []
    for leftover in folder.glob(f".{path.name}{TMP_MARK}*"):
        if remove_file(leftover):
            removed.append(leftover)
    return removed
