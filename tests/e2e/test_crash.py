"""SIGKILL the daemon mid-print and start it again: nothing lost, nothing printed twice."""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support import (
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


def _jobs(c: httpx.Client) -> list[dict]:
    return c.get("/api/v1/jobs", params={"limit": 500}).json()["items"]


def test_sigkill_mid_print_settles_cards_by_counter(tmp_path: Path) -> None:
    cfg = tmp_path / "printd.toml"
    # slow enough that a card is certainly in flight when we kill
    cfg.write_text(config_text(time_scale=20, hopper=100, seed=300))
    state, port = tmp_path / "state", free_port()
    d = start_process(cfg, state, port, tmp_path / "daemon.log")
    acked: list[str] = []
    try:
        with d.client(d.enrollment) as c:
            for i in range(12):
                r = c.post("/api/v1/jobs", json=job_payload(i))
                assert r.status_code == 201
                acked.append(r.json()["id"])
            wait_for(lambda: sum(j["state"] == "printing" for j in _jobs(c)) == 2, timeout=20, what="two printing")
            time.sleep(0.5)  # mid-card (a card takes 1.75 s at this scale)
        kill(d)
        flight = [json.loads((state / "printers" / p / "state.json").read_text())["in_flight"]
                  for p in ("card1", "card2")]
        assert any(flight), "the test must kill with a card in the mechanism"
        d = start_process(cfg, state, port, tmp_path / "daemon.log")
        with d.client(d.enrollment) as c:
            wait_for(lambda: all(j["state"] == "printed" for j in _jobs(c)), timeout=60, interval=0.2,
                     what="all printed after restart")
            jobs = _jobs(c)
    finally:
        stop(d)
    assert {j["id"] for j in jobs} == set(acked)
    logged = printed_log(state, "card1") + printed_log(state, "card2")
    assert Counter(r["job_id"] for r in logged) == Counter(dict.fromkeys(acked, 1))
    settled = [j for j in jobs if any(a["outcome"] == "printed" and a["n"] == 1 for a in j["attempts"])
               and len(j["attempts"]) == 1]
    assert len(settled) == 12  # cards in flight were settled as printed, not reprinted
    log = (tmp_path / "daemon.log").read_text()
    assert "settled by the printer's counter" in log
    assert "3274011203900001" not in log
