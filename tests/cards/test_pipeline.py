"""Preparation after acceptance, against the real daemon: an image that passes the structure check but
does not decode fails its job before any blank is touched; a job moved to a printer of another kind
is prepared again for it and prints right."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import sqlite3
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from printd.cards.art import sample_card
from printd.cards.pipeline import CardPipeline
from printd.cards.prepare import Preparer
from printd.drivers.evolis.panels import separate_front
from printd.queue.images import ImageStore
from printd.queue.models import Job, JobState, Priority
from tests.support import (
    Daemon,
    config_text,
    daemon_thread,
    job_payload,
    mock_and_evolis,
    printed_log,
    wait_for,
)

pytestmark = pytest.mark.e2e



def undecodable_png() -> str:
    """A CR80 PNG whose chunks are whole with right CRCs, but whose compressed pixels are garbage."""
    buf = io.BytesIO()
    Image.new("RGB", (1012, 638), "white").save(buf, "PNG")
    png, pos, out = buf.getvalue(), 8, [buf.getvalue()[:8]]
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IDAT":
            data = b"\x78\x9c" + bytes(range(256)) * 8
        out.append(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)))
        pos += 12 + length
    return base64.b64encode(b"".join(out)).decode()


def _ledger(d: Daemon) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(d.state_dir / "printd.sqlite3")
    try:
        return conn.execute("SELECT * FROM ledger ORDER BY id").fetchall()
    finally:
        conn.close()


def _ledger_jobs(d: Daemon) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(d.state_dir / "printd.sqlite3")
    try:
        return conn.execute("SELECT job_id FROM ledger ORDER BY id").fetchall()
    finally:
        conn.close()


def _outbox_states(d: Daemon, job_id: str) -> list[tuple[str, str | None]]:
    conn = sqlite3.connect(d.state_dir / "printd.sqlite3")
    try:
        rows = conn.execute("SELECT body FROM outbox WHERE job_id = ? ORDER BY id", (job_id,)).fetchall()
    finally:
        conn.close()
    return [(json.loads(b)["job"]["state"], json.loads(b)["job"]["state_reason"]) for (b,) in rows]


@pytest.mark.parametrize("printers_running", [False, True], ids=["pending", "claimed"])
def test_an_undecodable_image_fails_its_job_before_any_blank_is_used(tmp_path: Path,
                                                                    printers_running: bool) -> None:
    """Paused printers: the check after acceptance fails the queued job. Running printers: the job may
    be claimed first; the worker then finds it before asking the printer. Either way no blank moves."""
    with daemon_thread(config_text(), tmp_path / "state") as d, d.client() as admin:
        if not printers_running:
            for p in ("card1", "card2"):
                assert admin.post(f"/api/v1/printers/{p}/pause", json={"when": "now"}).status_code == 200
        ledger = _ledger(d)
        printed = {p: printed_log(d.state_dir, p) for p in ("card1", "card2")}
        body = job_payload(1, front={"content_type": "image/png", "data": undecodable_png()},
                           callback_url="http://127.0.0.1:9/hook")
        r = admin.post("/api/v1/jobs", json=body)
        assert r.status_code == 201, r.text      # the structure is sound: accepted
        job_id = r.json()["id"]
        job = wait_for(lambda: (j := admin.get(f"/api/v1/jobs/{job_id}").json())["state"] == "failed" and j,
                       timeout=30, what="failed")
        assert job["state_reason"] == "invalid_image"
        assert all(a["outcome"] == "not_fed" for a in job["attempts"])
        # a good job after it prints: the station is not stuck
        if printers_running:
            ok = admin.post("/api/v1/jobs", json=job_payload(2)).json()["id"]
            wait_for(lambda: admin.get(f"/api/v1/jobs/{ok}").json()["state"] == "printed", timeout=30,
                     what="the next job printed")
            assert {e[0] for e in _ledger_jobs(d)[len(ledger):]} == {ok}   # only the good job's card
        else:
            assert _ledger(d) == ledger
            assert {p: printed_log(d.state_dir, p) for p in ("card1", "card2")} == printed
        conn = sqlite3.connect(d.state_dir / "printd.sqlite3")
        try:
            assert conn.execute("SELECT COUNT(*) FROM ledger WHERE job_id = ?", (job_id,)).fetchone()[0] == 0
        finally:
            conn.close()
        for p in ("card1", "card2"):
            assert [c for c in printed_log(d.state_dir, p) if c["job_id"] == job_id] == []
        assert ("failed", "invalid_image") in _outbox_states(d, job_id)    # its webhook is on its way
        assert not list((d.state_dir / "prepared").glob(f"{job_id}.*"))


def _prepared(d: Daemon, job_id: str) -> set[str]:
    return {p.name.split(".", 1)[1] for p in (d.state_dir / "prepared").glob(f"{job_id}.*")}


@pytest.mark.parametrize("first,then", [("card1", "evo1"), ("evo1", "card1")])
def test_a_job_prepared_for_one_printer_kind_prints_right_on_another(tmp_path: Path, first: str,
                                                                     then: str) -> None:
    with daemon_thread(config_text(printers=mock_and_evolis(), seed=300), tmp_path / "state") as d, d.client() as admin:
        # only `first` takes work, but it cannot print yet (cover open): the job is prepared for its kind
        assert admin.post(f"/api/v1/printers/{then}/pause", json={"when": "now"}).status_code == 200
        assert admin.post(f"/api/v1/printers/{first}/faults", json={"kind": "cover-open"}).status_code == 200
        wait_for(lambda: "cover-open" in admin.get(f"/api/v1/printers/{first}").json()["reasons"], timeout=10,
                 what="cover open")
        front = sample_card("MOVED", 3)
        body = job_payload(3, front={"content_type": "image/png", "data": base64.b64encode(front).decode()})
        job_id = admin.post("/api/v1/jobs", json=body).json()["id"]
        first_form = "decoded" if first == "card1" else "evolis-ymcko-k-128"
        wait_for(lambda: first_form in _prepared(d, job_id), timeout=30, what=f"prepared for {first}")
        assert _prepared(d, job_id) <= {"decoded", first_form}
        # the job moves: `first` is paused, `then` takes it
        assert admin.post(f"/api/v1/printers/{first}/pause", json={"when": "now"}).status_code == 200
        assert admin.delete(f"/api/v1/printers/{first}/faults").status_code == 200
        assert admin.post(f"/api/v1/printers/{then}/resume").status_code == 200
        job = wait_for(lambda: (j := admin.get(f"/api/v1/jobs/{job_id}").json())["state"] == "printed" and j,
                       timeout=60, what="printed")
        assert job["printer"] == then
        if then == "card1":
            [card] = [c for c in printed_log(d.state_dir, "card1") if c["job_id"] == job_id]
            assert card["front_sha256"] == hashlib.sha256(front).hexdigest()
        else:
            cards = (d.state_dir / "printers" / "evo1").rglob("evolis-emulator-cards.jsonl")
            records = [json.loads(line) for path in cards for line in path.read_text().splitlines()]
            panels = [p for r in records if not r.get("test") for p in r.get("panels", [])]
            expected = {p.name: hashlib.sha256(p.data).hexdigest() for p in separate_front(front, "ymcko", 128)}
            assert {p["panel"]: p["sha256"] for p in panels if p["side"] == "front"} == expected


async def test_a_burst_is_fed_to_the_pool_a_few_at_a_time_and_a_claimed_card_goes_first(tmp_path: Path) -> None:
    """40 jobs accepted at once: the scheduler hands the pool at most workers + 1 of them at a time (one
    wake-up per pause, not one task per job), and a card a printer asks for meanwhile is prepared without
    waiting for the burst."""
    images = ImageStore(tmp_path / "images")
    preparer = Preparer(tmp_path, images.dir, workers=1)
    preparer.start()
    changed: list[Job] = []

    async def db(fn: Any, *args: Any) -> Any:
        return fn(*args)

    pipeline = CardPipeline(preparer, lambda: None, db, changed.append, dict)  # type: ignore[arg-type]
    try:
        jobs = [_job(i, images.put(sample_card("BURST", i % 5))) for i in range(41)]
        most = 0
        for job in jobs[:40]:
            pipeline.accepted(job)
        claimed = asyncio.create_task(pipeline.card_for(jobs[40], SimpleNamespace(driver_kind="mock", driver=None)))
        while not claimed.done():
            most = max(most, len(preparer._pending))
            await asyncio.sleep(0.001)
        assert await claimed is None   # the simulated printer takes the images as they are
        assert preparer.is_prepared(jobs[40].id)
        assert len(preparer.prepared_jobs()) < 41        # the burst was still being prepared
        while pipeline.waiting or preparer._pending:
            most = max(most, len(preparer._pending))
            await asyncio.sleep(0.005)
        await asyncio.gather(*pipeline._tasks)
        assert preparer.prepared_jobs() == {j.id for j in jobs}
        assert most <= preparer.workers + 1 + 1          # the burst's slots, and the claimed card
        assert changed == []                              # every image decoded: no job failed
    finally:
        await pipeline.stop()


def _job(i: int, sha: str) -> Job:
    return Job(id=f"j{i}", seq=i, client="c", request_id=f"r{i}", content_hash="h", nik="n", nik_masked="m",
               name="x", card_type="ktp-el", reason="new", priority=Priority.NORMAL, state=JobState.QUEUED,
               state_reason=None, printer=None, front_sha=sha, back_sha=None, callback_url=None, created_at=0.0,
               updated_at=0.0, printed_at=None, final_at=None)
