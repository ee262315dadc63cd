"""Pengguna on the operator page (issue 19): an admin lists the page's users, adds one, sets a
password, disables and enables; disabling ends the user's open session at once (their next call is
refused and their page goes back to the login form). The tab is the admin's only, and it fits the
tablet and passes axe like the other tabs.
"""
from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import CHROMIUM, CHROMIUM_ARGS, axe_violations  # noqa: F401  (kept importable from here)
from tests.e2e.test_page import PAGE_USERS, PASSWORD, PageDaemon, log_in, new_context, page_station, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


# every enabled button or button-like link in the shown view, with its box in viewport coordinates
# after scrolling it into view: a button outside [0, width) horizontally cannot be reached by scrolling
# the page down, which is what a portrait tablet does
OFF_SCREEN = """
(view) => {
  const out = [];
  for (const el of document.querySelectorAll('.table-wrap')) el.scrollLeft = 0;
  const root = document.getElementById('view-' + view);
  for (const el of root.querySelectorAll('button, a.button-link')) {
    if (el.closest('[hidden]') || el.closest('dialog')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    // scroll the page only vertically; a sideways-scrolling box stays where it starts
    window.scrollTo(0, window.scrollY + el.getBoundingClientRect().top - window.innerHeight / 2);
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const wrap = el.closest('.table-wrap');
    const box = wrap ? wrap.getBoundingClientRect() : { left: 0, right: window.innerWidth };
    if (r.left < Math.max(0, box.left) || r.right > Math.min(window.innerWidth, box.right)
        || r.top < 0 || r.bottom > window.innerHeight) {
      out.push(`${el.textContent.trim()} (${el.getAttribute('aria-label') || ''}) at ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  window.scrollTo(0, 0);
  return out;
}
"""


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageDaemon]:
    yield from page_station(tmp_path_factory, "users", (("kepala", "admin"), *PAGE_USERS))


@pytest.fixture(scope="module")
def admin_page(browser: Browser, station: PageDaemon) -> Iterator[Page]:
    ctx = new_context(browser, bypass_csp=True)
    try:
        p = ctx.new_page()
        log_in(p, station.d.url, "kepala")
        yield p
    finally:
        ctx.close()


def test_only_an_admin_has_the_users_tab(browser: Browser, station: PageDaemon, admin_page: Page) -> None:
    expect(admin_page.locator("#tab-users")).to_have_text("Pengguna")
    ctx = new_context(browser)
    try:
        page = ctx.new_page()
        log_in(page, station.d.url, "sari")
        expect(page.locator("#tab-users")).to_have_count(0)
        expect(page.locator("#view-users")).to_have_count(0)
    finally:
        ctx.close()


def test_add_a_user_and_set_a_password(admin_page: Page, station: PageDaemon, browser: Browser) -> None:
    page = admin_page
    page.locator("#tab-users").click()
    expect(page.locator('#users-body tr[data-user="sari"]')).to_contain_text("Operator")
    page.locator("#form-user-add").get_by_label("Nama pengguna").fill("budi")
    page.locator("#user-add-role").select_option("operator")
    page.locator("#form-user-add").get_by_label("Kata sandi").fill("sandi-pertama")
    page.get_by_role("button", name="Tambah").click()
    expect(page.locator("#form-user-add .form-msg")).to_have_text("Pengguna budi ditambahkan.")
    expect(page.locator('#users-body tr[data-user="budi"]')).to_contain_text("Aktif")

    page.locator("#user-pw-name").select_option("budi")
    page.get_by_label("Kata sandi baru").fill(PASSWORD)
    page.get_by_role("button", name="Simpan kata sandi").click()
    expect(page.locator("#form-user-password .form-msg")).to_contain_text("Kata sandi budi diganti")
    ctx = new_context(browser)
    try:
        log_in(ctx.new_page(), station.d.url, "budi")       # the new password works
    finally:
        ctx.close()


def test_disabling_a_user_ends_their_session_at_once(admin_page: Page, station: PageDaemon,
                                                      browser: Browser) -> None:
    ctx = new_context(browser)
    try:
        budi = ctx.new_page()
        log_in(budi, station.d.url, "budi")
        cookies = {c["name"]: c["value"] for c in ctx.cookies()}
        page = admin_page
        page.locator("#tab-users").click()
        page.get_by_role("button", name="Nonaktifkan: budi").click()
        page.locator("#dlg-confirm-ok").click()
        expect(page.locator('#users-body tr[data-user="budi"]')).to_contain_text("Nonaktif")
        expect(page.locator("#users-msg")).to_contain_text("budi dinonaktifkan")
        # the session cookie budi's browser holds is refused on its very next call
        with httpx.Client(base_url=station.d.url, cookies=cookies) as c:
            assert c.get("/api/v1/jobs").status_code == 401
        # and his open page leaves for the login form (its event stream was cut)
        expect(budi).to_have_url(station.d.url + "/login", timeout=15_000)
        shot(page, "users-admin")

        page.get_by_role("button", name="Aktifkan: budi").click()
        expect(page.locator('#users-body tr[data-user="budi"]')).to_contain_text("Aktif")
        log_in(budi, station.d.url, "budi")
    finally:
        ctx.close()


def test_the_language_switch_keeps_the_tab(admin_page: Page, station: PageDaemon) -> None:
    page = admin_page
    page.locator("#tab-stock").click()
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(station.d.url + "/#stock")
    expect(page.locator("#view-stock")).to_be_visible()
    expect(page.locator("#tab-users")).to_have_text("Users")
    page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(page).to_have_url(station.d.url + "/#stock")
    expect(page.locator("#tab-stock")).to_have_attribute("aria-current", "page")


def test_a_technician_has_no_reports_tab(browser: Browser, station: PageDaemon) -> None:
    # GET /api/v1/reports/daily needs the operator role: the tab is not offered to a technician,
    # and the report's address falls back to the queue
    with station.d.client() as admin:
        token = admin.post("/api/v1/tokens", json={"name": "teknisi-api", "role": "technician"}).json()["token"]
    with station.d.client(token) as tech:
        assert tech.get("/api/v1/reports/daily").status_code == 403
    ctx = new_context(browser)
    try:
        page = ctx.new_page()
        log_in(page, station.d.url, "teknisi")
        expect(page.locator("#tab-printers")).to_be_visible()
        expect(page.locator("#tab-reports")).to_have_count(0)
        page.goto(station.d.url + "/#reports")
        expect(page.locator("#view-queue")).to_be_visible()
        expect(page.locator("#view-reports")).to_be_hidden()
    finally:
        ctx.close()


@pytest.mark.parametrize(("width", "height"), ((800, 1280), (1280, 800), (1366, 768)))
def test_the_users_tab_fits_and_passes_axe(admin_page: Page, width: int, height: int) -> None:
    page = admin_page
    page.set_viewport_size({"width": width, "height": height})
    page.locator("#tab-users").click()
    expect(page.locator('#users-body tr[data-user="sari"]')).to_be_visible()
    assert page.evaluate(OFF_SCREEN, "users") == []
    violations = axe_violations(page)
    assert violations == [], f"{width}x{height}, users: axe violations: {violations}"
