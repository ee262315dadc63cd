"""First start: create the admin and enrollment tokens, kept in a 0600 file (and shown once in a terminal).

Under systemd stderr is the journal, which any member of `adm`/`systemd-journal` reads and which a
support bundle may carry off: there only the file's path is said, never the tokens.
"""
from __future__ import annotations

import os
from pathlib import Path

from printd.access.accounts import Accounts
from printd.queue.models import Role

TOKENS_FILE = "initial-tokens.txt"
LOCAL_ADMIN = "local-admin"


def bootstrap_tokens(accounts: Accounts, state_dir: Path) -> Path | None:
    """At first start, create the `local-admin` (admin) and `enrollment` tokens.

    First start means: no admin token was ever created (revoked ones count, so an admin who replaced
    `local-admin` with a named one does not get it back). An installer may create the enrollment
    system's token with `printd token create` before the daemon first runs: then only the admin token
    is created, since a second enrollment credential nobody asked for is one more secret to leak.

    Returns the path of the file that holds the new tokens (mode 0600), or None when nothing was created.
    """
    if accounts.has_tokens(Role.ADMIN):
        return None
    lines = [f"admin={accounts.create_token(LOCAL_ADMIN, Role.ADMIN)[0]}"]
    if not accounts.has_tokens(Role.ENROLLMENT):
        lines.append(f"enrollment={accounts.create_token('enrollment', Role.ENROLLMENT)[0]}")
    path = state_dir / TOKENS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# printd tokens created at first start; the database keeps only their hashes.\n"
                 "# Move them somewhere safe and delete this file.\n" + "".join(f"{line}\n" for line in lines))
    os.chmod(path, 0o600)
    return path


def read_local_admin_token(state_dir: Path) -> str | None:
    """The admin token from the first-start file, for CLI commands that talk to the daemon."""
    env = os.environ.get("PRINTD_TOKEN")
    if env:
        return env
    path = state_dir / TOKENS_FILE
    try:
        for line in path.read_text().splitlines():
            if line.startswith("admin="):
                return line.split("=", 1)[1].strip()
    except OSError:
        return None
    return None


def first_start_message(path: Path, *, show_tokens: bool) -> str:
    """What `printd serve` says about the tokens it just created: the tokens themselves only in a terminal."""
    if not show_tokens:
        return (f"First start: tokens created in {path} (mode 0600, readable by the service's user only); "
                f"read them with: sudo cat {path}")
    return (f"First start: tokens created. They are shown once here and kept in {path} (mode 0600):\n"
            + path.read_text())
