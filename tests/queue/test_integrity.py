"""Issue 14, item 10: a damaged database is refused with one line; only a state dir without one starts afresh."""
from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from printd.queue.integrity import DatabaseDamaged, check_database, open_database
from tests.e2e.outsider import daemon, env, serve_cmd
from tests.support import ROOT, free_port, job_payload

pytestmark = pytest.mark.e2e


def _damage(db: Path, how: str) -> None:
    data = db.read_bytes()
    if how == "empty":
        db.write_bytes(b"")
    elif how == "truncated":
        db.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        db.write_bytes(data[:100] + b"\xa5" * (len(data) - 100))
    elif how == "not-sqlite":
        db.write_bytes(b"this is not a database\n" * 100)


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "not-sqlite"])
def test_a_damaged_database_is_refused_and_left_as_it_is(tmp_path: Path, how: str) -> None:
    state = tmp_path / "state"
    with daemon(tmp_path, state) as d, d.client(d.enrollment) as c:
        for i in range(40):   # enough rows for more than a few pages
            assert c.post("/api/v1/jobs", json=job_payload(i)).status_code == 201
    db = state / "printd.sqlite3"
    tokens = (state / "initial-tokens.txt").read_text()
    _damage(db, how)
    damaged = db.read_bytes()
    r = subprocess.run(serve_cmd(tmp_path / "printd.toml", state, free_port()), capture_output=True, text=True,
                       env=env(), cwd=str(ROOT), timeout=60)
    assert r.returncode != 0
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(db) in lines[0] and "printd backup" in lines[0] and "Traceback" not in r.stderr
    assert db.read_bytes() == damaged                       # not replaced by a new station
    assert (state / "initial-tokens.txt").read_text() == tokens
    # the CLI's writers refuse it too
    t = subprocess.run([*serve_cmd(tmp_path / "printd.toml", state, 1)[:3], "token", "create", "--role", "operator",
                        "--name", "x", "--state-dir", str(state)], capture_output=True, text=True, env=env(),
                       cwd=str(ROOT), timeout=60)
    assert t.returncode != 0 and "printd backup" in t.stderr
    assert db.read_bytes() == damaged


def test_a_state_dir_without_a_database_starts_a_new_station(tmp_path: Path) -> None:
    db = tmp_path / "printd.sqlite3"
    check_database(db)   # nothing there: fine
    open_database(db).close()
    check_database(db)
    assert not (tmp_path / "printd.sqlite3.new").exists()
    conn = sqlite3.connect(db)
    assert "jobs" in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    db.write_bytes(b"")
    with pytest.raises(DatabaseDamaged, match="empty"):
        open_database(db)
