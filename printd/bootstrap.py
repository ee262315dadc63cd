"""First start: create the admin and enrollment tokens, shown once and kept in a 0600 file."""
from __future__ import annotations

import os
from pathlib import Path

from printd.accounts import Accounts

TOKENS_FILE = "initial-tokens.txt"
LOCAL_ADMIN = "local-admin"


def bootstrap_tokens(accounts: Accounts, state_dir: Path) -> Path | None:
    """On an empty token table, create `local-admin` (admin) and `enrollment` tokens.

    Returns the path of the file that holds them (mode 0600), or None when tokens existed already.
    """
    if accounts.has_tokens():
        return None
    admin, _ = accounts.create_token(LOCAL_ADMIN, "admin")
    enrollment, _ = accounts.create_token("enrollment", "enrollment")
    path = state_dir / TOKENS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# printd tokens created at first start; the database keeps only their hashes.\n"
                 "# Move them somewhere safe and delete this file.\n"
                 f"admin={admin}\nenrollment={enrollment}\n")
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
