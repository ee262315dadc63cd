"""Who a CLI command acts as, and where it may write: the station's data stays the service's.

On an installed station `/var/lib/printd` belongs to the `printd` user the service runs as. A command
run as root there would leave root-owned files (a `-wal` file, a new database) that the service then
cannot open, so root becomes the directory's owner before anything is opened; any other user who cannot
write there is told the `sudo -u OWNER ...` line to use. The umask is tightened for every command, so
a database or card image made by hand is not readable by other users (it holds personal data).
"""
from __future__ import annotations

import os
import pwd
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

#: files 0600, directories 0700 at most, whatever umask the shell had (systemd's UMask=0027 included)
PRIVATE_UMASK = 0o077


@contextmanager
def private_umask() -> Iterator[None]:
    """While a command runs: the caller's umask plus group/other bits, so state files are 0600/0700."""
    before = os.umask(PRIVATE_UMASK)
    os.umask(before | PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(before)   # CLI commands also run inside other processes (tests, tools)


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def sudo_line(owner: str, argv: list[str] | None = None) -> str:
    """The command line to run instead: the same printd command as the directory's owner."""
    args = sys.argv[1:] if argv is None else argv
    return "sudo -u " + shlex.quote(owner) + " printd " + " ".join(shlex.quote(a) for a in args)


def become(uid: int, gid: int) -> None:
    """Drop root for `uid`/`gid` with that user's supplementary groups (lp, dialout), for good."""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        os.setgroups([gid])   # an owner without a passwd entry (a staging tree): its group only
    else:
        os.initgroups(name, gid)
    os.setgid(gid)
    os.setuid(uid)


def act_as_owner(state_dir: Path) -> None:
    """Before a command touches `state_dir`: as root become its owner; as another user, refuse if it cannot write.

    A directory that does not exist yet is left to the command (see `common.station_database`).
    """
    try:
        st = state_dir.stat()
    except FileNotFoundError:
        return
    except PermissionError:
        raise click.ClickException(
            f"{state_dir} cannot be reached by this user; run as the station's user: "
            f"{sudo_line('printd')}") from None
    if os.geteuid() == 0:
        if st.st_uid != 0:
            become(st.st_uid, st.st_gid)
        return
    if st.st_uid == os.geteuid() or os.access(state_dir, os.R_OK | os.W_OK | os.X_OK):
        return
    raise click.ClickException(f"{state_dir} belongs to {_owner_name(st.st_uid)}; run as its owner: "
                               f"{sudo_line(_owner_name(st.st_uid))}")
