"""Opening the station's database: a new one only where there is none, never over a damaged one.

SQLite takes a zero-length file for an empty database, so a database emptied by a bad restore or a
full disk made printd start a new station over it (new tokens, an empty ledger: the blanks on hand
and the cards in doubt forgotten; issue 14). Now:

- no database file: first start. The schema is written to a temporary file and renamed into place,
  so an interrupted first start leaves no empty database behind;
- a database that is empty, not SQLite, truncated or corrupt, or has no schema: refused with one line
  that says how to restore the last `printd backup`.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from printd.errors import PrintdError
from printd.queue.db import Database

_MAGIC = b"SQLite format 3\x00"
RESTORE_HINT = ("restore the last backup: stop printd, copy the file `printd backup` wrote to {path}, and start "
                "printd again (operations.md, 'Backups and restoring one'); printd does not start a new station "
                "over it")


class DatabaseDamaged(PrintdError):
    """The state directory has a database, but not a usable one."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"the database {path} {what}: " + RESTORE_HINT.format(path=path))
        self.path = path


def check_database(path: Path) -> None:
    """Raise DatabaseDamaged unless `path` is a readable printd database (or does not exist)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        raise DatabaseDamaged(path, "is empty (0 bytes)")
    with open(path, "rb") as fh:
        header = fh.read(100)
    if not header.startswith(_MAGIC):
        raise DatabaseDamaged(path, "is not an SQLite database")
    if len(header) == 100:
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        # pages in the header are only trusted when the "version-valid-for" number matches (SQLite's rule)
        if header[24:28] == header[92:96] and page_size and size < pages * page_size and not _has_wal(path):
            raise DatabaseDamaged(path, f"is truncated ({size} of {pages * page_size} bytes)")
    try:
        # read-write, as the daemon opens it: a crash's WAL is recovered as it would be anyway
        conn = sqlite3.connect(str(path), timeout=10)
    except sqlite3.Error as exc:
        raise DatabaseDamaged(path, f"cannot be opened ({exc})") from None
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        result = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.Error as exc:
        raise DatabaseDamaged(path, f"is corrupt ({exc})") from None
    finally:
        conn.close()
    if result != ["ok"]:
        raise DatabaseDamaged(path, f"is corrupt ({'; '.join(result)[:200]})")
    if version < 1 or "jobs" not in tables:
        raise DatabaseDamaged(path, "has no printd schema")


def _has_wal(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    return wal.exists() and wal.stat().st_size > 0


def open_database(path: Path) -> Database:
    """The station's database: checked when it exists, created whole (schema included) when it does not."""
    if path.exists():
        check_database(path)
        return Database(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    Database(tmp).close()   # closing the last connection checkpoints the WAL into the file
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)   # never replaces a database another process created meanwhile
    except FileExistsError:
        pass
    tmp.unlink()
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    check_database(path)
    return Database(path)
