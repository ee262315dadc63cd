"""Card images beside the database: content-addressed files, written durably, deleted at retention."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


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
        """Store durably (fsync file and directory) and return the sha256."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        try:
            # already stored (same image again): refresh its time, so a retention purge running right
            # now (its grace period) leaves it for the job row about to reference it
            os.utime(target)
            return sha
        except FileNotFoundError:
            pass
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return sha

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
