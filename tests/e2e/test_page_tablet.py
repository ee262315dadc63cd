"""The operator page on the counter's 10-inch tablet (issue 19), in Debian's Chromium against the real daemon:
every control on every tab inside the screen at 800x1280, 1280x800 and 1366x768 with jobs in several states;
axe-core (from the npm registry, see scripts/install-test-deps) finds no violation there; and the operator
details: the queue search, focus staying on the row after Tahan/Lepas/Batalkan, no Laporan tab for a
technician, "rusak" for a spoiled attempt, the language switch keeping the tab, the report day as dd/mm/yyyy.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import CHROMIUM, CHROMIUM_ARGS, axe_violations  # noqa: F401  (kept importable from here)
from tests.e2e.test_page import (
    PageDaemon,
    _fed,
    job_row,
    job_state,
    log_in,
    page_station,
    shot,
    submit,
    today,
    wait_printers_ready,
)
from tests.support import png_b64, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
expect.set_options(timeout=10_000)

VIEWPORTS = ((800, 1280), (1280, 800), (1366, 768))
TABS = ("queue", "printers", "stock", "reports")

# every visible control whose box leaves the viewport sideways (a control the operator cannot reach)
OUTSIDE = """() => [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea')]
  .filter((el) => el.checkVisibility() && !el.closest('dialog:not([open])'))
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([, r]) => r.width > 0 && (r.left < -0.5 || r.right > window.innerWidth + 0.5))
  .map(([el, r]) => `${el.outerHTML.slice(0, 90)} at ${Math.round(r.left)}..${Math.round(r.right)}`)"""


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageDaemon]:
    yield from page_station(tmp_path_factory, "tablet")


@pytest.fixture(scope="module")
def admin(station: PageDaemon) -> Iterator[httpx.Client]:
    with station.d.client(station.d.admin) as c:
        yield c


@pytest.fixture(scope="module")
def enrollment(station: PageDaemon) -> Iterator[httpx.Client]:
    with station.d.client(station.d.enrollment) as c:
        yield c




@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    # the page's CSP allows scripts from 'self' only; add_script_tag(path=...) inlines axe.min.js, so this
    # profile bypasses CSP (the page's own scripts are the same either way)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, timezone_id="UTC", locale="id-ID",
                              bypass_csp=True)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def errors() -> list[str]:
    return []


@pytest.fixture(scope="module")
def page(context: BrowserContext, station: PageDaemon, errors: list[str]) -> Page:
    p = context.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(p, station.d.url)
    return p


@pytest.fixture(autouse=True)
def no_script_errors(errors: list[str]) -> Iterator[None]:
    yield
    assert errors == [], f"the page threw: {errors}"


def attempts_of(admin: httpx.Client, job_id: str) -> list[str]:
    return [a["outcome"] for a in admin.get(f"/api/v1/jobs/{job_id}").json()["attempts"]]


@pytest.fixture(scope="module")
def spoiled_job(admin: httpx.Client, enrollment: httpx.Client, station: PageDaemon) -> str:
    """A job whose first blank was spoiled by a jam mid-card, printed on the next attempt."""
    wait_printers_ready(admin)
    assert admin.post("/api/v1/printers/card1/pause", json={"when": "now"}).status_code == 200
    try:
        for attempt in range(4):   # the jam must land while the card is inside card2; retry if it was too quick
            job_id = submit(enrollment, 300 + attempt, back={"content_type": "image/png", "data": png_b64(3)})
            wait_for(lambda j=job_id: job_state(admin, j) in ("printing", "printed"), interval=0.01,
                     what="the card to start")
            # the job is claimed before the printer takes the card (its card is prepared and its counters
            # are read first): wait for the card to be inside the printer, so the jam lands on it
            wait_for(lambda j=job_id: _fed(station, "card2") == j or job_state(admin, j) == "printed",
                     interval=0.01, what="card2 printing the card")
            admin.post("/api/v1/printers/card2/faults", json={"kind": "media-jam", "duration_s": 1})
            wait_for(lambda j=job_id: job_state(admin, j) == "printed", timeout=30, what="the card printed")
            if "spoiled" in attempts_of(admin, job_id):
                return job_id
            wait_printers_ready_one(admin, "card2")
        pytest.fail("could not jam a card inside the printer")
    finally:
        admin.post("/api/v1/printers/card1/resume")


def wait_printers_ready_one(admin: httpx.Client, name: str) -> None:
    wait_for(lambda: admin.get(f"/api/v1/printers/{name}").json()["state"] == "idle", timeout=20,
             what=f"{name} idle")


@pytest.fixture(scope="module")
def queue_states(admin: httpx.Client, enrollment: httpx.Client, spoiled_job: str,
                 station: PageDaemon) -> dict[str, list[str]]:
    """Today's queue with jobs printed, in doubt, queued and held (card1 offline, card2 paused: they stay so)."""
    wait_printers_ready(admin)
    printed = [submit(enrollment, 310 + i) for i in range(2)]
    for j in printed:
        wait_for(lambda j=j: job_state(admin, j) == "printed", timeout=30, what="a printed job")
    assert admin.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
    in_doubt = None
    for attempt in range(4):   # as in test_page: the link drops while the card is inside card1
        candidate = submit(enrollment, 320 + attempt, back={"content_type": "image/png", "data": png_b64(3)})
        # fed, not only claimed: a claimed card may still be being prepared (issue 20), and a printer
        # lost then takes no blank (the job goes back to the queue, not in doubt)
        wait_for(lambda c=candidate: _fed(station, "card1") == c or job_state(admin, c) == "printed",
                 interval=0.01, what="the card to start")
        admin.post("/api/v1/printers/card1/faults", json={"kind": "offline"})
        state = wait_for(lambda c=candidate: (s := job_state(admin, c)) in ("in_doubt", "printed") and s,
                         what="the card in doubt")
        if state == "in_doubt":
            in_doubt = candidate
            break
        admin.delete("/api/v1/printers/card1/faults")
        wait_printers_ready_one(admin, "card1")
    assert in_doubt is not None, "could not catch a card inside the printer"
    # a delivery note number with no place to break: the ledger table is wider than an upright tablet and
    # scrolls inside its box (the case axe's scrollable-region-focusable is about)
    r = admin.post("/api/v1/stock/receipts", json={"card_type": "ktp-el", "count": 50,
                                                  "reference": "BA-0042/DISDUKCAPIL-KOTA/XII/2026/" + "X" * 40})
    assert r.status_code == 201, r.text
    queued = [submit(enrollment, 330 + i) for i in range(10)]
    held = queued[-3:]
    for j in held:
        assert admin.post(f"/api/v1/jobs/{j}/hold").status_code == 200
    for j in queued:
        assert job_state(admin, j) in ("queued", "held")
    return {"printed": [*printed, spoiled_job], "in_doubt": [in_doubt], "queued": queued[:-3], "held": held}


def show(page: Page, tab: str) -> None:
    page.locator(f"#tab-{tab}").click()
    expect(page.locator(f"#view-{tab}")).to_be_visible()
    if tab == "reports":
        expect(page.locator("#report-card-types")).to_be_visible()
    if tab == "stock":
        expect(page.locator("#stock-body tr").first).to_be_visible()


# ------------------------------------------------------------------------------------------ tests

def test_a_spoiled_attempt_says_rusak(page: Page, admin: httpx.Client, spoiled_job: str) -> None:
    show(page, "queue")
    row = job_row(page, spoiled_job)
    expect(row).to_have_attribute("data-state", "printed")
    outcome = row.locator('[data-attempts="outcome"]')
    expect(outcome).to_have_text("rusak")   # id.json outcome.spoiled; not the last attempt's outcome
    assert "spoiled" in attempts_of(admin, spoiled_job)


def test_every_control_is_on_screen_at_every_size(page: Page, queue_states: dict[str, list[str]]) -> None:
    show(page, "queue")
    for ids in queue_states.values():
        for j in ids:
            expect(job_row(page, j)).to_be_visible()
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        for tab in TABS:
            show(page, tab)
            outside = page.evaluate(OUTSIDE)
            assert outside == [], f"{width}x{height} #{tab}: controls off screen: {outside}"
            scroll = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert scroll <= 0, f"{width}x{height} #{tab}: the page scrolls sideways by {scroll} px"
            if tab == "queue":
                shot(page, f"tablet-queue-{width}x{height}", full=True)
                # every queue action is there to press: hold on queued, release on held, settle in doubt
                for action, state in (("hold", "queued"), ("release", "held"), ("resolve", "in_doubt")):
                    for j in queue_states[state]:
                        expect(job_row(page, j).locator(f'button[data-action="{action}"]')).to_be_visible()
    page.set_viewport_size({"width": 1366, "height": 768})


def test_axe_finds_no_violation_at_any_size(page: Page, queue_states: dict[str, list[str]]) -> None:
    found: dict[str, Any] = {}
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        for tab in TABS:
            show(page, tab)
            violations = axe_violations(page)
            if violations:
                found[f"{width}x{height} #{tab}"] = violations
    page.set_viewport_size({"width": 1366, "height": 768})
    assert found == {}, found


def test_every_scrolling_table_can_be_reached_by_keyboard(page: Page, queue_states: dict[str, list[str]]) -> None:
    # at these sizes the tables fit; on a narrower screen (or with longer data) they scroll inside their box,
    # where axe's scrollable-region-focusable needs them focusable and named: check that for every one
    unreachable: list[str] = []
    for tab in TABS:
        show(page, tab)
        unreachable += page.evaluate("""() => [...document.querySelectorAll('.table-wrap')]
          .filter((el) => el.checkVisibility())
          .filter((el) => el.tabIndex !== 0 || el.getAttribute('role') !== 'region' || !el.getAttribute('aria-label'))
          .map((el) => el.outerHTML.slice(0, 120))""")
    assert unreachable == []
    # and axe agrees when one really scrolls: a phone-narrow window makes the ledger scroll inside its box
    show(page, "stock")
    page.set_viewport_size({"width": 360, "height": 740})
    try:
        assert page.evaluate("[...document.querySelectorAll('.table-wrap')].some((el) => el.scrollWidth > el.clientWidth)")
        assert [v for v in axe_violations(page) if v["id"] == "scrollable-region-focusable"] == []
    finally:
        page.set_viewport_size({"width": 1366, "height": 768})


def test_the_search_box_narrows_the_queue(page: Page, admin: httpx.Client, queue_states: dict[str, list[str]]) -> None:
    show(page, "queue")
    box = page.get_by_label("Cari")
    target = queue_states["queued"][0]
    job = admin.get(f"/api/v1/jobs/{target}").json()
    rows = page.locator("#jobs-body tr[data-job-id]")
    all_rows = rows.count()
    assert all_rows >= 12
    box.fill(job["name"])        # "WARGA UJI 330": the name
    expect(rows).to_have_count(1)
    expect(job_row(page, target)).to_be_visible()
    box.fill(job["name"].lower())
    expect(rows).to_have_count(1)
    last = job["nik_masked"][-4:]   # the masked NIK's visible last digits
    box.fill(last)
    expect(job_row(page, target)).to_be_visible()
    for tr in rows.all():
        assert last in tr.locator("td.mono").inner_text()
    box.fill(target[-8:])        # part of the job id
    expect(rows).to_have_count(1)
    expect(job_row(page, target)).to_be_visible()
    box.fill("tidak ada orang seperti ini")
    expect(rows).to_have_count(0)
    expect(page.locator("#jobs-empty")).to_have_text("Tidak ada pekerjaan yang cocok dengan pencarian.")
    box.fill("")
    expect(rows).to_have_count(all_rows)


def focused_row(page: Page) -> str | None:
    value: str | None = page.evaluate(
        "() => { const tr = document.activeElement && document.activeElement.closest('tr[data-job-id]');"
        " return tr ? tr.dataset.jobId : null; }")
    return value


def test_focus_stays_on_the_row_after_hold_release_cancel(
        page: Page, admin: httpx.Client, queue_states: dict[str, list[str]]) -> None:
    show(page, "queue")
    job_id = queue_states["queued"][1]
    row = job_row(page, job_id)
    row.locator('button[data-action="hold"]').focus()
    page.keyboard.press("Enter")                             # Tahan
    expect(row).to_have_attribute("data-state", "held")
    page.wait_for_function("id => document.activeElement.closest('tr')?.dataset.jobId === id", arg=job_id)
    assert page.evaluate("document.activeElement.dataset.action") == "release"   # the row's first control
    page.keyboard.press("Enter")                             # Lepas, still from the keyboard
    expect(row).to_have_attribute("data-state", "queued")
    page.wait_for_function("id => document.activeElement.closest('tr')?.dataset.jobId === id", arg=job_id)
    assert page.evaluate("document.activeElement.dataset.action") == "hold"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.action") == "cancel"
    page.keyboard.press("Enter")                             # Batalkan: a confirmation first
    dialog = page.locator("#dlg-confirm")
    expect(dialog).to_be_visible()
    dialog.locator("#dlg-confirm-ok").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(row).to_have_attribute("data-state", "canceled")
    page.wait_for_function("id => document.activeElement.closest('tr')?.dataset.jobId === id", arg=job_id)
    assert focused_row(page) == job_id
    assert job_state(admin, job_id) == "canceled"


def test_the_language_switch_keeps_the_tab(page: Page) -> None:
    show(page, "stock")
    page.get_by_role("link", name="English").click()
    expect(page.locator("#h-stock")).to_have_text("Blank stock")
    assert page.url.endswith("/#stock")
    expect(page.locator("#view-stock")).to_be_visible()
    show(page, "printers")
    page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(page.locator("#view-printers")).to_be_visible()
    assert page.url.endswith("/#printers")
    expect(page.locator("nav.tabs")).to_contain_text("Antrian")


def test_the_report_day_is_written_dd_mm_yyyy(page: Page, admin: httpx.Client) -> None:
    show(page, "reports")
    field = page.get_by_label("Tanggal")
    y, m, d = today().split("-")
    expect(field).to_have_value(f"{d}/{m}/{y}")
    expect(page.locator("#report-body h2")).to_contain_text(y)
    # another day, written the Indonesian way, is the day the API is asked for
    with page.expect_response(lambda r: "/api/v1/reports/daily?date=" in r.url) as answer:
        field.fill(f"1/{m}/{y}")
        page.locator("#form-report").get_by_role("button", name="Tampilkan").click()
    assert answer.value.url.endswith(f"date={y}-{m}-01")
    expect(page.locator("#report-print")).to_have_attribute("href", f"/api/v1/reports/daily?date={y}-{m}-01")
    # not a day: refused in the field, nothing asked
    field.fill(f"31/02/{y}")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "reports/daily" in r.url else None)
    page.locator("#form-report").get_by_role("button", name="Tampilkan").click()
    assert page.evaluate("document.getElementById('report-date').validationMessage") == \
        "Tulis tanggal sebagai hh/bb/tttt, tidak lewat hari ini."
    assert requests == []
    field.fill(f"{d}/{m}/{y}")


def test_a_technician_has_no_reports_tab(browser: Browser, station: PageDaemon, admin: httpx.Client) -> None:
    # printd/api/reports.py lets operators (and admins) read reports, not technicians: no tab that only fails
    assert admin.get("/api/v1/reports/daily", params={"date": today()}).status_code == 200
    ctx = browser.new_context(viewport={"width": 800, "height": 1280})
    try:
        tech = ctx.new_page()
        errors: list[str] = []
        tech.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(tech, station.d.url, "teknisi")
        expect(tech.locator("#tab-queue")).to_be_visible()
        expect(tech.locator("#tab-reports")).to_have_count(0)
        expect(tech.locator("#view-reports")).to_have_count(0)
        tech.goto(station.d.url + "/#reports")            # an old bookmark: the queue instead
        expect(tech.locator("#view-queue")).to_be_visible()
        expect(tech.locator("#tab-queue")).to_have_attribute("aria-current", "page")
        for tab in ("queue", "printers", "stock"):
            show(tech, tab)
            assert tech.evaluate(OUTSIDE) == []
        assert errors == []
    finally:
        ctx.close()
