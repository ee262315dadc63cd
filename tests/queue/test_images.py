"""The image store (printd/queue/images.py) on a real directory: content addressing, one directory fsync
for the files of one put, and a full or failing disk refused as 503 (StoreUnavailable)."""
from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from printd.errors import StoreUnavailable
from printd.queue.images import ImageStore


def test_identical_images_are_stored_once_under_their_sha256(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    a, b = store.put_all(b"front-bytes", b"back-bytes")
    assert a == hashlib.sha256(b"front-bytes").hexdigest() and store.get(a) == b"front-bytes"
    assert store.put(b"front-bytes") == a and sorted(store.all()) == sorted([a, b])
    assert not [p for p in store.dir.iterdir() if ".tmp" in p.name]   # no temporary file is left


def test_one_put_fsyncs_each_new_file_and_the_directory_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(tmp_path / "images")
    dir_ino = store.dir.stat().st_ino
    synced: list[str] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append("dir" if os.fstat(fd).st_ino == dir_ino else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    store.put_all(b"one", b"two")
    assert synced == ["file", "file", "dir"]
    store.put_all(b"one", b"two")   # already stored: nothing written, nothing to sync
    assert synced == ["file", "file", "dir"]


def test_a_failing_disk_is_refused_and_leaves_no_half_written_image(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(tmp_path / "images")

    def failing(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(StoreUnavailable, match="cannot be written"):
        store.put_all(b"front")
    assert list(store.dir.iterdir()) == []
