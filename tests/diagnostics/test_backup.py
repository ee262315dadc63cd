"""`printd backup PATH` (printd/diagnostics/backup.py): one self-contained file, and no invented directories."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from printd.cli.main import main
from printd.diagnostics.backup import BackupFailed, backup_database
from printd.queue.db import Database


@pytest.fixture
def live(tmp_path: Path) -> Database:
    """A station database in use: WAL mode, with a -wal file holding uncheckpointed writes."""
    db = Database(tmp_path / "state" / "printd.sqlite3")
    with db.tx() as conn:
        conn.execute("INSERT INTO audit (at, actor, action) VALUES (1, 'test', 'backup.test')")
    assert Path(f"{db.path}-wal").exists()
    return db


def test_the_copy_is_one_file_with_no_wal_or_shm_beside_it(live: Database, tmp_path: Path) -> None:
    out_dir = tmp_path / "backups"
    out_dir.mkdir()
    try:
        info = backup_database(live.path, out_dir / "printd-2026-12-04.sqlite3")
    finally:
        live.close()
    assert info["integrity_check"] == "ok"
    assert [p.name for p in out_dir.iterdir()] == ["printd-2026-12-04.sqlite3"]
    # whoever opens it later (a restore, a check) does not make them either
    conn = sqlite3.connect(out_dir / "printd-2026-12-04.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT action FROM audit").fetchone()[0] == "backup.test"
    finally:
        conn.close()
    assert [p.name for p in out_dir.iterdir()] == ["printd-2026-12-04.sqlite3"]


def test_a_missing_directory_is_refused_not_created(live: Database, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "copy.sqlite3"
    try:
        with pytest.raises(BackupFailed, match=r"does not exist; create it first"):
            backup_database(live.path, target)
    finally:
        live.close()
    assert not (tmp_path / "no").exists()

    r = CliRunner().invoke(main, ["backup", str(target), "--state-dir", str(live.path.parent)])
    assert r.exit_code == 1
    assert f"{target.parent} does not exist" in r.output
    assert not (tmp_path / "no").exists()
