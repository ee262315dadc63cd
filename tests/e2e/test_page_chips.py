"""The chip steps on the operator page in real Chromium, with the real PC/SC stack (private pcscd, the
vsmartcard virtual reader, virtual cards): the reader's presence and the card on it shown live, the
"Serahkan kartu" step, and the cards tapped before a destruction listed in its berita acara."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from printd.access.accounts import Accounts
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (kept importable from here)
from tests.pcsc_harness import Pcscd, VirtualCard
from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PASSWORD = "kata-sandi-uji"




@pytest.fixture(scope="module")
def station(pcscd: Pcscd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    config = config_text(time_scale=2000.0).replace("[station]\n", '[station]\nreader = "Virtual PCD 00 00"\n', 1)
    with daemon_thread(config, tmp_path_factory.mktemp("pagechips") / "state") as d:
        Accounts(d.app.state.station.database).add_user("sari", "operator", PASSWORD)
        yield d


def log_in(page: Page, url: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Nama pengguna").fill("sari")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)


def test_hand_over_and_destroy_by_tapping_cards_on_the_page(station: Daemon, pcscd: Pcscd, browser: Browser) -> None:
    d = station
    with d.client(d.enrollment) as enr, d.client(d.admin) as admin:
        job = enr.post("/api/v1/jobs", json=job_payload(1)).json()
        wait_for(lambda: admin.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "printed", what="printed")
        enr.post(f"/api/v1/jobs/{job['id']}/encoding", json={"attempt": 1, "chip_uid": "04AA000000000A", "result": "ok"})
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, d.url)
        badge = page.locator("#reader-status")
        expect(badge).to_have_attribute("data-state", "ready")
        # the right card on the reader: shown live, then handed over from the job's row
        card = VirtualCard(pcscd.port, bytes.fromhex("04AA000000000A")).insert()
        try:
            expect(badge).to_contain_text("04AA000000000A")
            row = page.locator(f'#jobs-body tr[data-job-id="{job["id"]}"]')
            row.get_by_role("button", name="Serahkan kartu").click()
            dialog = page.locator("#dlg-handover")
            expect(dialog.locator(".handover-reader")).to_contain_text("04AA000000000A")
            dialog.get_by_role("button", name="Baca dan serahkan").click()
            expect(dialog).to_be_hidden()
            expect(row.get_by_role("button", name="Serahkan kartu")).to_have_count(0)
        finally:
            card.remove()
        expect(badge).to_have_attribute("data-state", "ready")
        with d.client(d.admin) as admin:
            assert admin.get(f"/api/v1/jobs/{job['id']}").json()["handed_over_at"]
            # two spoiled cards in custody, to destroy
            for i in (2, 3):
                j = admin.post("/api/v1/jobs", json=job_payload(i)).json()
                wait_for(lambda j=j: admin.get(f"/api/v1/jobs/{j['id']}").json()["state"] == "printed", what="printed")
                admin.post(f"/api/v1/jobs/{j['id']}/reprint", json={"reason": "rusak", "category": "rusak_fisik"})
        page.goto(d.url + "/#stock")
        tap = page.locator("#destroy-tap")
        for uid in ("04BB000000000B", "04BB000000000C"):
            card = VirtualCard(pcscd.port, bytes.fromhex(uid)).insert()
            try:
                expect(badge).to_contain_text(uid)
                tap.get_by_role("button", name="Baca kartu").click()
                expect(tap.locator("#destroy-tap-list")).to_contain_text(uid)
            finally:
                card.remove()
        # the handed-over card is refused at the tap, and not listed
        card = VirtualCard(pcscd.port, bytes.fromhex("04AA000000000A")).insert()
        try:
            expect(badge).to_contain_text("04AA000000000A")
            tap.get_by_role("button", name="Baca kartu").click()
            expect(tap.locator(".tap-msg")).to_contain_text("sudah diserahkan")
            expect(tap.locator("#destroy-tap-list li")).to_have_count(2)
        finally:
            card.remove()
        form = page.locator("#form-destroy")
        form.get_by_label("Jumlah").fill("2")
        form.get_by_label("Saksi (satu nama per baris)").fill("Satpol PP\nInspektorat")
        form.locator("#des-ref").fill("BA-CHIP-1")
        form.get_by_role("button", name="Catat pemusnahan").click()
        expect(tap.locator(".tap-msg")).to_contain_text("2 UID dicatat")
        link = form.locator(".form-doc a")
        href = link.get_attribute("href")
        assert href
        with httpx.Client(base_url=d.url, headers={"Authorization": f"Bearer {d.admin}"}) as c:
            text = c.get(href).text
        assert "04BB000000000B" in text and "04BB000000000C" in text and "04AA000000000A" not in text
        assert errors == [], errors
    finally:
        ctx.close()


def test_without_a_reader_the_page_hides_the_chip_steps(tmp_path: Path, browser: Browser) -> None:
    with daemon_thread(config_text(time_scale=2000.0), tmp_path / "state") as d:
        Accounts(d.app.state.station.database).add_user("sari", "operator", PASSWORD)
        with d.client(d.admin) as admin:
            job = admin.post("/api/v1/jobs", json=job_payload(5)).json()
            wait_for(lambda: admin.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "printed", what="printed")
            assert admin.get("/api/v1/reader").json() == {"configured": False}
            r = admin.post(f"/api/v1/jobs/{job['id']}/handover", json={})
            assert r.status_code == 409 and r.json()["error"]["code"] == "reader_not_configured"
        ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
        page = ctx.new_page()
        try:
            log_in(page, d.url)
            expect(page.locator(f'#jobs-body tr[data-job-id="{job["id"]}"]')).to_be_visible()
            expect(page.locator("#reader-status")).to_have_count(0)
            expect(page.get_by_role("button", name="Serahkan kartu")).to_have_count(0)
            expect(page.locator("#destroy-tap")).to_have_count(0)
        finally:
            ctx.close()
