"""Kebijakan on the operator page (issue 18): an admin sees the rationing policy in force beside the config
file's, saves one (which wins over the file and applies at once: a lost card waits with `rationed` and the
queue says why), is told where a bad entry is, and resets it to the file's. Only an admin has the tab; it
fits the tablet and passes axe like the other tabs.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import axe_violations
from tests.e2e.test_page import PAGE_USERS, PageDaemon, log_in, new_context, page_station, shot
from tests.e2e.test_users_page import OFF_SCREEN
from tests.support import job_payload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageDaemon]:
    yield from page_station(tmp_path_factory, "policy", (("kepala", "admin"), *PAGE_USERS))


@pytest.fixture(scope="module")
def admin_page(browser: Browser, station: PageDaemon) -> Iterator[Page]:
    ctx = new_context(browser, bypass_csp=True)
    try:
        p = ctx.new_page()
        log_in(p, station.d.url, "kepala")
        yield p
    finally:
        ctx.close()


def rule(page: Page, key: str, column: str) -> str:
    return page.locator(f'#policy-body tr[data-rule="{key}"] td.{column}').inner_text()


@pytest.mark.parametrize("user", ["sari", "teknisi"])
def test_only_an_admin_has_the_policy_tab(browser: Browser, station: PageDaemon, admin_page: Page,
                                          user: str) -> None:
    expect(admin_page.locator("#tab-policy")).to_have_text("Kebijakan")
    ctx = new_context(browser)
    try:
        page = ctx.new_page()
        log_in(page, station.d.url, user)
        expect(page.locator("#tab-policy")).to_have_count(0)
        expect(page.locator("#view-policy")).to_have_count(0)
        page.goto(station.d.url + "/#policy")          # the address alone does not open it
        expect(page.locator("#view-queue")).to_be_visible()
        assert page.request.get(station.d.url + "/api/v1/policy").status == 403
    finally:
        ctx.close()


def test_a_saved_policy_applies_at_once_and_resets_to_the_file(admin_page: Page, station: PageDaemon) -> None:
    page = admin_page
    page.locator("#tab-policy").click()
    expect(page.locator("#policy-source")).to_contain_text("dari berkas konfigurasi")
    expect(page.locator("#policy-now")).to_have_text("Tidak ada penjatahan saat ini: semua jenis permohonan dicetak.")
    expect(page.get_by_role("checkbox", name="Pemula (perekaman baru)")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Hilang")).not_to_be_checked()
    assert rule(page, "ration_blanks_below", "effective") == rule(page, "ration_blanks_below", "config") == \
        "tidak pernah"

    # 1000 ktp-el blanks in the safe: below 5000 only pemula and data changes print
    page.get_by_label("Blangko tersedia (per jenis kartu)").fill("5000")
    page.locator("#policy-quota-damaged").fill("2")
    page.get_by_label("Klien dan kuota").fill("siak=650")
    page.get_by_role("button", name="Simpan kebijakan").click()
    expect(page.locator("#policy-msg")).to_have_text("Kebijakan disimpan dan langsung berlaku.")
    expect(page.locator("#policy-source")).to_contain_text("disimpan di halaman ini oleh kepala")
    expect(page.locator("#policy-now")).to_contain_text("KTP-EL (blangko)")
    expect(page.locator('#policy-body tr[data-rule="ration_blanks_below"] td.effective')).to_have_text("5000")
    assert rule(page, "ration_blanks_below", "config") == "tidak pernah"      # the file's, shown beside it
    assert rule(page, "quota_per_reason", "effective") == "Rusak: 2"
    assert rule(page, "quota_per_client", "effective") == "siak: 650"
    shot(page, "policy-saved", full=True)

    with station.d.client() as c:
        saved = c.get("/api/v1/policy").json()
        assert (saved["source"], saved["effective"]["ration_blanks_below"]) == ("saved", 5000)
        assert saved["effective"]["quota_per_reason"] == {"damaged": 2}
        assert saved["effective"]["quota_per_client"] == {"siak": 650}
        lost = c.post("/api/v1/jobs", json=job_payload(1, reason="lost")).json()["id"]
        new = c.post("/api/v1/jobs", json=job_payload(2)).json()["id"]
        wait_for(lambda: c.get(f"/api/v1/jobs/{new}").json()["state"] == "printed", timeout=30, what="pemula")
        assert c.get(f"/api/v1/jobs/{lost}").json()["state_reason"] == "rationed"
        # the queue says why the lost card waits
        page.locator("#tab-queue").click()
        expect(page.locator(f'#jobs-table tr[data-job-id="{lost}"]')).to_contain_text("persediaan menipis")

        page.locator("#tab-policy").click()
        page.get_by_role("button", name="Kembalikan ke berkas konfigurasi").click()
        page.locator("#dlg-confirm-ok").click()
        expect(page.locator("#policy-msg")).to_contain_text("Kebijakan dikembalikan")
        expect(page.locator("#policy-source")).to_contain_text("dari berkas konfigurasi")
        expect(page.get_by_label("Blangko tersedia (per jenis kartu)")).to_have_value("0")
        wait_for(lambda: c.get(f"/api/v1/jobs/{lost}").json()["state"] == "printed", timeout=30,
                 what="the lost card released by the reset")


def test_whether_rationing_is_on_follows_the_stock_while_the_tab_is_shown(admin_page: Page,
                                                                         station: PageDaemon) -> None:
    page = admin_page
    with station.d.client() as c:
        total = next(t["total"] for t in c.get("/api/v1/stock").json()["card_types"] if t["card_type"] == "ktp-el")
        policy = c.get("/api/v1/policy").json()["effective"]
        assert c.put("/api/v1/policy", json={**policy, "ration_blanks_below": total + 5}).status_code == 200
        page.locator("#tab-policy").click()
        expect(page.locator("#policy-now")).to_have_text("Penjatahan aktif sekarang: KTP-EL (blangko); KIA (blangko).")
        typing = page.get_by_label("Klien dan kuota")
        typing.fill("dukcapil=10")          # what the admin is typing stays while the status changes
        # a delivery brings the blanks over the threshold: the status changes without a reload
        r = c.post("/api/v1/stock/receipts", json={"card_type": "ktp-el", "count": 10, "reference": "BAST-LIVE"})
        assert r.status_code == 201, r.text
        # (the station holds fewer KIA blanks: those stay rationed)
        expect(page.locator("#policy-now")).to_have_text("Penjatahan aktif sekarang: KIA (blangko).")
        expect(typing).to_have_value("dukcapil=10")
        assert c.delete("/api/v1/policy").status_code == 200
        typing.fill("")


def test_a_bad_entry_is_named_and_nothing_is_saved(admin_page: Page, station: PageDaemon) -> None:
    page = admin_page
    page.locator("#tab-policy").click()
    with station.d.client() as c:
        before = c.get("/api/v1/policy").json()
    clients = page.get_by_label("Klien dan kuota")
    clients.fill("siak 650")
    page.get_by_role("button", name="Simpan kebijakan").click()
    expect(page.locator("#policy-msg")).to_have_text('Baris "siak 650" tidak dapat dibaca: tulis nama=jumlah.')
    expect(clients).to_have_attribute("aria-invalid", "true")
    clients.fill("")
    # the daemon's refusal (over its limit) marks the field it names
    film = page.get_by_label("Sisa cetakan film")
    film.fill("5000000")
    page.get_by_role("button", name="Simpan kebijakan").click()
    expect(page.locator("#policy-msg")).to_contain_text("(isian: Sisa cetakan film)")
    expect(film).to_have_attribute("aria-invalid", "true")
    with station.d.client() as c:
        assert c.get("/api/v1/policy").json() == before
    film.fill("0")


@pytest.mark.parametrize(("width", "height"), ((800, 1280), (1280, 800), (1366, 768)))
def test_the_policy_tab_fits_and_passes_axe(admin_page: Page, width: int, height: int) -> None:
    page = admin_page
    page.set_viewport_size({"width": width, "height": height})
    page.locator("#tab-policy").click()
    expect(page.locator('#policy-body tr[data-rule="ration_print"]')).to_be_visible()
    assert page.evaluate(OFF_SCREEN, "policy") == []
    violations = axe_violations(page)
    assert violations == [], f"{width}x{height}, policy: axe violations: {violations}"
    if (width, height) == (800, 1280):
        shot(page, "policy-tablet", full=True)


