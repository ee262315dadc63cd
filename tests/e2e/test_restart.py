"""`systemctl restart printd` as an office lives it: mid-card, with the page open, after an operator's pause.

The daemon is the real `printd serve` in a subprocess, stopped with SIGTERM as systemd stops it.
"""
from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from tests.support import (
    Daemon,
    config_text,
    free_port,
    job_payload,
    printed_log,
    start_process,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: a card that takes longer than the 10 s a stop used to allow (real time, time_scale 1)
CARD_S = 12.0


def _one_slow_printer() -> str:
    return ('[printers.card1]\ndriver = "mock"\ntime_scale = 1.0\nhopper_capacity = 50\n'
            f"seconds_single = {CARD_S}\nseconds_dual = {CARD_S}\n")


def _job_row(state: Path, job_id: str) -> tuple[str, list[tuple[int, str]]]:
    conn = sqlite3.connect(f"file:{state / 'printd.sqlite3'}?mode=ro", uri=True)
    try:
        job_state = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        attempts = conn.execute("SELECT n, outcome FROM attempts WHERE job_id = ? ORDER BY n", (job_id,)).fetchall()
        return job_state, [(int(n), str(o)) for n, o in attempts]
    finally:
        conn.close()


def _listen(d: Daemon, seen: list[str], ended: threading.Event) -> None:
    """The page's event stream: record event names until the daemon ends it."""
    try:
        with httpx.stream("GET", f"{d.url}/api/v1/events", headers={"Authorization": f"Bearer {d.admin}"},
                          timeout=httpx.Timeout(60.0, connect=5.0)) as r:
            seen.extend(line.removeprefix("event: ") for line in r.iter_lines() if line.startswith("event: "))
    except httpx.HTTPError as exc:
        seen.append(f"error: {type(exc).__name__}")
    finally:
        ended.set()


def test_a_restart_mid_card_lets_the_card_finish_and_closes_the_event_streams(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "daemon.log"
    cfg = tmp_path / "printd.toml"
    cfg.write_text(config_text(printers=_one_slow_printer()))
    port = free_port()
    d = start_process(cfg, state, port, log)
    try:
        seen: list[str] = []
        ended = threading.Event()
        listener = threading.Thread(target=_listen, args=(d, seen, ended), daemon=True)
        listener.start()
        with d.client() as c:
            job = c.post("/api/v1/jobs", json=job_payload(1), headers={"Authorization": f"Bearer {d.enrollment}"})
            assert job.status_code == 201, job.text
            job_id = job.json()["id"]
            wait_for(lambda: c.get(f"/api/v1/jobs/{job_id}").json()["state"] == "printing", timeout=30,
                     what="the card in the printer")
        assert d.process is not None
        d.process.send_signal(signal.SIGTERM)   # what systemctl stop/restart sends
        assert ended.wait(5), "the event stream ends as soon as the stop begins, not when the card is out"
        # uvicorn re-raises SIGTERM once it has stopped: systemd counts that as a clean exit
        assert d.process.wait(CARD_S + 60) in (0, -signal.SIGTERM)
    finally:
        stop(d)
    assert "stopping" in seen, seen
    text = log.read_text()
    assert "Traceback" not in text, text
    assert "stopping with a card still in the printer" not in text
    assert "Cancel " not in text and "timeout graceful shutdown exceeded" not in text
    # the card came out during the stop and was booked then: nothing in doubt for the next start
    assert _job_row(state, job_id) == ("printed", [(1, "printed")])
    assert [e["job_id"] for e in printed_log(state, "card1")] == [job_id]

    d = start_process(cfg, state, port, log)
    try:
        with d.client() as c:
            assert c.get(f"/api/v1/jobs/{job_id}").json()["state"] == "printed"
            assert c.get("/api/v1/jobs", params={"state": "in_doubt"}).json()["items"] == []
    finally:
        stop(d)
    assert "in flight at the last stop" not in log.read_text()


def test_a_pause_and_reject_new_jobs_survive_a_restart(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "daemon.log"
    cfg = tmp_path / "printd.toml"
    cfg.write_text(config_text())
    port = free_port()
    d = start_process(cfg, state, port, log)
    try:
        with d.client() as c:
            assert c.post("/api/v1/printers/card1/pause", json={"when": "now"}).status_code == 200
            assert c.post("/api/v1/printers/card2/reject").status_code == 200
    finally:
        stop(d)

    d = start_process(cfg, state, port, log)   # as after a watchdog restart
    try:
        with d.client() as c:
            printers = {p["name"]: p for p in c.get("/api/v1/printers").json()}
            assert (printers["card1"]["enabled"], printers["card1"]["accepting"]) == (False, True)
            assert (printers["card2"]["enabled"], printers["card2"]["accepting"]) == (True, False)
            assert "paused" in printers["card1"]["reasons"]
            # neither prints: the job waits
            job = c.post("/api/v1/jobs", json=job_payload(7), headers={"Authorization": f"Bearer {d.enrollment}"})
            job_id = job.json()["id"]
            assert c.get(f"/api/v1/jobs/{job_id}").json()["state"] == "queued"
            # turned on again, and that is kept too
            assert c.post("/api/v1/printers/card1/resume").status_code == 200
            assert c.post("/api/v1/printers/card2/accept").status_code == 200
            wait_for(lambda: c.get(f"/api/v1/jobs/{job_id}").json()["state"] == "printed", what="printed")
    finally:
        stop(d)

    d = start_process(cfg, state, port, log)
    try:
        with d.client() as c:
            printers = {p["name"]: p for p in c.get("/api/v1/printers").json()}
            assert all(p["enabled"] and p["accepting"] for p in printers.values()), printers
    finally:
        stop(d)
    text = log.read_text()
    # the operator's actions and the restored switches are in the journal
    assert "printer.pause by token:local-admin on card1 (when=now)" in text
    assert "printer.reject by token:local-admin on card2" in text
    assert "card1: paused by an operator before the restart" in text
    assert "card2: rejecting new jobs by an operator before the restart" in text
