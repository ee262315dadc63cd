"""Issue 14 item 5: resolving a card while the hung printer's call for it is still running.

Found from outside: a card went `in_doubt` because its printer hung mid-card; the operator resolved
it `not_fed`, it was printed on the other printer, then the hung printer finished the original (two
ID cards for one resident) and its late answer was dropped without a log line, leaving the blank
ledger one card short. Against the real daemon (uvicorn, real sockets, the simulated printers'
own state files): the resolve is refused with 409 `printer_still_busy` while the call runs and the
late answer settles the card once; an operator who forces the resolve gets an alert when the
printer's late answer contradicts it, and the ledger is corrected to what left the hopper.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_revoked_streams import open_stream
from tests.support import Daemon, card_inside, config_text, daemon_thread, job_payload, printed_log, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    # a card of 1.4 s: long enough that the hang lands while it is inside the printer, even on a loaded CI
    with daemon_thread(config_text(time_scale=25.0), tmp_path / "state") as d:
        yield d


def job(c: httpx.Client, job_id: str) -> dict[str, Any]:
    return dict(c.get(f"/api/v1/jobs/{job_id}").json())


def hang_a_card_on_card1(c: httpx.Client, siak: httpx.Client, state_dir: Path) -> str:
    """card2 paused, a card starts on card1, card1 hangs mid-card: the card goes in doubt."""
    assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
    job_id = str(siak.post("/api/v1/jobs", json=job_payload(1)).json()["id"])
    # inside the printer, not only claimed (its card is prepared and the counters read first)
    wait_for(lambda: card_inside(state_dir, "card1") == job_id, interval=0.01, what="the card to start")
    assert c.post("/api/v1/printers/card1/faults", json={"kind": "hang"}).status_code in (200, 201)
    wait_for(lambda: job(c, job_id)["state"] == "in_doubt", what="the card to go in doubt")
    assert c.post("/api/v1/printers/card2/resume").status_code == 200   # another printer is ready to take it
    return job_id


def printed_by(state_dir: Path, job_id: str) -> dict[str, int]:
    return {p: sum(1 for r in printed_log(state_dir, p) if r["job_id"] == job_id) for p in ("card1", "card2")}


def printer_state(state_dir: Path, printer: str) -> dict[str, Any]:
    return dict(json.loads((state_dir / "printers" / printer / "state.json").read_text()))


def blanks_used_per_ledger(state_dir: Path, printer: str) -> int:
    """Blanks the ledger says left the printer's hopper into printed or spoiled cards (net of corrections)."""
    conn = sqlite3.connect(state_dir / "printd.sqlite3")
    try:
        out = conn.execute("SELECT COALESCE(SUM(count), 0) FROM ledger WHERE src = ? AND dst IN ('printed', 'spoiled', 'rusak')",
                           (f"hopper:{printer}",)).fetchone()[0]
        back = conn.execute("SELECT COALESCE(SUM(count), 0) FROM ledger WHERE dst = ? AND src IN ('printed', 'spoiled', 'rusak')",
                            (f"hopper:{printer}",)).fetchone()[0]
    finally:
        conn.close()
    return int(out) - int(back)


def test_resolve_is_refused_while_the_printer_still_owes_its_answer(daemon: Daemon) -> None:
    d = daemon
    with d.client() as c, d.client(d.enrollment) as siak:
        job_id = hang_a_card_on_card1(c, siak, d.state_dir)
        r = c.post(f"/api/v1/jobs/{job_id}/resolve", json={"outcome": "not_fed"})
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "printer_still_busy"
        assert "card1" in err["message"] and "may still come out" in err["message"]
        assert job(c, job_id)["state"] == "in_doubt"               # nothing changed
        # the printer recovers: its answer settles the card, printed once, by card1
        assert c.delete("/api/v1/printers/card1/faults").status_code == 200
        wait_for(lambda: job(c, job_id)["state"] == "printed", what="the late answer to settle the card")
        assert printed_by(d.state_dir, job_id) == {"card1": 1, "card2": 0}
        assert job(c, job_id)["printer"] == "card1"
        for p in ("card1", "card2"):
            assert blanks_used_per_ledger(d.state_dir, p) == printer_state(d.state_dir, p)["fed"]


def test_a_forced_resolve_contradicted_by_the_late_answer_raises_an_alert_and_corrects_the_ledger(
        daemon: Daemon) -> None:
    d = daemon
    with d.client() as c, d.client(d.enrollment) as siak, httpx.Client(base_url=d.url, timeout=60) as sse:
        stream = open_stream(sse, {"Authorization": f"Bearer {d.admin}"})
        job_id = hang_a_card_on_card1(c, siak, d.state_dir)
        r = c.post(f"/api/v1/jobs/{job_id}/resolve", json={"outcome": "not_fed", "force": True, "note": "hopper"})
        assert r.status_code == 200, r.text
        wait_for(lambda: job(c, job_id)["state"] == "printed", what="the reprint on card2")
        assert printed_by(d.state_dir, job_id) == {"card1": 0, "card2": 1}
        # the hung printer finishes the original after all: a duplicate card is in its tray
        assert c.delete("/api/v1/printers/card1/faults").status_code == 200
        wait_for(lambda: "late_answer_contradicts" in stream.text(), timeout=15, what="the alert")
        alert = next(json.loads(line[len("data: "):]) for line in stream.lines
                     if line.startswith("data: ") and "late_answer_contradicts" in line)
        assert alert["job_id"] == job_id and alert["printer"] == "card1"
        assert alert["recorded"] == "not_fed" and alert["late"] == "printed"
        assert "duplicate" in alert["message"]
        assert printed_by(d.state_dir, job_id) == {"card1": 1, "card2": 1}
        # the ledger now says what physically left each hopper
        for p in ("card1", "card2"):
            assert blanks_used_per_ledger(d.state_dir, p) == printer_state(d.state_dir, p)["fed"], p
        conn = sqlite3.connect(d.state_dir / "printd.sqlite3")
        try:
            actions = [r[0] for r in conn.execute("SELECT action FROM audit WHERE target = ? ORDER BY id", (job_id,))]
        finally:
            conn.close()
        assert "job.resolve.forced" in actions and "job.late_answer" in actions
        # end the stream from the daemon's side, so stopping it does not wait for this client
        d.app.state.station.events._loop.call_soon_threadsafe(lambda: d.app.state.streams.close("test over"))
        assert stream.ended.wait(10)
