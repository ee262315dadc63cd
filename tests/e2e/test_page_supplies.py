"""The page's ribbon and film section and the start-of-day check in a real browser (Debian's Chromium
through Playwright) against the real daemon: a borrowed ribbon recorded from the form, fitted on a printer,
shown with its prints left and the store's alert; a refused receipt says why; an overheated printer's
check makes it unfit on its card until a check inside the window.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from printd.access.accounts import Accounts
from printd.queue.db import Database
from tests.e2e.test_page_custody import CHROMIUM_ARGS, PASSWORD
from tests.support import Daemon, config_text, daemon_thread

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    state = tmp_path_factory.mktemp("supplies-page") / "state"
    state.mkdir()
    db = Database(state / "printd.sqlite3")
    Accounts(db).add_user("sari", "operator", PASSWORD)
    db.close()
    with daemon_thread(config_text(time_scale=300), state) as d:
        yield d


@pytest.fixture(scope="module")
def page(daemon: Daemon) -> Iterator[Page]:
    errors: list[str] = []
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
        ctx.set_default_timeout(10_000)
        pg = ctx.new_page()
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto(daemon.url + "/login")
        pg.get_by_label("Nama pengguna").fill("sari")
        pg.get_by_label("Kata sandi").fill(PASSWORD)
        pg.get_by_role("button", name="Masuk").click()
        expect(pg.locator("#conn")).to_have_attribute("data-state", "live")
        yield pg
        ctx.close()
        browser.close()
    assert errors == [], f"the page threw: {errors}"


def test_receive_a_borrowed_ribbon_and_fit_it(page: Page, daemon: Daemon) -> None:
    page.goto(daemon.url + "/#stock")
    form = page.locator("#form-supply-receipt")
    form.get_by_label("Sumber").select_option("pinjaman")
    form.get_by_label("Jumlah gulungan").fill("1")
    form.get_by_label("Nomor berita acara / surat pengantar").fill("BA-PINJAM-9")
    form.get_by_role("button", name="Catat penerimaan").click()
    # a loan names the office it came from: refused, nothing booked
    expect(form.locator(".form-msg")).to_have_class("form-msg error-text")
    form.get_by_label("Jumlah gulungan").fill("1")
    form.get_by_label("Nomor berita acara / surat pengantar").fill("BA-PINJAM-9")
    form.get_by_label("Kantor (peminjam / pemberi pinjaman)").fill("Disdukcapil Kab. Cirebon")
    form.get_by_role("button", name="Catat penerimaan").click()
    expect(form.locator(".form-msg")).to_have_text("1 gulungan dicatat.")
    store = page.locator('#supplies-body tr[data-kind="ribbon"][data-where="store"]')
    expect(store).to_contain_text("1 gulungan")
    fit = page.locator("#form-supply-install")
    fit.get_by_label("Printer").select_option("card1")
    fit.get_by_role("button", name="Catat pemasangan").click()
    expect(fit.locator(".form-msg")).to_have_text("Gulungan baru dicatat pada card1.")
    on = page.locator('#supplies-body tr[data-kind="ribbon"][data-where="card1"]')
    expect(on).to_contain_text("500")          # the simulated printer reports a full ribbon
    expect(store).to_contain_text("0 gulungan")
    expect(page.locator('#supplies-alerts li[data-code="ribbon_store_low"]')).to_have_count(1)


def test_start_of_day_check_makes_an_overheated_printer_unfit_and_fit_again(page: Page, daemon: Daemon) -> None:
    page.goto(daemon.url + "/#printers")
    form = page.locator("#form-printer-check")
    form.get_by_label("Printer").select_option("card2")
    form.get_by_label("Suhu transfer (°C)").fill("178")
    form.get_by_label("Pembersihan sudah dilakukan").check()
    form.get_by_role("button", name="Catat pemeriksaan").click()
    expect(form.locator(".form-msg")).to_have_text("card2 tidak layak mencetak: lihat kartunya.")
    note = page.locator('article[data-printer="card2"] [data-fitness="temperature"]')
    expect(note).to_contain_text("178")
    form.get_by_label("Suhu transfer (°C)").fill("165")
    form.get_by_role("button", name="Catat pemeriksaan").click()
    expect(form.locator(".form-msg")).to_have_text("card2 layak mencetak.")
    expect(note).to_have_count(0)
