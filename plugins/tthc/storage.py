"""Where files live under the data root, and how they are written: atomically, replacing the old.

Why path objects and not strings: the data root is a local folder by default and object storage
(S3, MinIO) when workers run on several hosts. Functions here take any pathlib-like object: a
``pathlib.Path``, or the Airflow glue's ``ObjectStoragePath`` (a ``UPath``), so nothing assumes that
the tasks of one run share a disk.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any


def raw_dir(root: Any, period: str, unit_code: str) -> Any:
    """Raw extracts (no personal data) of one reporting unit and period."""
    return root / "raw" / period / unit_code


def report_dir(root: Any, period: str) -> Any:
    """All reports of one period, one file per reporting unit (its GSO code in the name)."""
    return root / "reports" / period


def as_root(location: str | os.PathLike[str]) -> Path:
    """A local data root from a path or ``file://`` URL (the Airflow glue handles other schemes)."""
    text = os.fspath(location)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise ValueError(f"data root {location!r} is not local: open it through ObjectStoragePath")
    return Path(text).expanduser().resolve()


def atomic_write_bytes(path: Any, data: bytes) -> Any:
    """Write ``data`` beside ``path`` and rename it into place: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
        if isinstance(tmp, Path):
            os.replace(tmp, path)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
