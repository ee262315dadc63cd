"""First start: the admin and enrollment tokens, shown once and kept in a 0600 file."""
from __future__ import annotations

import stat
from pathlib import Path

import httpx

from printd.access.accounts import Accounts
from printd.access.bootstrap import TOKENS_FILE, bootstrap_tokens
from printd.queue.db import Database
from tests.cli.test_main import printd
from tests.support import config_text, daemon_thread


def tokens_in(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def accounts(state: Path) -> Accounts:
    state.mkdir(parents=True, exist_ok=True)
    return Accounts(Database(state / "printd.sqlite3"))


def test_first_start_creates_an_admin_and_an_enrollment_token_in_a_private_file(tmp_path: Path) -> None:
    acc = accounts(tmp_path)
    path = bootstrap_tokens(acc, tmp_path)
    assert path == tmp_path / TOKENS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tokens = tokens_in(path)
    assert set(tokens) == {"admin", "enrollment"}
    admin, enrollment = acc.verify_token(tokens["admin"]), acc.verify_token(tokens["enrollment"])
    assert admin is not None and admin.role.value == "admin"
    assert enrollment is not None and enrollment.role.value == "enrollment"
    # the database keeps hashes only
    db = (tmp_path / "printd.sqlite3").read_bytes() + (tmp_path / "printd.sqlite3-wal").read_bytes()
    assert all(t.encode() not in db for t in tokens.values())


def test_a_second_start_creates_nothing_and_leaves_the_file_alone(tmp_path: Path) -> None:
    acc = accounts(tmp_path)
    first = tokens_in(bootstrap_tokens(acc, tmp_path))  # type: ignore[arg-type]
    assert bootstrap_tokens(acc, tmp_path) is None
    assert tokens_in(tmp_path / TOKENS_FILE) == first
    assert len(acc.list_tokens()) == 2


def test_an_enrollment_token_made_by_the_installer_gets_no_twin_but_an_admin_token_is_made(tmp_path: Path) -> None:
    acc = accounts(tmp_path)
    siak, _ = acc.create_token("siak", "enrollment")
    path = bootstrap_tokens(acc, tmp_path)
    assert path is not None
    tokens = tokens_in(path)
    assert set(tokens) == {"admin"}
    admin = acc.verify_token(tokens["admin"])
    assert admin is not None and admin.role.value == "admin"
    assert [t["name"] for t in acc.list_tokens()] == ["siak", "local-admin"]
    assert acc.verify_token(siak) is not None


def test_an_admin_who_replaced_the_first_admin_token_does_not_get_it_back(tmp_path: Path) -> None:
    acc = accounts(tmp_path)
    bootstrap_tokens(acc, tmp_path)
    acc.create_token("kepala-seksi", "admin")
    acc.revoke_token("local-admin")
    (tmp_path / TOKENS_FILE).unlink()   # as the file itself tells the admin to do
    assert bootstrap_tokens(acc, tmp_path) is None
    assert not (tmp_path / TOKENS_FILE).exists()


def test_token_created_before_the_first_serve_still_leaves_the_daemon_an_admin_token(tmp_path: Path) -> None:
    state = tmp_path / "state"
    r = printd("token", "create", "--role", "enrollment", "--name", "siak", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    siak = r.stdout.strip().splitlines()[-1]
    with daemon_thread(config_text(), state) as d:
        assert d.admin and not d.enrollment
        with httpx.Client(base_url=d.url, headers={"Authorization": f"Bearer {d.admin}"}) as admin:
            assert admin.get("/api/v1/printers").status_code == 200
        with httpx.Client(base_url=d.url, headers={"Authorization": f"Bearer {siak}"}) as enrollment:
            assert enrollment.get("/api/v1/jobs").status_code == 200


def _first_serve(tmp_path: Path, extra_env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """`printd serve` on a fresh state directory until healthy; its stderr and the tokens it made."""
    import os
    import subprocess
    import sys

    from tests.support import ROOT, free_port, wait_healthy

    state = tmp_path / "state"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra_env)
    proc = subprocess.Popen([sys.executable, "-m", "printd", "serve", "--state-dir", str(state),
                             "--listen", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, cwd=ROOT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc=proc)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    return (out + err).decode(), tokens_in(state / TOKENS_FILE)


def test_under_systemd_the_first_start_says_where_the_tokens_are_not_what_they_are(tmp_path: Path) -> None:
    # systemd sets both for a service whose stderr is the journal (systemd.exec(5), "Environment Variables
    # Set or Propagated by the Service Manager")
    said, made = _first_serve(tmp_path, {"INVOCATION_ID": "0123456789abcdef0123456789abcdef",
                                         "JOURNAL_STREAM": "8:12345"})
    assert set(made) == {"admin", "enrollment"}
    for token in made.values():
        assert token not in said
        assert token.removeprefix("pd_") not in said
    assert f"tokens created in {tmp_path / 'state' / TOKENS_FILE} (mode 0600" in said


def test_in_a_terminal_the_first_start_shows_the_tokens_once(tmp_path: Path) -> None:
    said, made = _first_serve(tmp_path, {})
    for token in made.values():
        assert said.count(token) == 1
