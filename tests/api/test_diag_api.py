"""`/api/v1/printers/{name}/diagnostics`, `/test-print` and `/raw` over real HTTP."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from printd.drivers.mock import MockPrinter
from tests.support import Daemon, config_text, daemon_thread, job_payload, printed_log, wait_for

#: card1 slow enough (about 1.75 s a card) to be caught printing; card2 fast
PRINTERS = ('[printers.card1]\ndriver = "mock"\ntime_scale = 20.0\nhopper_capacity = 400\n\n'
            '[printers.card2]\ndriver = "mock"\ntime_scale = 500.0\nhopper_capacity = 400\n')


@pytest.fixture
def d(tmp_path: Path) -> Iterator[Daemon]:
    with daemon_thread(config_text(printers=PRINTERS), tmp_path / "state") as daemon:
        accounts = daemon.app.state.accounts
        for role in ("technician", "operator", "enrollment"):
            daemon.extra[role], _ = accounts.create_token(f"t-{role}", role)
        yield daemon


def _as(d: Daemon, role: str) -> httpx.Client:
    return d.client(d.admin if role == "admin" else d.extra[role])


def _query(d: Daemon, sql: str, *args: Any) -> list[Any]:
    return d.app.state.station.database.query(sql, args)


def _state(d: Daemon, name: str) -> str:
    return _as(d, "technician").get(f"/api/v1/printers/{name}").json()["state"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------- roles


@pytest.mark.parametrize("role,status", [("technician", 200), ("admin", 200), ("operator", 403),
                                         ("enrollment", 403)])
def test_diagnostics_is_for_technicians(d: Daemon, role: str, status: int) -> None:
    r = _as(d, role).get("/api/v1/printers/card2/diagnostics")
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["error"]["code"] == "forbidden"


def test_no_credential_is_401_and_unknown_printer_404(d: Daemon) -> None:
    assert httpx.get(d.url + "/api/v1/printers/card2/diagnostics").status_code == 401
    r = _as(d, "technician").get("/api/v1/printers/nope/diagnostics")
    assert r.status_code == 404 and r.json()["error"]["code"] == "printer_not_found"


@pytest.mark.parametrize("path", ["test-print", "raw"])
def test_technician_actions_refuse_operators(d: Daemon, path: str) -> None:
    r = _as(d, "operator").post(f"/api/v1/printers/card2/{path}", json={"command": "Rfv"})
    assert r.status_code == 403


# ---------------------------------------------------------------------------------------------- diagnostics


def test_diagnostics_document(d: Daemon) -> None:
    c = _as(d, "technician")
    assert c.post("/api/v1/printers/card2/faults", json={"kind": "media-jam"}).status_code == 200
    wait_for(lambda: _state(d, "card2") == "stopped", what="jam shows")
    doc = c.get("/api/v1/printers/card2/diagnostics").json()
    assert set(doc) >= {"identity", "link", "state", "counters", "supplies", "recent_errors", "communication",
                        "history", "driver_report"}
    assert doc["identity"]["serial"] and doc["identity"]["firmware"] == "SIM-1.4.2"
    [reason] = doc["state"]["reasons"]
    assert reason["keyword"] == "media-jam" and reason["vendor_code"] == "SIM-media-jam"
    assert reason["help"]["id"]["title"] == "Simulasi: kartu macet"
    assert reason["help"]["en"]["remedy"].startswith("Clear the simulated fault")
    assert doc["recent_errors"][0]["reason"] == "media-jam"
    assert doc["communication"]["errors"] == 0 and doc["communication"]["calls"] > 0
    assert doc["history"]["faults_by_reason"] == {"media-jam": 1}


# ---------------------------------------------------------------------------------------------- test print


def test_test_print_prints_and_books_a_test_card(d: Daemon) -> None:
    before = _query(d, "SELECT COUNT(*) FROM ledger WHERE kind = 'test'")[0][0]
    r = _as(d, "technician").post("/api/v1/printers/card2/test-print")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["outcome"], body["card_type"], len(body["ledger_entry_ids"])) == ("printed", "ktp-el", 1)
    [entry] = _query(d, "SELECT * FROM ledger WHERE id = ?", body["ledger_entry_ids"][0])
    assert (entry["kind"], entry["src"], entry["dst"], entry["count"], entry["printer"], entry["actor"],
            entry["reason"]) == ("test", "hopper:card2", "test", 1, "card2", "token:t-technician", None)
    assert _query(d, "SELECT COUNT(*) FROM ledger WHERE kind = 'test'")[0][0] == before + 1
    # the card physically left the printer, marked as a test, under the test id (not a job)
    [card] = [c for c in printed_log(d.state_dir, "card2") if c.get("test")]
    assert card["job_id"] == body["test_id"] and card["attempt"] == 1
    assert _query(d, "SELECT COUNT(*) FROM jobs")[0][0] == 0
    [audit] = _query(d, "SELECT * FROM audit WHERE action = 'printer.test_print'")
    assert audit["target"] == "card2" and json.loads(audit["detail"])["outcome"] == "printed"
    # the hopper the ledger shows went down by the one blank
    stock = _as(d, "admin").get("/api/v1/stock").json()
    ktp = next(t for t in stock["card_types"] if t["card_type"] == "ktp-el")
    assert ktp["hoppers"]["card2"] == ktp["hoppers"]["card1"] - 1


def test_test_print_is_refused_while_a_job_prints(d: Daemon) -> None:
    c = _as(d, "admin")
    assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
    job = c.post("/api/v1/jobs", json=job_payload(1)).json()
    wait_for(lambda: _state(d, "card1") == "printing", what="card1 printing")
    r = _as(d, "technician").post("/api/v1/printers/card1/test-print")
    assert r.status_code == 409 and r.json()["error"]["code"] == "printer_busy"
    wait_for(lambda: c.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "printed", what="job printed")
    assert _query(d, "SELECT COUNT(*) FROM ledger WHERE kind = 'test'")[0][0] == 0


def test_no_job_is_dispatched_to_a_printer_printing_a_test_card(d: Daemon) -> None:
    c = _as(d, "admin")
    assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(r=_as(d, "technician").post(
        "/api/v1/printers/card1/test-print", timeout=30)))
    t.start()
    wait_for(lambda: _state(d, "card1") == "printing", what="test card printing")
    job = c.post("/api/v1/jobs", json=job_payload(2)).json()
    assert c.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "queued"
    t.join(30)
    assert result["r"].status_code == 200, result["r"].text
    done = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{job['id']}").json())["state"] == "printed" and j,
                    what="job printed after the test card")
    assert done["printer"] == "card1"
    test_at = next(x["at"] for x in printed_log(d.state_dir, "card1") if x.get("test"))
    job_at = next(x["at"] for x in printed_log(d.state_dir, "card1") if x["job_id"] == job["id"])
    assert test_at < job_at


def test_a_jam_during_the_test_card_books_the_spoiled_blank_as_test(d: Daemon) -> None:
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(r=_as(d, "technician").post(
        "/api/v1/printers/card1/test-print", timeout=30)))
    t.start()
    wait_for(lambda: _state(d, "card1") == "printing", what="test card printing")
    jam = _as(d, "technician").post("/api/v1/printers/card1/faults", json={"kind": "media-jam"})
    assert jam.status_code == 200
    t.join(30)
    r = result["r"]
    assert r.status_code == 409 and r.json()["error"]["code"] == "test_print_failed"
    assert "spoiled" in r.json()["error"]["message"] and "booked as test" in r.json()["error"]["message"]
    [entry] = _query(d, "SELECT * FROM ledger WHERE kind = 'test'")
    assert (entry["printer"], entry["reason"]) == ("card1", "test-failed")
    doc = _as(d, "technician").get("/api/v1/printers/card1/diagnostics").json()
    assert any(e["job_id"] and e["job_id"].startswith("test_") and e["reason"] == "media-jam"
               for e in doc["recent_errors"])


def test_a_fault_before_the_card_is_fed_books_nothing(d: Daemon) -> None:
    c = _as(d, "technician")
    assert c.post("/api/v1/printers/card2/faults", json={"kind": "cover-open"}).status_code == 200
    wait_for(lambda: _state(d, "card2") == "stopped", what="cover open")
    r = c.post("/api/v1/printers/card2/test-print")
    assert r.status_code == 409 and "not_fed" in r.json()["error"]["message"]
    assert "no blank was booked" in r.json()["error"]["message"]
    assert _query(d, "SELECT COUNT(*) FROM ledger WHERE kind = 'test'")[0][0] == 0


def test_test_print_needs_blanks_by_the_ledger(d: Daemon) -> None:
    admin = _as(d, "admin")
    stock = admin.get("/api/v1/stock").json()
    count = next(t for t in stock["card_types"] if t["card_type"] == "ktp-el")["hoppers"]["card2"]
    assert admin.post("/api/v1/stock/unloads", json={"printer": "card2", "card_type": "ktp-el",
                                                     "count": count}).status_code == 201
    r = _as(d, "technician").post("/api/v1/printers/card2/test-print")
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_stock"


def test_test_print_on_an_offline_printer_is_409(d: Daemon) -> None:
    c = _as(d, "technician")
    assert c.post("/api/v1/printers/card2/faults", json={"kind": "offline"}).status_code == 200
    wait_for(lambda: _state(d, "card2") == "offline", what="offline")
    r = c.post("/api/v1/printers/card2/test-print")
    assert r.status_code == 409 and r.json()["error"]["code"] == "printer_offline"


# ---------------------------------------------------------------------------------------------- raw


class RawMock(MockPrinter):
    """The simulated printer with a vendor command channel, as the Evolis driver has."""

    sent: ClassVar[list[str]] = []   # the tests reset and read it on the class

    def raw_command(self, command: str) -> str:
        self.sent.append(command)
        return {"Rfv": "1.2.3", "Rsn": self._state["serial"]}.get(command, "ERR CMD")


def test_raw_is_409_on_a_driver_without_a_command_set(d: Daemon) -> None:
    r = _as(d, "technician").post("/api/v1/printers/card2/raw", json={"command": "Rfv"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "raw_not_supported"


def test_raw_command_is_sent_answered_and_audited(d: Daemon) -> None:
    w = d.app.state.station.workers["card2"]
    w.driver = RawMock("card2", w.driver.cfg, w.driver.dir)   # the same printer, with a command channel
    RawMock.sent = []
    c = _as(d, "technician")
    r = c.post("/api/v1/printers/card2/raw", json={"command": "Rfv"})
    assert r.status_code == 200, r.text
    assert r.json()["reply"] == "1.2.3" and r.json()["command"] == "Rfv"
    assert c.post("/api/v1/printers/card2/raw", json={"command": "Rsn"}).json()["reply"] == w.identity.serial
    assert RawMock.sent == ["Rfv", "Rsn"]
    audits = _query(d, "SELECT * FROM audit WHERE action = 'printer.raw' ORDER BY id")
    assert [(a["actor"], a["target"], json.loads(a["detail"])) for a in audits] == [
        ("token:t-technician", "card2", {"command": "Rfv", "reply": "1.2.3"}),
        ("token:t-technician", "card2", {"command": "Rsn", "reply": w.identity.serial})]


@pytest.mark.parametrize("command", ["", "Rfv\r", "\x1bRfv", "x" * 513])
def test_raw_refuses_what_is_not_one_printable_command(d: Daemon, command: str) -> None:
    r = _as(d, "technician").post("/api/v1/printers/card2/raw", json={"command": command})
    assert r.status_code == 422 and r.json()["error"]["field"] == "command"


def test_raw_is_refused_while_a_job_prints(d: Daemon) -> None:
    w = d.app.state.station.workers["card1"]
    w.driver = RawMock("card1", w.driver.cfg, w.driver.dir)
    RawMock.sent = []
    c = _as(d, "admin")
    assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
    c.post("/api/v1/jobs", json=job_payload(3))
    wait_for(lambda: _state(d, "card1") == "printing", what="card1 printing")
    r = _as(d, "technician").post("/api/v1/printers/card1/raw", json={"command": "Rfv"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "printer_busy"
    assert RawMock.sent == []
    [audit] = _query(d, "SELECT * FROM audit WHERE action = 'printer.raw'")
    assert json.loads(audit["detail"]) == {"command": "Rfv", "refused": "printer busy"}
