"""The image store (printd/queue/images.py) on a real directory: content addressing, and a submission's
file names made durable with its batch (one directory fsync for the batch, issue 20)."""
from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from printd.errors import StoreUnavailable
from printd.queue.images import ImageStore


def _fsyncs_of(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fsync of the store's directory, counted at the system call."""
    calls: list[int] = []
    real = os.fsync
    dir_ino = store.dir.stat().st_ino

    def counting(fd: int) -> None:
        if os.fstat(fd).st_ino == dir_ino:
            calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_identical_images_are_stored_once_under_their_sha256(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    a, b = store.put_all(b"front-bytes", b"back-bytes")
    assert a == hashlib.sha256(b"front-bytes").hexdigest() and store.get(a) == b"front-bytes"
    assert store.put(b"front-bytes") == a and sorted(store.all()) == sorted([a, b])
    assert not [p for p in store.dir.iterdir() if ".tmp" in p.name]   # no temporary file is left


def test_a_put_syncs_the_directory_at_once_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(tmp_path / "images")
    dir_syncs = _fsyncs_of(store, monkeypatch)
    store.put_all(b"one", b"two")
    assert len(dir_syncs) == 1
    store.sync_dir()
    assert len(dir_syncs) == 1   # nothing left for a batch to sync


def test_deferred_names_are_synced_once_for_many_puts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Submissions write with sync_dir=False; their batch's one sync_dir covers every name renamed before it."""
    store = ImageStore(tmp_path / "images")
    dir_syncs = _fsyncs_of(store, monkeypatch)
    for i in range(5):
        store.put_all(f"front {i}".encode(), f"back {i}".encode(), sync_dir=False)
    assert dir_syncs == []
    store.sync_dir()
    assert len(dir_syncs) == 1
    store.sync_dir()
    assert len(dir_syncs) == 1   # a no-op when nothing was renamed since
    store.put_all(b"front 0", sync_dir=False)   # already stored: no rename, nothing to sync
    store.sync_dir()
    assert len(dir_syncs) == 1


def test_a_failed_directory_sync_is_refused_and_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(tmp_path / "images")
    store.put_all(b"front", sync_dir=False)
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error")))
    with pytest.raises(StoreUnavailable, match="cannot be written"):
        store.sync_dir()
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    store.sync_dir()   # still pending after the failure: the next batch syncs it
    assert len(synced) == 1
