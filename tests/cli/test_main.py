"""The fixed CLI interfaces installers and scripts rely on (DESIGN.md "Fixed interfaces")."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from printd.access.accounts import Accounts
from printd.queue.db import Database
from tests.support import ROOT, config_text


def printd(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "printd", *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=60)


def test_token_create_prints_the_token_alone_on_the_last_line(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text(config_text())
    r = printd("token", "create", "--role", "enrollment", "--name", "siak", "--config", str(cfg),
               "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("pd_") and " " not in token
    principal = Accounts(Database(tmp_path / "s" / "printd.sqlite3")).verify_token(token)
    assert principal is not None and principal.name == "siak" and principal.role.value == "enrollment"
    secret = printd("token", "webhook-secret", "siak", "--state-dir", str(tmp_path / "s")).stdout.splitlines()[-1]
    assert secret.startswith("whsec_")
    # the database keeps only a hash
    assert token.encode() not in (tmp_path / "s" / "printd.sqlite3").read_bytes()
    listed = printd("token", "list", "--state-dir", str(tmp_path / "s"))
    assert "siak" in listed.stdout and token not in listed.stdout
    assert printd("token", "revoke", "siak", "--state-dir", str(tmp_path / "s")).returncode == 0
    assert Accounts(Database(tmp_path / "s" / "printd.sqlite3")).verify_token(token) is None


def test_environment_variables_stand_for_the_options(tmp_path: Path) -> None:
    env = {"PRINTD_STATE_DIR": str(tmp_path / "envstate")}
    r = printd("token", "create", "--role", "operator", "--name", "op", env=env)
    assert r.returncode == 0 and (tmp_path / "envstate" / "printd.sqlite3").exists()


def test_user_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    state = str(tmp_path / "s")
    assert printd("user", "add", "ani", "--role", "operator", "--state-dir", state,
                  stdin="sangat-rahasia\n").returncode == 0
    # a second identical line, as a confirmation prompt would take, is accepted
    assert printd("user", "add", "budi", "--role", "technician", "--state-dir", state,
                  stdin="sangat-rahasia\nsangat-rahasia\n").returncode == 0
    bad = printd("user", "add", "cici", "--role", "operator", "--state-dir", state, stdin="satu-dua-tiga\nlain\n")
    assert bad.returncode != 0 and "differ" in bad.stderr
    accounts = Accounts(Database(tmp_path / "s" / "printd.sqlite3"))
    assert accounts.verify_user("ani", "sangat-rahasia") is not None
    assert accounts.verify_user("ani", "salah-sandi") is None
    assert b"sangat-rahasia" not in (tmp_path / "s" / "printd.sqlite3").read_bytes()


def test_serve_refuses_a_bad_config_with_one_line_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[printers.card1]\ndriver = "mock"\ntime_scale = "fast"\n')
    r = printd("serve", "--config", str(cfg), "--state-dir", str(tmp_path / "s"))
    assert r.returncode != 0
    assert f"{cfg}: [printers.card1.time_scale]" in r.stderr
    assert not (tmp_path / "s" / "printd.sqlite3").exists()
    missing = printd("serve", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode != 0 and "config file not found" in missing.stderr
