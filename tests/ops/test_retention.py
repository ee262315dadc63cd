"""Retention: after the window no name, NIK or card image of a final job is left on disk, byte for byte."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from printd.cards.art import sample_card
from printd.cli.main import main
from printd.clock import StationClock
from printd.drivers.base import Counters
from printd.errors import Conflict
from printd.ops.retention import Retention
from printd.queue import ledger
from printd.queue.db import Database
from printd.queue.images import ImageStore
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome, JobState, Priority
from printd.queue.store import NewJob, Store
from tests.support import config_text, daemon_thread, job_payload, nik, png_b64, wait_for

WEEK = 7 * 86400.0


def _name(i: int, keep: bool) -> str:
    # distinct, and none a prefix of another, so a byte search for one cannot match another
    return f"WARGA {'SIMPAN' if keep else 'HAPUS'} {i:03d}Q"


def _state_bytes(state: Path) -> bytes:
    """Every byte under the state directory: database, WAL, images, printer logs and cards."""
    return b"".join(p.read_bytes() for p in sorted(state.rglob("*")) if p.is_file())


def _file_hashes(state: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in state.rglob("*") if p.is_file()}


def _dump(db: Database) -> list[str]:
    with db._lock:
        return list(db.conn.iterdump())


def _listing(state: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(state)), p.stat().st_size) for p in state.rglob("*")
                  if p.is_file() and not p.name.startswith("printd.sqlite3"))


class _Clock(StationClock):
    def __init__(self, t: float) -> None:
        super().__init__("Asia/Jakarta")
        self.t = t

    def now(self) -> float:
        return self.t


class Scene:
    """A store with jobs in every state, their images, printer card files, orphans and webhook records."""

    def __init__(self, state: Path, t0: float) -> None:
        self.state = state
        self.clock = _Clock(t0)
        self.db = Database(state / "printd.sqlite3")
        self.store = Store(self.db, self.clock, max_attempts=1)
        self.images = ImageStore(state / "images")
        self.cards = state / "printers" / "card1" / "cards"
        self.cards.mkdir(parents=True)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.n = 0
        day = self.clock.day()
        self.store.book([dict(day=day, kind=EntryKind.RECEIVED, card_type="ktp-el", count=100, src="external",
                              dst="safe", actor="t"),
                         dict(day=day, kind=EntryKind.LOADED, card_type="ktp-el", count=50, src="safe",
                              dst="hopper:card1", printer="card1", actor="t")])

    def submit(self, keep: bool) -> str:
        self.n += 1
        front = sample_card("RET", self.n)
        back = sample_card("RET", self.n, back=True)
        fs, bs = self.images.put(front), self.images.put(back)
        job, _ = self.store.submit(NewJob("siak", f"R-{self.n}", nik(self.n), _name(self.n, keep), "ktp-el", "new",
                                          Priority.NORMAL, fs, bs, None))
        self.jobs[job.id] = {"name": _name(self.n, keep), "nik": nik(self.n), "shas": {fs, bs}, "keep": keep}
        return job.id

    def print_(self, outcome: AttemptOutcome = AttemptOutcome.PRINTED) -> str:
        job = self.store.claim_next("card1", ["ktp-el"], Counters(self.n, self.n))
        assert job is not None
        self.store.finish_attempt(job.id, 1, outcome, reason="media-jam" if outcome != AttemptOutcome.PRINTED
                                  else None)
        if outcome == AttemptOutcome.PRINTED:
            for side in ("front", "back"):
                (self.cards / f"{job.id}-1-{side}.png").write_bytes(self.images.get(
                    min(self.jobs[job.id]["shas"])))
        return job.id

    def outbox(self, job_id: str, delivered: bool) -> None:
        body = json.dumps({"event_id": f"e-{job_id}-{delivered}", "type": "job.state_changed",
                           "job": {"id": job_id, "name": self.jobs[job_id]["name"], "nik_masked": "3274****"}})
        with self.db.tx() as c:
            c.execute("INSERT INTO outbox (event_id, job_id, client, url, body, created_at, next_at, delivered_at)"
                      " VALUES (?,?,?,?,?,?,?,?)", (f"e-{job_id}-{delivered}", job_id, "siak", "http://127.0.0.1/h",
                                                     body, self.clock.t, self.clock.t,
                                                     self.clock.t if delivered else None))


def _populate(state: Path, t0: float) -> tuple[Scene, dict[str, str]]:
    """Four final jobs (2 printed, 1 failed, 1 canceled) and three that are not (queued, held, in doubt)."""
    st = Scene(state, t0)
    ids: dict[str, str] = {}
    for label in ("printed1", "printed2"):
        st.submit(keep=False)
        ids[label] = st.print_()
    st.submit(keep=False)
    ids["failed"] = st.print_(AttemptOutcome.SPOILED)
    ids["canceled"] = st.submit(keep=False)
    st.store.cancel(ids["canceled"])
    ids["in_doubt"] = st.submit(keep=True)
    st.print_(AttemptOutcome.IN_DOUBT)
    ids["queued"] = st.submit(keep=True)
    ids["held"] = st.submit(keep=True)
    st.store.hold(ids["held"])
    st.outbox(ids["printed1"], delivered=True)
    st.outbox(ids["printed2"], delivered=False)
    return st, ids


def test_purge_removes_every_trace_of_final_jobs_and_keeps_the_rest(tmp_path: Path) -> None:
    state = tmp_path / "state"
    t0 = time.time()
    st, ids = _populate(state, t0)
    final = [ids[k] for k in ("printed1", "printed2", "failed", "canceled")]
    kept = [ids[k] for k in ("in_doubt", "queued", "held")]
    # an orphan from a refused submission (an hour and more old), a fresh one, and a half-written file
    orphan_old = st.images.put(sample_card("ORPHAN", 1))
    orphan_new = st.images.put(sample_card("ORPHAN", 2))
    partial = state / "images" / f"{'a' * 64}.tmp4242"
    partial.write_bytes(b"half an image")
    # a test card of no job: deleted once older than a job's window, like a job's card
    (st.cards / "test_card-1-front.png").write_bytes(b"test card")
    old = t0 - 2 * 3600
    for p in (st.images.path(orphan_old), partial, st.cards / "test_card-1-front.png"):
        os.utime(p, (old - WEEK, old - WEEK))
    balances_before = ledger.balances(st.db.conn)
    entries_before = ledger.entries(st.db.conn)
    now = {"t": t0 + WEEK - 60}
    retention = Retention(st.db, state, WEEK, clock=lambda: now["t"])
    os.utime(st.images.path(orphan_new), (now["t"] - 10, now["t"] - 10))   # stored 10 s "ago": in its grace

    # inside the window: nothing is due, only the stale orphans go
    early = retention.run(dry_run=True)
    assert early.jobs == [] and early.image_files == []
    assert sorted(early.orphan_files) == sorted([f"{orphan_old}.img", partial.name])

    # past the window: a dry run names everything and changes nothing
    now["t"] = t0 + WEEK + 60
    os.utime(st.images.path(orphan_new), (now["t"] - 10, now["t"] - 10))
    dump, files = _dump(st.db), _listing(state)
    dry = retention.run(dry_run=True)
    assert sorted(dry.jobs) == sorted(final)
    final_shas = set().union(*(st.jobs[j]["shas"] for j in final))
    assert sorted(dry.image_files) == sorted(f"{s}.img" for s in final_shas)
    assert sorted(dry.orphan_files) == sorted([f"{orphan_old}.img", partial.name])
    assert sorted(dry.card_files) == sorted(
        [f"card1/{j}-1-{side}.png" for j in (ids["printed1"], ids["printed2"]) for side in ("front", "back")]
        + ["card1/test_card-1-front.png"])
    assert (dry.webhooks_deleted, dry.webhooks_scrubbed) == (1, 1)
    assert dry.checkpoint is None
    assert _dump(st.db) == dump and _listing(state) == files

    report = retention.run()
    assert sorted(report.jobs) == sorted(final)
    assert sorted(report.image_files) == sorted(dry.image_files)
    assert sorted(report.card_files) == sorted(dry.card_files)
    assert report.checkpoint is not None and report.checkpoint["busy"] == 0
    assert not (state / "printd.sqlite3-wal").exists() or (state / "printd.sqlite3-wal").stat().st_size == 0

    # byte-wise: no name, NIK or image of a final job anywhere under the state directory
    everything = _state_bytes(state)
    for j in final:
        assert st.jobs[j]["name"].encode() not in everything
        assert st.jobs[j]["nik"].encode() not in everything
    assert not final_shas & _file_hashes(state)
    # ... while the jobs that are not final keep theirs (and prove the search finds what is there)
    for j in kept:
        assert st.jobs[j]["name"].encode() in everything and st.jobs[j]["nik"].encode() in everything
        assert all(st.images.path(s).exists() for s in st.jobs[j]["shas"])
    assert st.images.path(orphan_new).exists()

    # the masked record and the ledger stay
    for j in final:
        job = st.store.get(j)
        assert job.purged and job.name is None and job.nik is None and job.front_sha is None
        assert job.nik_masked.startswith("3274") and "*" in job.nik_masked and job.state in (
            JobState.PRINTED, JobState.FAILED, JobState.CANCELED)
    assert st.store.get(ids["printed1"]).attempts[0].outcome == AttemptOutcome.PRINTED
    assert ledger.balances(st.db.conn) == balances_before
    assert ledger.entries(st.db.conn) == entries_before
    outbox = st.db.query("SELECT job_id, body FROM outbox")
    assert [r[0] for r in outbox] == [ids["printed2"]] and json.loads(outbox[0][1])["job"]["name"] is None

    # a purged job cannot go back to the queue: reprint and release refuse it
    with pytest.raises(Conflict) as exc:
        st.store.reprint(ids["printed1"], reason="smudged", actor="op")
    assert exc.value.code == "purged"
    with pytest.raises(Conflict) as exc:
        st.store.release(ids["failed"])
    assert exc.value.code == "purged"

    again = retention.run()
    assert not again.changed and again.checkpoint is None
    st.db.close()


def test_purge_cli_dry_run_says_what_it_would_do_and_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    long_ago = time.time() - WEEK - 3600
    st, _ = _populate(state, long_ago)   # everything happened over a week ago
    for p in state.rglob("*"):
        if p.is_file() and not p.name.startswith("printd.sqlite3"):
            os.utime(p, (long_ago, long_ago))
    st.db.close()
    db = Database(state / "printd.sqlite3")
    dump, files = _dump(db), _listing(state)
    db.close()
    runner = CliRunner()
    dry = runner.invoke(main, ["purge", "--dry-run", "--state-dir", str(state)])
    assert dry.exit_code == 0, dry.output
    assert "retention window: 7 day(s)" in dry.output
    assert "would remove name, NIK and card images of 4 job(s)" in dry.output
    assert "would delete 8 card image file(s), 0 orphan file(s) and 4 printer card image(s)" in dry.output
    assert "dry run: nothing was changed" in dry.output
    db = Database(state / "printd.sqlite3")
    assert _dump(db) == dump and _listing(state) == files
    db.close()

    done = runner.invoke(main, ["purge", "--state-dir", str(state)])
    assert done.exit_code == 0, done.output
    assert "remove name, NIK and card images of 4 job(s)" in done.output and "would" not in done.output
    assert "checkpointed and truncated" in done.output
    again = runner.invoke(main, ["purge", "--json", "--state-dir", str(state)])
    assert json.loads(again.output)["jobs"] == []
    everything = _state_bytes(state)
    for job in st.jobs.values():
        assert (job["name"].encode() in everything) == job["keep"]

    missing = runner.invoke(main, ["purge", "--state-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0 and "no database" in missing.output
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.e2e
def test_the_running_daemon_purges_after_the_window(tmp_path: Path) -> None:
    # a window of 0.864 s; the daemon's purge then runs every second
    config = config_text(time_scale=500, write_images=True).replace(
        "[station]\n", "[station]\nretention_days = 0.00001\n")
    state = tmp_path / "state"

    def payload(i: int, keep: bool) -> dict[str, Any]:
        return job_payload(i, name=_name(i, keep), front={"content_type": "image/png", "data": png_b64(100 + i)})

    def sha(i: int) -> str:
        return hashlib.sha256(base64.b64decode(png_b64(100 + i))).hexdigest()

    with daemon_thread(config, state) as d, d.client(d.enrollment) as c, d.client() as admin:
        printed = [c.post("/api/v1/jobs", json=payload(i, False)).json()["id"] for i in range(10)]
        wait_for(lambda: all(admin.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in printed),
                 timeout=60, what="10 cards printed")
        for p in ("card1", "card2"):
            assert admin.post(f"/api/v1/printers/{p}/pause", json={"when": "now"}).status_code == 200
        queued = c.post("/api/v1/jobs", json=payload(10, True)).json()["id"]
        held = c.post("/api/v1/jobs", json=payload(11, True)).json()["id"]
        canceled = c.post("/api/v1/jobs", json=payload(12, False)).json()["id"]
        assert admin.post(f"/api/v1/jobs/{held}/hold").json()["state"] == "held"
        assert admin.post(f"/api/v1/jobs/{canceled}/cancel").json()["state"] == "canceled"
        # a refused submission (request_id reused with other content) leaves its image behind: an orphan
        r = c.post("/api/v1/jobs", json=payload(0, False) | {"front": {"content_type": "image/png",
                                                                       "data": png_b64(199)}})
        assert r.status_code == 409
        orphan = state / "images" / f"{hashlib.sha256(base64.b64decode(png_b64(199))).hexdigest()}.img"
        assert orphan.exists()
        final = [*printed, canceled]
        wait_for(lambda: all(admin.get(f"/api/v1/jobs/{j}").json()["purged"] for j in final), timeout=30,
                 what="final jobs purged")
        wait_for(lambda: not orphan.exists(), timeout=30, what="orphan image deleted after its grace")

        # the API still serves purged jobs: masked record, no name; a reprint is refused
        job = admin.get(f"/api/v1/jobs/{printed[0]}").json()
        assert job["state"] == "printed" and job["name"] is None and job["nik_masked"] == "3274********0001"
        assert job["attempts"] and job["attempts"][-1]["outcome"] == "printed"
        r = admin.post(f"/api/v1/jobs/{printed[0]}/reprint", json={"reason": "smudged"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "purged"
        for j, i in ((queued, 10), (held, 11)):
            kept = admin.get(f"/api/v1/jobs/{j}").json()
            assert kept["name"] == _name(i, True) and not kept["purged"]

        # nothing of a final job left anywhere in the state directory; the others keep theirs
        everything = _state_bytes(state)
        hashes = _file_hashes(state)
        for i in [*range(10), 12]:
            assert _name(i, False).encode() not in everything
            assert nik(i).encode() not in everything
            assert sha(i) not in hashes
        for i in (10, 11):
            assert _name(i, True).encode() in everything and nik(i).encode() in everything
            assert (state / "images" / f"{sha(i)}.img").exists()
        # the simulated printers did write card images (write_images = true) before they were purged
        assert any((state / "printers" / p / "cards").is_dir() for p in ("card1", "card2"))
        assert [f for p in ("card1", "card2") for f in (state / "printers" / p / "cards").glob("*.png")] == []

        # the ledger still adds up: 10 consumed, one per printed job, from 1000 received
        stock = {s["card_type"]: s for s in admin.get("/api/v1/stock").json()["card_types"]}
        assert stock["ktp-el"]["total"] == 1000 - 10
        entries = admin.get("/api/v1/stock/ledger").json()["items"]
        consumed = [e for e in entries if e["kind"] == "consumed"]
        assert sorted(e["job_id"] for e in consumed) == sorted(printed)
        assert httpx.get(d.url + "/metrics").text.count("printd_retention_overdue_jobs{") == 1
