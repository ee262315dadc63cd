"""`printd backup PATH`: a consistent copy of the station's database, safe while the daemon prints.

SQLite's online backup API copies a snapshot page by page without stopping the writer. The copy is
written beside PATH, turned into one self-contained file (rollback journal, so no `-wal`/`-shm` files
appear beside it), checked (`PRAGMA integrity_check`), made durable, and only then renamed onto PATH,
so PATH is never a half-written database. PATH's directory must exist. It holds personal data: mode 0600.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from printd.errors import PrintdError
from printd.queue.db import Database


class BackupFailed(PrintdError):
    """The copy could not be made or did not pass its check."""


def check_copy(path: Path) -> dict[str, Any]:
    """Integrity and schema version of a database file (opened read-only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        return {"integrity_check": "ok" if integrity == ["ok"] else integrity,
                "schema_version": int(conn.execute("PRAGMA user_version").fetchone()[0]),
                "jobs": int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]),
                "size_bytes": path.stat().st_size}
    finally:
        conn.close()


def standalone(path: Path) -> None:
    """Make the copy one self-contained file: rollback journal instead of WAL, so no -wal/-shm ever appear.

    The online backup copies the source's WAL flag with its first page; opened in WAL mode (by the check,
    or later by whoever restores it) the copy would grow `-wal` and `-shm` files beside it.
    """
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def backup_database(source: Path, dest: Path) -> dict[str, Any]:
    """Copy `source` to `dest` through the online backup API; returns the copy's check."""
    if not source.exists():
        raise BackupFailed(f"no database at {source}; check --state-dir")
    # a typo in the path must not become a new directory tree nobody looks after (or backs up)
    if not dest.parent.is_dir():
        raise BackupFailed(f"{dest.parent} does not exist; create it first (mkdir -p {dest.parent}) "
                           "or give another path")
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the copy holds personal data
    os.close(fd)
    try:
        db = Database(source)
        try:
            db.backup_to(tmp)
        finally:
            db.close()
        standalone(tmp)
        info = check_copy(tmp)
        if info["integrity_check"] != "ok":
            raise BackupFailed(f"the copy failed its integrity check: {info['integrity_check']}")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        dirfd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
    except BaseException:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    info["size_bytes"] = dest.stat().st_size
    return info
