"""Card images beside the database: content-addressed files, written durably, deleted at retention."""
from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

from printd.errors import StoreUnavailable

#: write errors that mean "the disk cannot take it now" (-> 503 with Retry-After), not a bug (-> 500)
_CANNOT_PERSIST = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE})


class ImageStore:
    """`<dir>/<sha256>.img`; identical images are stored once."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, sha: str) -> Path:
        if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
            raise ValueError("not a sha256 hex digest")
        return self.dir / f"{sha}.img"

    def put(self, data: bytes) -> str:
        """Store durably (fsync file and directory) and return the sha256. Thread-safe."""
        return self.put_all(data)[0]

    def put_all(self, *images: bytes) -> list[str]:
        """Store several images durably with one directory fsync; returns their sha256s in order.

        Safe to call from several threads at once (submissions write in parallel, off the database
        thread): each writer has its own temporary file, and identical content renames onto the
        same name with the same bytes. A read-only or full disk raises StoreUnavailable.
        """
        try:
            return self._put_all(images)
        except OSError as exc:
            if exc.errno in _CANNOT_PERSIST:
                raise StoreUnavailable(f"card images cannot be written to {self.dir}: {exc.strerror}") from exc
            raise

    def _put_all(self, images: tuple[bytes, ...]) -> list[str]:
        shas = []
        written = False
        for data in images:
            sha = hashlib.sha256(data).hexdigest()
            shas.append(sha)
            target = self.path(sha)
            try:
                # already stored (same image again): refresh its time, so a retention purge running right
                # now (its grace period) leaves it for the job row about to reference it
                os.utime(target)
                continue
            except FileNotFoundError:
                pass
            tmp = target.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:   # os.write may write less than asked
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                tmp.unlink(missing_ok=True)   # a full disk must not keep half an image
                raise
            os.close(fd)
            os.replace(tmp, target)
            written = True
        if written:
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        return shas

    def get(self, sha: str) -> bytes:
        return self.path(sha).read_bytes()

    def delete(self, sha: str) -> bool:
        try:
            self.path(sha).unlink()
            return True
        except FileNotFoundError:
            return False

    def all(self) -> list[str]:
        return [p.stem for p in self.dir.glob("*.img")]
