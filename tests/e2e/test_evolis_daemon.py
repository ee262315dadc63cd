"""The daemon with one simulated printer and one emulated Evolis printer (real pyusb code path) prints 50 jobs."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support import config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e]

PRINTERS = """
[printers.card1]
driver = "mock"
time_scale = 400
hopper_capacity = 200

[printers.evo1]
driver = "evolis"
transport = "emulator"
time_scale = 400
timeout_s = 10
"""


def test_fifty_jobs_across_a_simulated_and_an_emulated_evolis_printer(tmp_path: Path) -> None:
    with (daemon_thread(config_text(printers=PRINTERS, seed=300), tmp_path / "state") as d,
          d.client() as admin):
        evo = admin.get("/api/v1/printers/evo1").json()
        assert evo["driver"] == "evolis" and evo["serial"] and evo["state"] in ("idle", "printing")
        for i in range(50):
            assert admin.post("/api/v1/jobs", json=job_payload(i)).status_code == 201

        def done() -> list[dict] | None:
            items = admin.get("/api/v1/jobs", params={"limit": 100}).json()["items"]
            return items if all(j["state"] == "printed" for j in items) else None

        jobs = wait_for(done, timeout=120, interval=0.3, what="50 printed")
        by_printer = Counter(j["printer"] for j in jobs)
        assert by_printer["card1"] > 0 and by_printer["evo1"] > 0, by_printer
        evo = admin.get("/api/v1/printers/evo1").json()
        assert evo["counters"]["today"] == by_printer["evo1"]
        # a fault on the emulated printer shows with its IPP reason
        assert admin.post("/api/v1/printers/evo1/faults", json={"kind": "cover-open"}).status_code == 200
        wait_for(lambda: "cover-open" in admin.get("/api/v1/printers/evo1").json()["reasons"], timeout=10,
                 what="cover-open on evo1")
        assert admin.delete("/api/v1/printers/evo1/faults").status_code == 200
