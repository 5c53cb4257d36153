"""``tthc.storage`` on object storage: one whole write per object, no temporary object, no rename.

memory:// stands in for S3 here (``tests/e2e/test_object_storage_root.py`` runs a month against a real S3
API); what matters is what the writer asks of the file system.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tthc.storage import atomic_write_bytes, remove_leftover_temps


def memory_path(name: str) -> Any:
    upath = pytest.importorskip("upath")
    return upath.UPath(f"memory://tthc-storage-{uuid.uuid4().hex}/reports/{name}")


def test_an_object_is_written_whole_in_one_call_without_a_temporary_or_a_rename(
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = memory_path("a.docx")
    calls: list[str] = []
    fs = path.fs
    monkeypatch.setattr(fs, "mv", lambda *a, **k: calls.append("mv"))
    real_pipe = fs.pipe_file
    monkeypatch.setattr(fs, "pipe_file", lambda key, data, **k: (calls.append(key), real_pipe(key, data, **k)))
    atomic_write_bytes(path, b"new")
    assert calls == [path.path] and path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["a.docx"]


def test_a_failed_write_keeps_the_old_object(monkeypatch: pytest.MonkeyPatch) -> None:
    path = memory_path("b.docx")
    atomic_write_bytes(path, b"old")

    def broken(key: str, data: bytes, **kwargs: Any) -> None:
        raise ConnectionError("connection reset mid-upload")

    monkeypatch.setattr(path.fs, "pipe_file", broken)
    with pytest.raises(ConnectionError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["b.docx"]


def test_leftover_temporary_objects_of_earlier_writers_are_removed() -> None:
    path = memory_path("c.docx")
    atomic_write_bytes(path, b"report")
    leftover = path.parent / ".c.docx.tmp-0123abcd"
    leftover.write_bytes(b"half")
    other = path.parent / ".d.docx.tmp-0123abcd"  # another target's: not this writer's to take
    other.write_bytes(b"half")
    assert [p.name for p in remove_leftover_temps(path)] == [leftover.name]
    assert sorted(p.name for p in path.parent.iterdir()) == [other.name, "c.docx"]
