"""The operator page on the counter's 10-inch tablet (issue 19): every action button on every tab lies
inside the viewport at tablet portrait (800x1280), tablet landscape (1280x800) and the desktop size,
and axe-core (the npm package, installed by scripts/install-test-deps) reports no violation on any tab
at any of the three sizes.

A queue with work in it: both printers paused, so jobs stay queued (Tahan/Batalkan) and held (Lepas).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from printd.access.accounts import Accounts
from printd.queue.db import Database
from tests.e2e.test_page import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    PageDaemon,
    log_in,
    new_context,
    shot,
    submit,
)
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

#: where scripts/install-test-deps puts axe-core (npm install --prefix /opt/printd-test/axe axe-core@4)
AXE = Path("/opt/printd-test/axe/node_modules/axe-core/axe.min.js")
VIEWPORTS = ((800, 1280, "tablet-portrait"), (1280, 800, "tablet-landscape"), (1366, 768, "desktop"))
TABS = ("queue", "printers", "stock", "reports")

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
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the page tests need Debian's Chromium; they never download a browser")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageDaemon]:
    state_dir = tmp_path_factory.mktemp("tablet") / "state"
    state_dir.mkdir()
    db = Database(state_dir / "printd.sqlite3")
    Accounts(db).add_user("sari", "operator", PASSWORD)
    db.close()
    daemon = PageDaemon(state_dir)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def page(browser: Browser, station: PageDaemon) -> Iterator[Page]:
    with station.d.client(station.d.admin) as admin, station.d.client(station.d.enrollment) as enrollment:
        for name in ("card1", "card2"):
            assert admin.post(f"/api/v1/printers/{name}/pause", json={"when": "now"}).status_code == 200
        # a reference without a break opportunity makes the ledger wider than a portrait tablet
        r = admin.post("/api/v1/stock/receipts",
                       json={"card_type": "ktp-el", "count": 500, "reference": "BAST/DUKCAPIL/2026/12/000123/PENERIMAAN-BLANGKO-KTP-EL"})
        assert r.status_code in (200, 201), r.text
        # long names as the register has them, and urgent badges: the widest rows a counter sees
        ids = [submit(enrollment, 900 + i, name=f"MUHAMMAD RIZKY ANANDA PRATAMA SIREGAR BIN ABDULLAH {i}",
                      priority="urgent" if i % 3 == 0 else "normal") for i in range(12)]
        for job_id in ids[:4]:
            assert admin.post(f"/api/v1/jobs/{job_id}/hold").status_code == 200
        wait_for(lambda: all(admin.get(f"/api/v1/jobs/{j}").json()["state"] in ("queued", "held") for j in ids),
                 timeout=20, what="jobs waiting")
    # axe is injected as a script tag, which the page's own CSP (script-src 'self') would refuse
    ctx = new_context(browser, bypass_csp=True)
    try:
        p = ctx.new_page()
        log_in(p, station.d.url)
        expect(p.locator("#jobs-body tr")).to_have_count(12)
        yield p
    finally:
        ctx.close()


@pytest.mark.parametrize(("width", "height", "size"), VIEWPORTS)
def test_every_action_button_is_inside_the_viewport(page: Page, width: int, height: int, size: str) -> None:
    page.set_viewport_size({"width": width, "height": height})
    for view in TABS:
        page.locator(f"#tab-{view}").click()
        expect(page.locator(f"#view-{view}")).to_be_visible()
        if view == "queue":
            expect(page.locator("#jobs-body button")).to_have_count(24)   # 8 x (Tahan, Batalkan), 4 x (Lepas, Batalkan)
        outside = page.evaluate(OFF_SCREEN, view)
        assert outside == [], f"{size}, {view}: buttons outside the {width}x{height} viewport: {outside}"
        shot(page, f"tablet-{view}-{size}")


@pytest.mark.parametrize(("width", "height", "size"), VIEWPORTS)
def test_axe_finds_no_violation_on_any_tab(page: Page, width: int, height: int, size: str) -> None:
    assert AXE.exists(), f"{AXE} is missing: run scripts/install-test-deps (npm install axe-core@4)"
    page.set_viewport_size({"width": width, "height": height})
    page.add_script_tag(path=str(AXE))
    for view in TABS:
        page.locator(f"#tab-{view}").click()
        expect(page.locator(f"#view-{view}")).to_be_visible()
        result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations.map("
                               "v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))})))")
        violations = json.loads(result)
        assert violations == [], f"{size}, {view}: axe violations: {violations}"


def test_the_search_box_finds_by_name_nik_digits_and_job_id(page: Page, station: PageDaemon) -> None:
    page.set_viewport_size({"width": 800, "height": 1280})
    page.locator("#tab-queue").click()
    rows = page.locator("#jobs-body tr[data-job-id]:not([hidden])")
    expect(rows).to_have_count(12)
    box = page.get_by_label("Cari")
    box.fill("abdullah 5")                              # a name, in any case
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ABDULLAH 5")
    job_id = rows.first.get_attribute("data-job-id")
    assert job_id
    with station.d.client() as admin:
        masked = admin.get(f"/api/v1/jobs/{job_id}").json()["nik_masked"]
    box.fill(masked[-4:])                               # the masked NIK's last digits
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-job-id", job_id)
    box.fill(job_id)                                    # the job id
    expect(rows).to_have_count(1)
    box.fill("tidak ada nama ini")
    expect(rows).to_have_count(0)
    expect(page.locator("#jobs-empty")).to_contain_text("Tidak ada yang cocok")
    box.fill("")
    expect(rows).to_have_count(12)
    expect(page.locator("#jobs-empty")).to_be_hidden()


def test_keyboard_focus_stays_on_the_row_after_an_action(page: Page) -> None:
    page.locator("#tab-queue").click()
    row = page.locator('#jobs-body tr[data-state="queued"]').first
    job_id = row.get_attribute("data-job-id")
    row = page.locator(f'#jobs-body tr[data-job-id="{job_id}"]')
    focused_row = "() => { const tr = document.activeElement.closest('tr'); return tr ? tr.dataset.jobId : null; }"
    row.locator('button[data-action="hold"]').focus()
    page.keyboard.press("Enter")                        # Tahan
    expect(row).to_have_attribute("data-state", "held")
    expect(row.locator('button[data-action="release"]')).to_be_focused()
    page.keyboard.press("Enter")                        # Lepas tahanan
    expect(row).to_have_attribute("data-state", "queued")
    expect(row.locator('button[data-action="hold"]')).to_be_focused()
    row.locator('button[data-action="cancel"]').focus()
    page.keyboard.press("Enter")                        # Batalkan, then confirm in the dialog
    page.locator("#dlg-confirm-ok").click()
    expect(row).to_have_attribute("data-state", "canceled")
    page.wait_for_function(f"() => (document.activeElement.closest('tr') || {{}}).dataset?.jobId === '{job_id}'")
    assert page.evaluate(focused_row) == job_id
