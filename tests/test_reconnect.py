"""Automatic reconnection: an unplugged printer comes back without a restart, logged once each way,
shown `offline` meanwhile; a different printer under the same name is kept offline."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from printd.config import parse
from printd.diagnostics.collect import collect
from printd.drivers.mock import MockPrinter
from printd.station import Station
from tests.support import config_text, daemon_thread, job_payload, wait_for

ONE = '[printers.card1]\ndriver = "mock"\ntime_scale = 500.0\nhopper_capacity = 400\nserial = "SN-A"\n'


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "printd.printer" and text in r.getMessage()]


def test_unplugged_printer_comes_back_without_restart_logged_once_each_way(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="printd.printer")
    with daemon_thread(config_text(), tmp_path / "state") as d:
        c = d.client()
        worker = d.app.state.station.workers["card1"]
        wait_for(lambda: c.get("/api/v1/printers/card1").json()["state"] == "idle", what="card1 idle")
        caplog.clear()
        failures = worker.health.errors

        assert c.post("/api/v1/printers/card1/faults", json={"kind": "offline"}).status_code == 200
        wait_for(lambda: c.get("/api/v1/printers/card1").json()["state"] == "offline", what="card1 offline")
        # several reconnect attempts fail while it is gone, and the log still says it once
        wait_for(lambda: worker.health.errors >= failures + 2, timeout=20, what="two failed reconnects")
        view = c.get("/api/v1/printers/card1").json()
        assert view["state"] == "offline" and view["reasons"] == ["offline"]
        assert c.get("/healthz").json() == {"status": "degraded", "printers_ready": 1}
        # while card1 is gone, card2 is paused: the job must wait for card1 to come back
        assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
        job = c.post("/api/v1/jobs", json=job_payload(1)).json()

        assert c.delete("/api/v1/printers/card1/faults").status_code == 200   # plugged in again
        wait_for(lambda: c.get("/api/v1/printers/card1").json()["state"] in ("idle", "printing"),
                 what="card1 back")
        done = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{job['id']}").json())["state"] == "printed" and j,
                        what="the job printed on card1")
        assert done["printer"] == "card1"

    assert len(_lines(caplog, "printer offline")) == 1, _lines(caplog, "printer")
    assert len(_lines(caplog, "printer online")) == 1, _lines(caplog, "printer")


@pytest.fixture
async def station(tmp_path: Path) -> AsyncIterator[Station]:
    st = Station(parse(config_text(printers=ONE), "<test>"), tmp_path / "state")
    await st.start()
    try:
        yield st
    finally:
        await st.stop()


async def _until(predicate, what: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def test_a_different_printer_under_the_name_stays_offline(
        station: Station, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="printd.printer")
    w = station.worker("card1")
    original = w.driver
    assert w.identity is not None and w.identity.serial == "SN-A"
    # unplug card1, and plug another printer (serial SN-B) into the same place
    await station.inject_fault("card1", "offline", None, "technician")
    await _until(lambda: not w.online, "card1 offline")
    stranger_cfg = parse(config_text(printers=ONE.replace("SN-A", "SN-B")), "<t>").printers["card1"]
    w.driver = MockPrinter("card1", stranger_cfg, tmp_path / "stranger")  # type: ignore[arg-type]
    caplog.clear()
    errors = len(w.recent_errors)
    for _ in range(3):   # three reconnect attempts, each meeting the stranger
        w.poll_soon()
        await asyncio.sleep(0.1)
    assert not w.online and w.state.value == "offline"
    assert [(r.keyword, r.vendor_code) for r in w.reasons] == [("offline", "wrong-printer")]
    assert w.identity.serial == "SN-A", "the expected printer's identity is kept"
    warnings = [r for r in caplog.records if "different printer" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "SN-B" in warnings[0].getMessage() and "SN-A" in warnings[0].getMessage()
    assert len(w.recent_errors) == errors + 1

    doc = await collect(station, "card1")
    assert doc["link"]["offline_code"] == "wrong-printer"
    [reason] = doc["state"]["reasons"]
    assert reason["help"]["matched"] == "wrong-printer"
    assert doc["recent_errors"][0]["vendor_code"] == "wrong-printer"

    # the right printer is plugged back in
    original.clear_faults()  # type: ignore[attr-defined]
    w.driver = original
    w.poll_soon()
    await _until(lambda: w.online, "card1 back")
    assert w.offline_code is None and w.reasons == []
    assert len([r for r in caplog.records if "printer online" in r.getMessage()]) == 1
