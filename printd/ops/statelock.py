"""One daemon per state directory: an exclusive `fcntl` lock on `<state-dir>/printd.lock`.

Two daemons on one state directory each dispatched the same queue and printed cards twice (issue 14:
2 of 16). The lock is taken before the database, the card images or any printer is opened, and held
until the process ends (the kernel drops it when the process dies, so a crash leaves no stale lock).
The file holds the holder's pid, so the second daemon can say who holds it.

CLI commands that write (token, user, purge) do one SQLite transaction each, which SQLite serialises
with the daemon's writes, and the daemon re-reads accounts on every request: they need not stop the
daemon and do not take this lock. Only a process that dispatches and drives printers takes it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Self

from printd.errors import PrintdError

LOCK_NAME = "printd.lock"


class StateDirBusy(PrintdError):
    """Another printd holds the state directory."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        who = f"printd pid {pid}" if pid else "another printd"
        super().__init__(f"state directory {state_dir} is in use by {who} (lock {state_dir / LOCK_NAME}); "
                         "stop that daemon first, or give this one its own --state-dir")
        self.pid = pid


class StateLock:
    """Hold the state directory's lock for as long as this object is open."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> Self:
        """Take the lock at once or raise StateDirBusy naming the holder's pid."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StateDirBusy(self.state_dir, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            # the pid is left in the file: only the lock says whether it is held
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
