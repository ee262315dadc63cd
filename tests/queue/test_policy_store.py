"""The saved rationing policy: it wins over the config file's until reset, survives reopening, and its
history and audit rows are written together and cannot be rewritten."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from printd.clock import StationClock
from printd.config import PolicyConfig
from printd.queue.db import Database
from printd.queue.policy_store import CONFIG, SAVED, PolicyStore

FILE = PolicyConfig(quota_per_reason={"other": 5})


def open_store(path: Path) -> tuple[Database, PolicyStore]:
    db = Database(path)
    store = PolicyStore(db, StationClock(), FILE)
    store.load()
    return db, store


def test_saved_wins_until_reset_and_survives_reopening(tmp_path: Path) -> None:
    db, store = open_store(tmp_path / "p.sqlite3")
    assert store.effective == FILE and store.view()["source"] == CONFIG
    mine = PolicyConfig(ration_print=("new", "lost"), ration_ribbon_below=20, quota_per_client={"siak": 650})
    store.save(mine, "session:kepala")
    assert store.effective == mine
    db.close()
    db, store = open_store(tmp_path / "p.sqlite3")
    view = store.view()
    assert (view["source"], view["saved_by"], view["effective"]["ration_print"]) == (SAVED, "session:kepala",
                                                                                     ["new", "lost"])
    assert view["config"]["quota_per_reason"] == {"other": 5}
    store.save(None, "session:kepala")
    assert store.effective == FILE
    db.close()
    db, store = open_store(tmp_path / "p.sqlite3")
    assert store.saved is None and store.view()["saved"] is None
    actions = [r[0] for r in db.conn.execute("SELECT action FROM audit WHERE target = 'policy' ORDER BY id")]
    assert actions == ["policy.save", "policy.reset"]
    db.close()


def test_the_history_is_append_only(tmp_path: Path) -> None:
    db, store = open_store(tmp_path / "p.sqlite3")
    store.save(PolicyConfig(ration_blanks_below=100), "token:admin")
    for sql in ("UPDATE policy_versions SET actor = 'x'", "DELETE FROM policy_versions"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.conn.execute(sql)
    db.close()
