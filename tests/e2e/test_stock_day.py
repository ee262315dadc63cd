"""A whole simulated day through the real server, with random card jams: the daily report's printed and
spoiled cards equal the simulated printers' own counters and their printed.jsonl, to the card."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support import all_jobs, config_text, daemon_thread, job_payload, printed_log, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOBS = 250




def _printer_state(state_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((state_dir / "printers" / name / "state.json").read_text())  # type: ignore[no-any-return]


def test_a_day_with_jams_balances_to_the_card(tmp_path: Path) -> None:
    cfg = config_text(time_scale=400.0, hopper=400, seed=1000, fault_rate=0.08, fault_kinds=["media-jam"],
                      fault_seed=20261130, fault_duration_s=5.0).replace("[station]\n", "[station]\nmax_attempts = 10\n")
    state = tmp_path / "state"
    with daemon_thread(cfg, state) as d:
        clock = d.app.state.station.clock
        first_day = clock.day()
        with d.client(d.enrollment) as c:
            ids = []
            for i in range(JOBS):
                r = c.post("/api/v1/jobs", json=job_payload(i))
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            wait_for(lambda: all(j["state"] == "printed" for j in all_jobs(c)), timeout=90, interval=0.5,
                     what=f"all {JOBS} printed")
            jobs = all_jobs(c)
        days = sorted({first_day, clock.day()})   # a run across midnight (WIB) spans two station days
        with d.client() as admin:
            reports = [admin.get("/api/v1/reports/daily", params={"date": day}).json() for day in days]
            csv_text = admin.get("/api/v1/reports/daily", params={"date": days[-1]},
                                 headers={"Accept": "text/csv"}).text
            stock = admin.get("/api/v1/stock").json()

    assert {j["id"] for j in jobs} == set(ids)
    spoiled_attempts = [a for j in jobs for a in j["attempts"] if a["outcome"] == "spoiled"]
    assert spoiled_attempts, "the injected jams should have spoiled some cards"
    assert {a["reason"] for a in spoiled_attempts} == {"media-jam"}

    def total(field: str, card_type: str = "ktp-el") -> int:
        return sum(next(c for c in r["card_types"] if c["card_type"] == card_type)[field] for r in reports)

    def per_printer(name: str, field: str) -> int:
        return sum(next(p for p in r["printers"] if p["name"] == name)[field] for r in reports)

    counters = {n: _printer_state(state, n) for n in ("card1", "card2")}
    logged = {n: printed_log(state, n) for n in ("card1", "card2")}
    # to the card, per printer: printed = the printer's counter = lines in printed.jsonl; spoiled = fed - printed
    for name in ("card1", "card2"):
        assert per_printer(name, "printed") == per_printer(name, "consumed") == counters[name]["printed"] \
            == len(logged[name])
        assert per_printer(name, "spoiled") == counters[name]["fed"] - counters[name]["printed"]
        assert per_printer(name, "spoiled") == sum(a["printer"] == name for a in spoiled_attempts)
        assert counters[name]["in_flight"] is None
    # and for the station
    assert total("consumed") == sum(c["printed"] for c in counters.values()) == JOBS
    assert total("spoiled") == sum(c["fed"] - c["printed"] for c in counters.values()) == len(spoiled_attempts)
    assert Counter(r["job_id"] for n in logged for r in logged[n]) == Counter(dict.fromkeys(ids, 1))
    spoiled_by_reason: Counter[str] = Counter()
    for r in reports:
        spoiled_by_reason.update(next(c for c in r["card_types"] if c["card_type"] == "ktp-el")["spoiled_by_reason"])
    assert spoiled_by_reason == Counter({"media-jam": len(spoiled_attempts)})
    # the day's equation, and the closing balance is what the stock view shows
    last = next(c for c in reports[-1]["card_types"] if c["card_type"] == "ktp-el")
    first = next(c for c in reports[0]["card_types"] if c["card_type"] == "ktp-el")
    assert first["opening"] + total("received") - total("consumed") - total("spoiled") - total("test") \
        + total("adjusted") - total("returned") == last["closing"]
    ktp = next(c for c in stock["card_types"] if c["card_type"] == "ktp-el")
    assert last["closing"] == ktp["total"] == 1000 - JOBS - len(spoiled_attempts)
    for name in ("card1", "card2"):
        assert ktp["hoppers"][name] == 400 - counters[name]["fed"] == counters[name]["hopper"]
    assert all(r["in_doubt"] == [] for r in reports)
    row = next(r for r in csv.DictReader(io.StringIO(csv_text)) if r["section"] == "card_type"
               and r["card_type"] == "ktp-el")
    assert int(row["closing"]) == last["closing"]
