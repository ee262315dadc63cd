"""A full database: submissions get 503 + Retry-After with nothing written; printing goes on; it recovers."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support import config_text, daemon_thread, job_payload, wait_for

pytestmark = pytest.mark.e2e


def _rows(state: Path) -> int:
    conn = sqlite3.connect(state / "printd.sqlite3")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    finally:
        conn.close()


def test_database_size_limit_refuses_new_jobs_but_finishes_the_queue(tmp_path: Path) -> None:
    with daemon_thread(config_text(time_scale=100), tmp_path / "state") as d:
        station = d.app.state.station
        with d.client(d.enrollment) as c, d.client() as admin:
            for name in ("card1", "card2"):
                admin.post(f"/api/v1/printers/{name}/pause", json={"when": "now"})
            queued = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(6)]
            conn = station.database.conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + 100}")   # below the 256-page reserve
            images_before = sorted(p.name for p in (d.state_dir / "images").iterdir())
            rows_before = _rows(d.state_dir)
            r = c.post("/api/v1/jobs", json=job_payload(100))
            assert r.status_code == 503 and r.headers["Retry-After"].isdigit()
            assert r.json()["error"]["code"] == "store_unavailable"
            assert _rows(d.state_dir) == rows_before
            assert sorted(p.name for p in (d.state_dir / "images").iterdir()) == images_before
            # the jobs already accepted still print
            for name in ("card1", "card2"):
                admin.post(f"/api/v1/printers/{name}/resume")
            wait_for(lambda: all(c.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in queued),
                     timeout=30, what="queue finished while full")
            # space returns: submissions work again, by themselves
            conn.execute("PRAGMA max_page_count = 1073741823")
            again = c.post("/api/v1/jobs", json=job_payload(100))
            assert again.status_code == 201


def test_a_write_that_hits_the_limit_leaves_nothing_half_written(tmp_path: Path) -> None:
    from printd.clock import StationClock
    from printd.errors import StoreUnavailable
    from printd.queue.db import Database
    from printd.queue.models import Priority
    from printd.queue.store import NewJob, Store

    db = Database(tmp_path / "x.sqlite3")
    store = Store(db, StationClock())
    pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
    db.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreUnavailable):
        for i in range(200):   # fill until a write fails
            store.submit(NewJob(client="c", request_id=f"r{i}", nik=f"327401120390{i + 1:04d}", name="X" * 2000,
                                card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha="a" * 64,
                                back_sha=None, callback_url=None))
    n = db.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.conn.execute("SELECT COUNT(*) FROM jobs WHERE request_id = ?", (f"r{n}",)).fetchone()[0] == 0
