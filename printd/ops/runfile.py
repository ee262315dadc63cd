"""`<state-dir>/daemon.json`: where the running daemon listens, for CLI commands run beside it.

`printd serve --listen 127.0.0.1:9000` overrides the config; without this file the CLI would knock on the
configured address and report a daemon that is not running. Written once the daemon is ready, removed at
a clean stop; a file left by a crash names a pid that is gone, so it is ignored.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

RUNFILE = "daemon.json"


def write(state_dir: Path, listen: str) -> None:
    """Record this process as the daemon listening on `listen` (atomically: a reader never sees half)."""
    path = state_dir / RUNFILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "listen": listen}))
    tmp.replace(path)


def remove(state_dir: Path) -> None:
    """Forget the record, if it is this process's."""
    path = state_dir / RUNFILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # exists, owned by another user (the service account)
    return True


def listen_address(state_dir: Path) -> str | None:
    """Where the daemon of `state_dir` listens, if one is running; else None."""
    try:
        doc = json.loads((state_dir / RUNFILE).read_text())
        pid, listen = int(doc["pid"]), str(doc["listen"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return listen if _alive(pid) else None
