"""The diagnostics document: state history arithmetic, the document of a real station, and the
`printd diag` text layout (snapshot)."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from printd.cli.main import main
from printd.clock import StationClock
from printd.config import parse
from printd.diagnostics.collect import collect, jsonable
from printd.diagnostics.history import state_history
from printd.diagnostics.render import duration, render_text
from printd.drivers.base import Reason
from printd.queue import ledger
from printd.queue.db import Database
from printd.queue.ledger import EntryKind
from printd.queue.models import JobState, Priority
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text, daemon_thread, job_payload, wait_for

SNAPSHOTS = Path(__file__).parent / "snapshots"
ONE_PRINTER = ('[printers.card1]\ndriver = "mock"\ntime_scale = 500.0\nhopper_capacity = 400\n'
               'serial = "SN-DIAG-0001"\n')


# ---------------------------------------------------------------------------------------------- history

def _event(db: Database, at: float, state: str, reasons: list[str], printer: str = "card1") -> None:
    with db.tx() as c:
        c.execute("INSERT INTO printer_events (at, printer, state, reasons) VALUES (?,?,?,?)",
                  (at, printer, state, json.dumps(reasons)))


def _attempt(db: Database, job: str, at: float, outcome: str, printer: str = "card1") -> None:
    with db.tx() as c:
        c.execute("INSERT INTO jobs (id, seq, client, request_id, content_hash, nik_masked, card_type,"
                  " reason, priority, state, created_at, updated_at, day)"
                  " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  (job, int(at), "t", job, "h", "x", "ktp-el", "new", "normal", "printed", at, at, "d"))
        c.execute("INSERT INTO attempts (job_id, n, printer, outcome, started_at, ended_at)"
                  " VALUES (?,?,?,?,?,?)",
                  (job, 1, printer, outcome, at, at + 1))


def test_state_history_adds_up_time_faults_and_cards(db: Database) -> None:
    clock = StationClock("Asia/Jakarta")
    now = 1_790_000_000.0
    day = 86400.0
    # before the window: the printer was stopped by a jam (so the window starts `stopped`, not unknown)
    _event(db, now - 31 * day, "stopped", ["media-jam"])
    _event(db, now - 1000, "idle", [])
    _event(db, now - 900, "printing", [])
    _event(db, now - 800, "idle", ["media-low"])                 # a warning: no fault
    _event(db, now - 700, "stopped", ["media-jam"])               # fault 1
    _event(db, now - 650, "stopped", ["media-jam", "cover-open"])  # fault 2 (a new stopping reason)
    _event(db, now - 600, "idle", [])
    _event(db, now - 500, "stopped", ["media-empty"])             # a supply stop, not a fault
    _event(db, now - 400, "paused", ["paused"])                   # the operator: no fault
    _event(db, now - 300, "offline", ["offline"])                 # fault 3
    _event(db, now - 100, "idle", [])
    _event(db, now - 50, "stopped", ["media-jam"], printer="card2")  # another printer: ignored
    for i in range(4):
        _attempt(db, f"j{i}", now - 880 + i, "printed")
    _attempt(db, "j9", now - 690, "spoiled")
    _attempt(db, "j8", now - 40 * day, "printed")                 # outside the window
    with db.tx() as c:
        ledger.book(c, day=clock.day(now - 10), kind=EntryKind.TEST, card_type="ktp-el", count=1,
                    src="hopper:card1", dst="test", printer="card1", actor="t", at=now - 10)

    h = state_history(db, "card1", clock, now, days=30)

    assert h["seconds_in_state"] == {"idle": 400.0, "offline": 200.0, "paused": 100.0, "printing": 100.0,
                                     "stopped": 30 * day - 1000 + 200.0}
    assert "unknown" not in h["seconds_in_state"]
    assert h["faults"] == 3
    assert h["faults_by_reason"] == {"media-jam": 1, "cover-open": 1, "offline": 1}
    assert h["supply_stops"] == {"media-empty": 1}
    assert (h["cards"], h["printed"], h["spoiled"], h["test"]) == (6, 4, 1, 1)
    assert h["faults_per_100_cards"] == 50.0
    assert h["events"] == 10
    assert sum(h["share_in_state"].values()) == pytest.approx(1.0, abs=1e-3)
    assert [(d["printed"], d["spoiled"], d["test"], d["faults"]) for d in h["by_day"]] == [(4, 1, 1, 3)]


def test_state_history_of_a_new_printer_is_unknown_and_has_no_rate(db: Database) -> None:
    h = state_history(db, "card1", StationClock("Asia/Jakarta"), 1_790_000_000.0)
    assert h["seconds_in_state"] == {"unknown": 30 * 86400.0}
    assert h["share_in_state"] == {}
    assert h["recorded_from"] is None
    assert (h["cards"], h["faults"], h["faults_per_100_cards"]) == (0, 0, None)


def test_jsonable_makes_driver_reports_safe() -> None:
    out = jsonable({"b": b"\x1bRfv\r", "nan": float("nan"), "path": Path("/x"), "set": {2, 1}, 3: (1, 2)})
    json.dumps(out, allow_nan=False)
    assert out["b"] == {"hex": "1b5266760d", "length": 5}
    assert out["nan"] == "nan" and out["path"] == "/x" and out["set"] == [1, 2] and out["3"] == [1, 2]


def test_duration_reads_well() -> None:
    assert [duration(x) for x in (None, 0.44, 65, 3725, 4 * 86400 + 7 * 3600 + 5)] == \
        ["-", "0.4 s", "1 m 05 s", "1 h 02 m", "4 d 07 h"]


# ------------------------------------------------------------------------------------ a real station

@pytest.fixture
async def one_printer(tmp_path: Path) -> AsyncIterator[Station]:
    st = Station(parse(config_text(printers=ONE_PRINTER), "<test>"), tmp_path / "state")
    await st.start()
    try:
        yield st
    finally:
        await st.stop()


async def _wait(predicate, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate() if asyncio.iscoroutinefunction(predicate) else not predicate():
        if loop.time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def _print_jobs(st: Station, n: int) -> None:
    for i in range(n):
        p = job_payload(i)
        sha = await st.db(st.images.put, base64.b64decode(p["front"]["data"]))
        await st.submit(NewJob(client="t", request_id=p["request_id"], nik=p["nik"], name=p["name"],
                               card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha=sha,
                               back_sha=None, callback_url=None))

    async def all_printed() -> bool:
        jobs = await st.db(st.store.list)
        return len(jobs) == n and all(j.state == JobState.PRINTED for j in jobs)

    await _wait(all_printed, f"{n} jobs printed")


async def test_collect_has_every_section_with_remedies_and_history(one_printer: Station) -> None:
    st = one_printer
    await _print_jobs(st, 3)
    w = st.worker("card1")
    await st.inject_fault("card1", "cover-open", None, "technician")
    await _wait(lambda: w.state.value == "stopped", "cover-open shows")

    doc = await collect(st, "card1")

    json.dumps(doc, allow_nan=False)
    assert doc["identity"] == {"model": "Simulated HDP5000", "serial": "SN-DIAG-0001",
                               "firmware": "SIM-1.4.2", "vendor": "printd"}
    assert doc["link"]["online"] is True and doc["link"]["transport"] == "simulated"
    assert doc["state"]["state"] == "stopped"
    [reason] = doc["state"]["reasons"]
    assert (reason["keyword"], reason["vendor_code"], reason["severity"]) == \
        (Reason.COVER_OPEN, "SIM-cover-open", "error")
    assert reason["help"]["matched"] == "SIM-cover-open"
    assert reason["help"]["id"]["remedy"] and reason["help"]["en"]["remedy"]
    assert doc["counters"] == {"total": 3, "today": 3, "since_cleaning": 3, "fed": 3}
    assert doc["supplies"]["ribbon"]["remaining"] == 497 and doc["supplies"]["hopper"]["count"] == 397
    # the durable history names the open cover; the in-memory driver errors do not (no card was refused)
    newest = doc["recent_errors"][0]
    assert (newest["source"], newest["reason"]) == ("history", "cover-open")
    assert newest["help"]["en"]["title"] == "Cover open"
    assert doc["communication"]["calls"] >= 3 and doc["communication"]["errors"] == 0
    assert doc["communication"]["rtt_ms_p50"] is not None
    h = doc["history"]
    assert (h["printed"], h["cards"], h["faults"], h["faults_by_reason"]) == (3, 3, 1, {"cover-open": 1})
    assert h["faults_per_100_cards"] == pytest.approx(33.33)
    assert h["supply_stops"] == {"media-empty": 1}   # the hopper before the demo seed filled it
    assert doc["raw_status"]["faults"] == ["cover-open"]
    assert doc["driver_report"]["driver"] == "mock"
    assert doc["driver_report"]["state"]["printed"] == 3


async def test_collect_does_not_ask_a_busy_printers_driver(one_printer: Station) -> None:
    st = one_printer
    w = st.worker("card1")
    w.exclusive = "raw"   # as if a technician's command were holding the printer
    try:
        doc = await collect(st, "card1")
    finally:
        w.exclusive = None
    assert "unavailable" in doc["driver_report"]
    assert doc["state"]["technician_call"] == "raw"


# ------------------------------------------------------------------------------------ `printd diag` snapshot

def normalise(text: str, tmp: Path) -> str:
    """Take out what differs from run to run: times, serials, paths, timings, counts of polls."""
    text = text.replace(str(tmp), "<TMP>")
    text = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", "<TIME>", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "<DAY>", text)
    text = re.sub(r"SN-DIAG-\d+|SIM[0-9A-F]{8}", "<SERIAL>", text)
    text = re.sub(r"\bj_[0-9A-Z]{26}\b", "<JOB>", text)
    text = re.sub(r"\b\d{10}\.\d+\b", "<EPOCH>", text)
    text = re.sub(r"status calls \d+, errors \d+ \([\d.]+%\), round trip p50 [\d.]+ ms, "
                  r"p95 [\d.]+ ms, max [\d.]+ ms",
                  "status calls <N>, errors <N> (<PCT>), round trip p50 <MS>, p95 <MS>, max <MS>", text)
    # a share's width varies with its digits (9.8% / 10.2%): one space after the state, whatever it was
    text = re.sub(r"^(    [a-z]+) +[\d.]+%  .+$", r"\1 <PCT>  <DUR>", text, flags=re.MULTILINE)
    return text


def test_printd_diag_text_matches_the_snapshot(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with daemon_thread(config_text(printers=ONE_PRINTER), state) as d:
        c = d.client()
        for i in range(2):
            assert c.post("/api/v1/jobs", json=job_payload(i)).status_code == 201
        wait_for(lambda: all(j["state"] == "printed" for j in c.get("/api/v1/jobs").json()["items"]),
                 what="2 jobs printed")
        assert c.post("/api/v1/printers/card1/faults", json={"kind": "cover-open"}).status_code == 200
        wait_for(lambda: c.get("/api/v1/printers/card1").json()["state"] == "stopped",
                 what="cover open shows")
        port = urlsplit(d.url).port
        cfg = tmp_path / "printd.toml"
        cfg.write_text(config_text(printers=ONE_PRINTER, port=port))
        runner = CliRunner()
        where = ["--config", str(cfg), "--state-dir", str(state)]
        text = runner.invoke(main, ["diag", "card1", *where])
        as_json = runner.invoke(main, ["diag", "card1", "--json", *where])
        every = runner.invoke(main, ["diag", *where])
    assert text.exit_code == 0, text.output
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    assert doc["printer"] == "card1" and doc["state"]["reasons"][0]["keyword"] == "cover-open"

    got = normalise(text.output, tmp_path)
    snapshot = SNAPSHOTS / "diag_card1.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(got)
    assert got == snapshot.read_text(), "diag output changed; if on purpose, rerun with UPDATE_SNAPSHOTS=1"
    # without NAME: every printer (here the only one), same layout
    assert every.exit_code == 0 and normalise(every.output, tmp_path) == got


def test_printd_diag_says_when_the_daemon_is_down(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "initial-tokens.txt").write_text("admin=pd_x\n")
    cfg = tmp_path / "printd.toml"
    cfg.write_text(config_text(printers=ONE_PRINTER, port=9))
    r = CliRunner().invoke(main, ["diag", "card1", "--config", str(cfg), "--state-dir", str(state)])
    assert r.exit_code == 1
    assert "cannot reach the daemon" in r.output


def test_render_shows_remedies_in_both_languages() -> None:
    doc = json.loads((SNAPSHOTS / "diag_offline_doc.json").read_text())
    text = render_text(doc)
    assert (SNAPSHOTS / "diag_offline.txt").read_text() == text


def test_one_jam_is_one_recent_error_however_many_ways_it_was_seen() -> None:
    from printd.diagnostics.collect import one_per_episode

    t0 = 1_800_000_000.0
    seen = [
        {"at": t0, "source": "printer", "reason": "media-jam", "vendor_code": "CARD JAM", "message": "jam",
         "job_id": "j_1"},
        {"at": t0 + 0.2, "source": "history", "reason": "media-jam", "vendor_code": None,
         "message": "stopped: media-jam", "job_id": "j_1"},
        {"at": t0 + 5, "source": "history", "reason": "media-jam", "vendor_code": None,
         "message": "stopped: media-jam, paused", "job_id": None},
        {"at": t0 + 30, "source": "history", "reason": "media-jam", "vendor_code": None,
         "message": "stopped: media-jam", "job_id": None},
        # a cover opened later is another episode, and a jam an hour later is a new one
        {"at": t0 + 600, "source": "history", "reason": "cover-open", "vendor_code": None, "message": "",
         "job_id": None},
        {"at": t0 + 3600, "source": "printer", "reason": "media-jam", "vendor_code": "CARD JAM", "message": "jam",
         "job_id": "j_9"},
    ]
    out = one_per_episode(seen)
    assert [(e["reason"], e["repeats"]) for e in out] == [("media-jam", 1), ("cover-open", 1), ("media-jam", 4)]
    first_jam = out[-1]
    assert first_jam["source"] == "printer" and first_jam["vendor_code"] == "CARD JAM"
    assert first_jam["first_at"] == t0 and first_jam["at"] == t0 + 30 and first_jam["job_id"] == "j_1"


def test_two_driver_faults_with_other_vendor_codes_are_two_episodes() -> None:
    # the cable is pulled (offline), then a stranger answers under the name (offline/wrong-printer):
    # the technician must see the second one first, with its own vendor code
    from printd.diagnostics.collect import one_per_episode

    t0 = 1_800_000_000.0
    seen = [
        {"at": t0, "source": "printer", "reason": "offline", "vendor_code": None, "message": "offline",
         "job_id": None},
        {"at": t0 + 0.1, "source": "history", "reason": "offline", "vendor_code": None,
         "message": "offline: offline", "job_id": None},
        {"at": t0 + 0.3, "source": "printer", "reason": "offline", "vendor_code": "wrong-printer",
         "message": "a different printer answers", "job_id": None},
    ]
    out = one_per_episode(seen)
    assert [(e["vendor_code"], e["repeats"]) for e in out] == [("wrong-printer", 1), (None, 2)]
