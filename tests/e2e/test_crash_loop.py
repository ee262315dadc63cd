"""Crash loop: SIGKILL the daemon at random moments 20 times during a 250-card day.

At the end every job is printed, each exactly once on paper, the ledger balances against the printers'
own counters to the card, and no caller that got a 2xx lost its job.
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support import (
    Daemon,
    config_text,
    free_port,
    job_payload,
    kill,
    printed_log,
    start_process,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
N_JOBS, KILLS = 250, 20


def test_twenty_sigkills_lose_nothing_and_print_nothing_twice(tmp_path: Path) -> None:
    cfg = tmp_path / "printd.toml"
    cfg.write_text(config_text(time_scale=150, hopper=300, seed=600))
    state, port, log = tmp_path / "state", free_port(), tmp_path / "daemon.log"
    rng = random.Random(20261129)
    acked: dict[str, str] = {}          # request_id -> job id, for every 2xx answer
    d: Daemon = start_process(cfg, state, port, log)
    enrollment = d.enrollment
    done_submitting = threading.Event()

    def submitter() -> None:
        i = 0
        with httpx.Client(base_url=d.url, timeout=5, headers={"Authorization": f"Bearer {enrollment}"}) as c:
            while i < N_JOBS:
                try:
                    r = c.post("/api/v1/jobs", json=job_payload(i))
                except httpx.HTTPError:
                    time.sleep(0.05)   # daemon down: retry the same request_id
                    continue
                if r.status_code in (200, 201):
                    acked[job_payload(i)["request_id"]] = r.json()["id"]
                    i += 1
                else:
                    time.sleep(0.05)
        done_submitting.set()

    t = threading.Thread(target=submitter, daemon=True)
    t.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 1.2))
            kill(d)
            d = start_process(cfg, state, port, log)
        assert done_submitting.wait(60), "submissions did not finish"
        with d.client(d.admin) as c:
            def all_final() -> bool:
                items = c.get("/api/v1/jobs", params={"limit": 500}).json()["items"]
                return len(items) == N_JOBS and all(j["state"] == "printed" for j in items)

            wait_for(all_final, timeout=120, interval=0.5, what="every job printed after the crash loop")
            jobs = {j["id"]: j for j in c.get("/api/v1/jobs", params={"limit": 500}).json()["items"]}
            stock = c.get("/api/v1/stock").json()
    finally:
        stop(d)
    # no caller that got a 2xx lost its job, and no job exists that nobody asked for
    assert len(acked) == N_JOBS and set(acked.values()) == set(jobs)
    # each job left a printer exactly once
    logged = printed_log(state, "card1") + printed_log(state, "card2")
    assert Counter(r["job_id"] for r in logged) == Counter(dict.fromkeys(jobs, 1))
    # the ledger balances to the card against each printer's own counters
    import sqlite3

    conn = sqlite3.connect(state / "printd.sqlite3")
    for name in ("card1", "card2"):
        mock = json.loads((state / "printers" / name / "state.json").read_text())
        consumed = conn.execute("SELECT COALESCE(SUM(count),0) FROM ledger WHERE kind='consumed' AND printer=?",
                                (name,)).fetchone()[0]
        spoiled = conn.execute("SELECT COALESCE(SUM(count),0) FROM ledger WHERE kind='spoiled' AND printer=?",
                               (name,)).fetchone()[0]
        assert consumed == mock["printed"] and spoiled == mock["fed"] - mock["printed"], (name, mock)
        ktp = next(ct for ct in stock["card_types"] if ct["card_type"] == "ktp-el")
        assert ktp["hoppers"][name] == mock["hopper"]
    conn.close()
