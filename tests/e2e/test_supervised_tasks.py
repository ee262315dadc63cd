"""Issue 14, item 3: a printer's worker that fails while settling a card in doubt is restarted and reported.

Before: the disk filled while a card was in doubt; when the printer answered again, recording the
settlement raised, the worker's poll loop ended silently, `/healthz` said ok and the printer never
printed again. The disk here is a real 200 MB tmpfs filled to the last byte.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

from tests.e2e.outsider import daemon, mount_tmpfs, umount
from tests.support import card_inside, config_text, job_payload, wait_for

pytestmark = pytest.mark.e2e


def _fill(directory: Path) -> Path:
    """Take every free byte of the filesystem holding `directory` (down to the last 512-byte write)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 512):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def test_a_worker_that_fails_settling_a_card_is_restarted_reported_and_prints_again(tmp_path: Path) -> None:
    state = tmp_path / "state"
    mount_tmpfs(state, "200m")
    try:
        # the simulated printers' own state lives on another disk, as a real printer's counters do
        (tmp_path / "printers").mkdir()
        (state / "printers").symlink_to(tmp_path / "printers")
        # a 4 s card, given up as in doubt 6 s after it started (three times the 2 s dual-sided time)
        config = config_text(time_scale=1, seconds_single=4.0, seconds_dual=2.0)
        with daemon(tmp_path, state, config=config) as d, d.client() as admin, d.client(d.enrollment) as c:
            admin.post("/api/v1/printers/card2/pause", json={"when": "now"})
            first = c.post("/api/v1/jobs", json=job_payload(1)).json()["id"]
            # inside the printer, not only claimed (a claimed card is prepared and its counters read first)
            wait_for(lambda: card_inside(state, "card1") == first, timeout=30, what="the card inside card1")
            assert admin.post("/api/v1/printers/card1/faults", json={"kind": "hang"}).status_code == 200
            wait_for(lambda: c.get(f"/api/v1/jobs/{first}").json()["state"] == "in_doubt", timeout=30,
                     what="the card in doubt")
            filler = _fill(state)
            try:
                # the printer answers again; recording what it says fails: the disk is full
                # (the fault is cleared, then its audit entry cannot be written: 503, as it should)
                assert admin.delete("/api/v1/printers/card1/faults").status_code in (200, 503)
                health = wait_for(lambda: (h := admin.get("/healthz").json()).get("tasks_failing") and h,
                                  timeout=30, what="healthz naming the failing task")
                assert health["status"] == "degraded"
                assert [t["task"] for t in health["tasks_failing"]] == ["printer-card1"]
                assert "StoreUnavailable" in health["tasks_failing"][0]["last_error"]
                metrics = admin.get("/metrics").text
                assert re.search(r'printd_task_up\{[^}]*task="printer-card1"[^}]*\} 0', metrics), metrics
                assert re.search(r'printd_task_up\{[^}]*task="dispatcher"[^}]*\} 1', metrics)
                alerts = admin.get("/api/v1/stock").json()["alerts"]
                assert any(a["code"] == "task_failing" and a["printer"] == "card1" for a in alerts)
            finally:
                filler.unlink()
            # space again: the restarted worker settles the card from the printer's counter and prints on
            wait_for(lambda: c.get(f"/api/v1/jobs/{first}").json()["state"] == "printed", timeout=60,
                     what="the card in doubt settled")
            second = c.post("/api/v1/jobs", json=job_payload(2)).json()["id"]
            got = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{second}").json())["state"] == "printed" and j,
                           timeout=30, what="card1 printing again")
            assert got["printer"] == "card1"
        log = d.log.read_text() if d.log else ""
        assert "task printer-card1 failed" in log and "Traceback" in log
    finally:
        os.sync()
        umount(state)
