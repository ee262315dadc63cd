"""Who a CLI command acts as and where it writes (printd/cli/identity.py, cli/common.open_database).

The privilege changes are real (setuid in a forked child, so the test process keeps root); the
installed `printd` command doing it end to end is in tests/test_install.py.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from printd.cli.identity import act_as_owner, sudo_line
from printd.cli.main import main

NOBODY = 65534


def _in_child(fn: Callable[[], str]) -> str:
    """Run `fn` in a forked child (it may drop root for good) and return what it wrote."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            out = fn()
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as text
            out = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
        os.write(write, out.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        text = fh.read()
    os.waitpid(pid, 0)
    return text


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory every user can reach (pytest's tmp_path is private to root)."""
    top = Path(tempfile.mkdtemp(prefix="printd-identity-", dir="/tmp"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top)


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("these tests change users; run them as root (CI does)")


def test_root_becomes_the_owner_of_the_state_directory(public_dir: Path) -> None:
    _need_root()
    state = public_dir / "state"
    state.mkdir(mode=0o750)
    os.chown(state, NOBODY, NOBODY)

    def child() -> str:
        act_as_owner(state)
        (state / "made-by-cli").write_text("x")
        st = (state / "made-by-cli").stat()
        return f"{os.geteuid()} {os.getegid()} {st.st_uid} {st.st_gid}"

    assert _in_child(child) == f"{NOBODY} {NOBODY} {NOBODY} {NOBODY}"


def test_root_stays_root_for_a_root_owned_directory(tmp_path: Path) -> None:
    _need_root()
    assert _in_child(lambda: (act_as_owner(tmp_path), str(os.geteuid()))[1]) == "0"


def test_another_user_is_told_the_sudo_line(public_dir: Path) -> None:
    _need_root()
    state = public_dir / "state"
    state.mkdir(mode=0o700)   # root's, like /var/lib/printd is printd's

    def child() -> str:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        try:
            act_as_owner(state)
        except click.ClickException as exc:
            return exc.message
        return "no refusal"

    said = _in_child(child)
    assert said.startswith(f"{state} belongs to root; run as its owner: sudo -u root printd "), said


def test_sudo_line_quotes_the_arguments() -> None:
    assert sudo_line("printd", ["user", "add", "ani", "--role", "operator", "--state-dir", "/var/lib/printd"]) == \
        "sudo -u printd printd user add ani --role operator --state-dir /var/lib/printd"
    assert sudo_line("printd", ["raw", "card1", "Rkn; x"]) == "sudo -u printd printd raw card1 'Rkn; x'"


def test_no_new_database_in_an_unnamed_state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRINTD_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["user", "add", "ani", "--role", "operator"], input="rahasia-sekali\n")
    assert r.exit_code == 1
    assert "no printd database in state/" in r.output and "--state-dir" in r.output
    assert not (tmp_path / "state").exists()
    r = CliRunner().invoke(main, ["token", "list"])
    assert r.exit_code == 1 and not (tmp_path / "state").exists()

    # `printd serve` starts a station there; after that the same command finds it
    (tmp_path / "state").mkdir()
    from printd.queue.db import Database

    Database(tmp_path / "state" / "printd.sqlite3").close()
    r = CliRunner().invoke(main, ["user", "add", "ani", "--role", "operator"], input="rahasia-sekali\n")
    assert r.exit_code == 0, r.output


def test_a_named_state_directory_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        r = CliRunner().invoke(main, ["token", "create", "--role", "enrollment", "--name", "siak",
                                      "--state-dir", str(tmp_path / "s")])
    finally:
        assert os.umask(old) == 0o022, "the command gives the caller's umask back"
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o700
    for f in (tmp_path / "s").glob("printd.sqlite3*"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
