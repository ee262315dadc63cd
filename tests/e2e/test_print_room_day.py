"""Issue 18's print room in one simulated day, through the real daemon: an overheated printer made unfit
and fit again, a cool-down pause, the ribbon running out mid-run, rationing switching on (lost cards wait)
and off when a borrowed ribbon is fitted (detected from the printer), a KIA card waiting for a
direct-to-card printer; then the supplies ledger, the blank ledger and the reports must agree.

Several station days (quotas resetting, daily reports per day, the monthly report over them) are in
tests/e2e/test_print_room_week.py, on a simulated station clock.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e]

PRINTERS = ('[printers.card1]\ndriver = "mock"\ntime_scale = 500.0\nribbon_capacity = 4\n'
            'cool_down_after = 3\ncool_down_s = 1.0\n\n'
            '[printers.card2]\ndriver = "mock"\ntime_scale = 500.0\nenabled = false\n')
POLICY = "[policy]\nration_ribbon_below = 3\n"


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Daemon]:
    with daemon_thread(config_text(printers=PRINTERS, extra=POLICY), tmp_path / "state") as d:
        yield d


def job(c: httpx.Client, i: int, **kw: Any) -> str:
    r = c.post("/api/v1/jobs", json=job_payload(i, **kw))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def view(c: httpx.Client, j: str) -> tuple[str, str | None]:
    got = c.get(f"/api/v1/jobs/{j}").json()
    return got["state"], got["state_reason"]


def test_a_print_room_day(station: Daemon) -> None:
    with station.client() as c:
        lot_a = c.post("/api/v1/supplies/receipts", json={"kind": "ribbon", "source": "APBD", "count": 1,
                                                          "reference": "SPK-1", "nominal_yield": 4}).json()
        assert c.post("/api/v1/supplies/installs", json={"printer": "card1", "kind": "ribbon"}).status_code == 201
        # overheated: unfit, nothing prints
        c.post("/api/v1/printers/card1/checks", json={"temperature_c": 176, "cleaned": True,
                                                      "settings_unchanged": True})
        first = [job(c, 1), job(c, 2)]
        kia = job(c, 3, card_type="kia")
        assert [view(c, j)[0] for j in first] == ["queued", "queued"]
        assert view(c, kia) == ("queued", "no-fit-printer")
        c.post("/api/v1/printers/card1/checks", json={"temperature_c": 166, "cleaned": True,
                                                      "settings_unchanged": True})
        third = job(c, 4)
        wait_for(lambda: all(view(c, j)[0] == "printed" for j in [*first, third]), timeout=30, what="three cards")
        # three in a row: card1 rests
        wait_for(lambda: c.get("/api/v1/printers/card1").json()["duty"]["state"] == "cooling", timeout=10,
                 what="cool-down")
        fourth = job(c, 5)
        wait_for(lambda: view(c, fourth)[0] == "printed", timeout=30, what="the fourth card after the rest")
        # the ribbon (4 prints) is used up: below the rationing threshold, a lost card waits, a pemula waits
        # for the ribbon
        lost = job(c, 6, reason="lost")
        new = job(c, 7)
        wait_for(lambda: view(c, lost) == ("queued", "rationed"), timeout=30, what="lost card rationed")
        assert view(c, new)[0] == "queued"
        # a ribbon borrowed from the neighbours, fitted: the printer reports it, rationing ends by itself
        lot_b = c.post("/api/v1/supplies/receipts", json={"kind": "ribbon", "source": "pinjaman", "count": 1,
                                                          "reference": "BA-PINJAM", "party": "Kab. Cirebon",
                                                          "nominal_yield": 4}).json()
        assert c.delete("/api/v1/printers/card1/faults").status_code == 200
        wait_for(lambda: view(c, lost)[0] == "printed" and view(c, new)[0] == "printed", timeout=30,
                 what="both printed on the borrowed ribbon")
        assert view(c, kia) == ("queued", "no-fit-printer")

        supplies = c.get("/api/v1/supplies").json()
        a, b = supplies["installations"]
        assert (a["lot_id"], a["removal"], a["cards"]) == (lot_a["move_ids"][0], "used_up", 4)
        assert (b["lot_id"], b["detected"], b["cards"]) == (lot_b["move_ids"][0], True, 2)
        printed_cards = sum(i["cards"] for i in supplies["installations"])
        ledger = c.get("/api/v1/stock/ledger").json()["items"]
        fed = sum(e["count"] for e in ledger if e["printer"] == "card1" and e["kind"] in ("consumed", "spoiled", "test")
                  and str(e["from"]).startswith("hopper:"))
        assert printed_cards == fed == 6
        month = c.get("/api/v1/reports/daily").json()
        assert [x["temperature_c"] for x in month["printer_checks"]] == [176.0, 166.0]
        monthly = c.get(f"/api/v1/reports/monthly?month={month['date'][:7]}").json()
        ribbon = next(s for s in monthly["supplies"] if s["kind"] == "ribbon")
        assert (ribbon["received"], ribbon["installed"], ribbon["closing"], ribbon["yields"]) == (2, 2, 0, [4])
        assert ribbon["received_by_source"] == {"APBD": 1, "DAK": 0, "pusat": 0, "pinjaman": 1}
