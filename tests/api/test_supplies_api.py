"""`/api/v1/supplies` through the real HTTP server and a simulated printer whose ribbon runs out mid-day.

Scenario from issue 18: the ribbon runs out, a ribbon borrowed from a neighbouring office is fitted
(the printer reports it: booked as a detected install), the yield of each roll is in the ledger and in
the monthly report.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Daemon]:
    # card1's ribbon gives 3 prints; card2 is paused so card1 prints everything
    with daemon_thread(config_text(ribbon_capacity=3), tmp_path / "state") as d:
        with d.client() as c:
            assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
        yield d


def supplies(c: httpx.Client) -> dict[str, Any]:
    r = c.get("/api/v1/supplies")
    assert r.status_code == 200, r.text
    return r.json()


def test_ribbon_runs_out_a_borrowed_one_is_detected_and_yields_are_reported(station: Daemon) -> None:
    with station.client() as c:
        r = c.post("/api/v1/supplies/receipts", json={"kind": "ribbon", "source": "APBD", "count": 1,
                                                      "reference": "SPK-2026-11"})
        assert r.status_code == 201, r.text
        apbd = r.json()["move_ids"][0]
        borrowed = c.post("/api/v1/supplies/receipts", json={
            "kind": "ribbon", "source": "pinjaman", "count": 1, "reference": "BA-PINJAM-1",
            "party": "Disdukcapil Kab. Cirebon"}).json()["move_ids"][0]
        r = c.post("/api/v1/supplies/installs", json={"printer": "card1", "kind": "ribbon", "lot_id": apbd})
        assert r.status_code == 201, r.text
        ids = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(1, 5)]
        wait_for(lambda: sum(c.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in ids) == 3,
                 timeout=30, what="three cards on the first ribbon")
        wait_for(lambda: "marker-supply-empty" in c.get("/api/v1/printers/card1").json()["reasons"],
                 timeout=30, what="the ribbon ran out")
        # the operator fits the borrowed ribbon; the printer reports a full one
        assert c.delete("/api/v1/printers/card1/faults").status_code == 200
        wait_for(lambda: all(c.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in ids),
                 timeout=30, what="the fourth card on the borrowed ribbon")
        view = wait_for(lambda: (v := supplies(c))["printers"] and v["printers"][0]["lot_id"] == borrowed and v,
                        timeout=30, what="the new ribbon booked")
        first, second = view["installations"]
        assert (first["lot_id"], first["removal"], first["cards"]) == (apbd, "used_up", 3)
        assert (second["lot_id"], second["detected"], second["removal"], second["cards"]) == (borrowed, True, None, 1)
        on = view["printers"][0]
        assert (on["remaining_basis"], on["remaining"]) == ("printer", 2)      # the mock reports its level
        lots = {lot["id"]: lot for lot in view["kinds"][0]["lots"]}
        assert (lots[apbd]["yields"], lots[borrowed]["party"], view["kinds"][0]["store"]) == (
            [3], "Disdukcapil Kab. Cirebon", 0)
        assert "ribbon_store_low" in [a["code"] for a in view["alerts"]]
        moves = c.get("/api/v1/supplies/ledger").json()["items"]
        assert [(m["action"], m["detected"]) for m in moves] == [
            ("received", False), ("received", False), ("installed", False), ("removed", True), ("installed", True)]
        month = c.get("/api/v1/reports/daily").json()["date"][:7]
        doc = c.get(f"/api/v1/reports/monthly?month={month}").json()
        ribbon = next(s for s in doc["supplies"] if s["kind"] == "ribbon")
        assert (ribbon["received"], ribbon["received_by_source"]["pinjaman"], ribbon["installed"],
                ribbon["closing"], ribbon["yields"]) == (2, 1, 2, 0, [3])
        rows = list(csv.DictReader(io.StringIO(c.get(f"/api/v1/reports/monthly?month={month}&format=csv").text)))
        assert [r["received"] for r in rows if r["section"] == "supplies" and r["kind"] == "ribbon"] == ["2"]
        html = c.get(f"/api/v1/reports/monthly?month={month}&format=html").text
        assert "Pita (ribbon) dan film" in html


BAD = [
    ("receipts", {"kind": "toner", "source": "APBD", "count": 1, "reference": "R"}, 422, "kind"),
    ("receipts", {"kind": "ribbon", "source": "hibah", "count": 1, "reference": "R"}, 422, "source"),
    ("receipts", {"kind": "ribbon", "source": "APBD", "count": 0, "reference": "R"}, 422, "count"),
    ("receipts", {"kind": "ribbon", "source": "pinjaman", "count": 1, "reference": "R"}, 422, "party"),
    ("receipts", {"kind": "ribbon", "source": "APBD", "count": 1, "reference": "R", "x": 1}, 422, "x"),
    ("loans", {"kind": "ribbon", "count": 1, "party": "Kab. X", "reference": "R"}, 409, "count"),
    ("installs", {"printer": "card9", "kind": "ribbon"}, 404, "printer"),
    ("installs", {"printer": "card1", "kind": "film"}, 409, "kind"),            # the store holds no film
    ("removals", {"printer": "card1", "kind": "film"}, 409, "printer"),
]


@pytest.mark.parametrize("path, body, status, field", BAD)
def test_bad_input_changes_nothing(daemon: Daemon, path: str, body: dict[str, Any], status: int, field: str) -> None:
    with daemon.client() as c:
        before = c.get("/api/v1/supplies/ledger").json()["items"]
        r = c.post(f"/api/v1/supplies/{path}", json=body)
        assert (r.status_code, r.json()["error"]["field"]) == (status, field), r.text
        assert c.get("/api/v1/supplies/ledger").json()["items"] == before
