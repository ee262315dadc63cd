"""A whole day through the real uvicorn server: 250 cards, two printers sharing, a jam mid-run."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support import all_jobs, config_text, daemon_thread, job_payload, printed_log, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]




def test_250_cards_shared_between_two_printers(tmp_path: Path) -> None:
    with daemon_thread(config_text(time_scale=700, hopper=300, seed=600), tmp_path / "state") as d:
        with d.client(d.enrollment) as c:
            ids = []
            for i in range(250):
                r = c.post("/api/v1/jobs", json=job_payload(i))
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            wait_for(lambda: all(j["state"] == "printed" for j in all_jobs(c)), timeout=120, interval=0.5,
                     what="all 250 printed")
            jobs = all_jobs(c)
        assert len(jobs) == 250 and {j["id"] for j in jobs} == set(ids)
        per_printer = Counter(j["printer"] for j in jobs)
        for name in ("card1", "card2"):
            assert 0.40 * 250 <= per_printer[name] <= 0.60 * 250, per_printer
        logged = printed_log(d.state_dir, "card1") + printed_log(d.state_dir, "card2")
        assert Counter(r["job_id"] for r in logged) == Counter(dict.fromkeys(ids, 1))
        with d.client() as admin:
            printers = admin.get("/api/v1/printers").json()
        assert sum(p["counters"]["today"] for p in printers) == 250


def test_jam_mid_run_moves_work_to_the_other_printer(tmp_path: Path) -> None:
    with daemon_thread(config_text(time_scale=300, hopper=200, seed=400), tmp_path / "state") as d:
        with d.client(d.enrollment) as c, d.client() as admin:
            for i in range(40):
                assert c.post("/api/v1/jobs", json=job_payload(i)).status_code == 201
            wait_for(lambda: sum(j["state"] == "printed" for j in all_jobs(c)) >= 6, timeout=60, what="first cards")
            r = admin.post("/api/v1/printers/card1/faults", json={"kind": "media-jam"})
            assert r.status_code == 200, r.text
            wait_for(lambda: admin.get("/api/v1/printers/card1").json()["state"] == "stopped", timeout=10,
                     what="card1 stopped")
            assert "media-jam" in admin.get("/api/v1/printers/card1").json()["reasons"]
            wait_for(lambda: all(j["state"] == "printed" for j in all_jobs(c)), timeout=90, interval=0.3,
                     what="all printed despite the jam")
            jobs = all_jobs(c)
            assert admin.delete("/api/v1/printers/card1/faults").status_code == 200
        spoiled_on_card1 = [a for j in jobs for a in j["attempts"] if a["outcome"] == "spoiled"]
        assert all(a["printer"] == "card1" and a["reason"] == "media-jam" for a in spoiled_on_card1)
        assert len(spoiled_on_card1) <= 1   # at most the card inside when it jammed
        late = [j for j in jobs if j["attempts"] and j["attempts"][-1]["started_at"] is not None]
        assert late
        # every job printed exactly once, physically
        logged = printed_log(d.state_dir, "card1") + printed_log(d.state_dir, "card2")
        assert Counter(r["job_id"] for r in logged) == Counter({j["id"]: 1 for j in jobs})
        assert Counter(j["printer"] for j in jobs)["card2"] > 20
