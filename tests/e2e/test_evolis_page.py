"""The operator page (Debian's Chromium through Playwright) shows an Evolis printer's jam and refused feed
while they last: the issue-13 printer, speaking current firmware's vocabulary behind a real pty."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from printd.access.accounts import Accounts
from printd.drivers.evolis.emulator import EvolisEmulator
from printd.drivers.evolis.emulator_links import PtyServer
from printd.queue.db import Database
from tests.support import config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]
PASSWORD = "kata-sandi-uji"


def test_the_page_shows_the_jam_and_the_empty_feeder_while_they_last(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the tests never download a browser)")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    db = Database(state_dir / "printd.sqlite3")
    Accounts(db).add_user("sari", "operator", PASSWORD)
    db.close()
    emulator = EvolisEmulator(tmp_path / "printer", serial="PRIMACY03", time_scale=400, dialect="primacy")
    emulator.start()
    pty = PtyServer(emulator)
    emulator.load_cards("kia", 10)
    printers = f"""
[printers.evo1]
driver = "evolis"
transport = "serial"
port = "{pty.port}"
card_type = "kia"
timeout_s = 10
command_timeout_s = 2
"""
    try:
        with daemon_thread(config_text(printers=printers, seed=300), state_dir) as d, d.client() as admin:
            wait_for(lambda: admin.get("/api/v1/printers/evo1").json()["state"] == "idle", timeout=20,
                     what="evo1 idle")
            assert admin.post("/api/v1/stock/loads", json={"printer": "evo1", "card_type": "kia",
                                                           "count": 10}).status_code in (200, 201)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="id-ID")
                    page.set_default_timeout(10_000)
                    page.goto(d.url + "/login")
                    page.get_by_label("Nama pengguna").fill("sari")
                    page.get_by_label("Kata sandi").fill(PASSWORD)
                    page.get_by_role("button", name="Masuk").click()
                    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
                    page.get_by_role("link", name="Printer").click()
                    card = page.locator('#printer-cards article[data-printer="evo1"]')
                    expect(card).to_have_attribute("data-state", "idle")
                    # CARD JAM to Se: the jam shows until the card is out of the printer (4 s)
                    emulator.arm_fault("media-jam", after_panels=0, duration_s=4.0)
                    first = admin.post("/api/v1/jobs", json=job_payload(1, card_type="kia")).json()["id"]
                    expect(card.locator('.reason[data-reason="media-jam"]')).to_be_visible()
                    expect(card).to_have_attribute("data-state", "stopped")
                    expect(card.locator('.reason[data-reason="media-jam"]')).to_have_count(0, timeout=20_000)
                    wait_for(lambda: admin.get(f"/api/v1/jobs/{first}").json()["state"] == "printed", timeout=20,
                             what="the jammed job printed again")
                    # FEEDER EMPTY to Ss: the empty feeder shows until the feeder has cards again (4 s)
                    emulator.inject_fault("media-empty", 4.0)
                    second = admin.post("/api/v1/jobs", json=job_payload(2, card_type="kia")).json()["id"]
                    expect(card.locator('.reason[data-reason="media-empty"]')).to_be_visible()
                    expect(card.locator('.reason[data-reason="media-empty"]')).to_have_count(0, timeout=20_000)
                    wait_for(lambda: admin.get(f"/api/v1/jobs/{second}").json()["state"] == "printed", timeout=20,
                             what="the refused job printed")
                finally:
                    browser.close()
    finally:
        emulator.clear_faults()
        pty.close()
        emulator.stop()
    assert emulator.snapshot()["state"]["cards_ejected"] == 2
