"""Printer fitness through the real HTTP server and simulated printers: an overheated retransfer printer is
unfit until a check inside 160-170 °C (issue 18: cards peel or warp outside it), the check is in the daily
report, and a duty cycle rests a printer after a run with a countdown."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Daemon]:
    # card1 rests 1.5 s after every 2 cards in a row; card2 starts paused
    printers = ('[printers.card1]\ndriver = "mock"\ntime_scale = 500.0\ncool_down_after = 2\ncool_down_s = 1.5\n'
                'cleaning_every = 2\n\n[printers.card2]\ndriver = "mock"\ntime_scale = 500.0\n')
    with daemon_thread(config_text(printers=printers), tmp_path / "state") as d:
        with d.client() as c:
            assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
        yield d


def printer(c: httpx.Client, name: str = "card1") -> dict[str, Any]:
    return c.get(f"/api/v1/printers/{name}").json()


def state(c: httpx.Client, job: str) -> str:
    return c.get(f"/api/v1/jobs/{job}").json()["state"]


def test_an_overheated_printer_takes_no_card_until_a_check_inside_the_window(station: Daemon) -> None:
    with station.client() as c:
        r = c.post("/api/v1/printers/card1/checks", json={"temperature_c": 178, "cleaned": True,
                                                          "settings_unchanged": True, "note": "layar 178"})
        assert r.status_code == 201, r.text
        assert (r.json()["fitness"]["fit"], r.json()["fitness"]["unfit_reasons"]) == (False, ["temperature"])
        assert printer(c)["fitness"]["temperature_window_c"] == [160.0, 170.0]
        job = c.post("/api/v1/jobs", json=job_payload(1)).json()["id"]
        assert c.post("/api/v1/printers/card1/checks", json={"cleaned": True, "settings_unchanged": True}
                      ).status_code == 422                         # a retransfer printer's check needs the reading
        assert state(c, job) == "queued"
        r = c.post("/api/v1/printers/card1/checks", json={"temperature_c": 165, "cleaned": True,
                                                          "settings_unchanged": True})
        assert r.json()["fitness"]["fit"] is True
        wait_for(lambda: state(c, job) == "printed", timeout=30, what="printed once the printer is fit")
        checks = c.get("/api/v1/printers/card1/checks").json()["items"]
        assert [x["temperature_c"] for x in checks] == [178.0, 165.0]
        report = c.get("/api/v1/reports/daily").json()
        assert [(x["printer"], x["temperature_c"]) for x in report["printer_checks"]] == [
            ("card1", 178.0), ("card1", 165.0)]
        html = c.get("/api/v1/reports/daily?format=html").text
        assert "Pemeriksaan awal hari printer" in html and "178.0" in html
        assert c.get("/api/v1/printers/card9/checks").status_code == 404


def test_a_run_of_cards_is_followed_by_a_rest_with_a_countdown(station: Daemon) -> None:
    with station.client() as c:
        jobs = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(1, 4)]
        wait_for(lambda: [state(c, j) for j in jobs[:2]] == ["printed", "printed"], timeout=30, what="a run of two")
        duty = wait_for(lambda: (d := printer(c)["duty"])["state"] == "cooling" and d, timeout=30, what="resting")
        assert 0 < duty["seconds_left"] <= 1.5
        assert state(c, jobs[2]) == "queued"
        wait_for(lambda: state(c, jobs[2]) == "printed", timeout=30, what="the third card after the rest")
        cleaning = printer(c)["cleaning"]
        assert (cleaning["since"], cleaning["due"]) == (3, True)
