"""The operator page's custody work in a real browser (Debian's Chromium through Playwright) against the
real daemon: take in old cards, a refused and a recorded destruction with its berita acara opened from
the page, a return, the reprint dialog's category, and the monthly report.

One daemon and one logged-in page; the tests run in file order.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from printd.access.accounts import Accounts
from printd.queue.db import Database
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (kept importable from here)
from tests.support import ROOT, Daemon, config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "kata-sandi-uji"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    state = tmp_path_factory.mktemp("custody-page") / "state"
    state.mkdir()
    db = Database(state / "printd.sqlite3")
    Accounts(db).add_user("sari", "operator", PASSWORD)
    db.close()
    with daemon_thread(config_text(time_scale=300), state) as d:
        yield d


@pytest.fixture(scope="module")
def admin(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(daemon.admin) as c:
        yield c




@pytest.fixture(scope="module")
def errors() -> list[str]:
    return []


@pytest.fixture(scope="module")
def page(browser: Browser, daemon: Daemon, errors: list[str]) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID", accept_downloads=True)
    ctx.set_default_timeout(10_000)
    p = ctx.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.goto(daemon.url + "/login")
    p.get_by_label("Nama pengguna").fill("sari")
    p.get_by_label("Kata sandi").fill(PASSWORD)
    p.get_by_role("button", name="Masuk").click()
    expect(p.locator("#conn")).to_have_attribute("data-state", "live")
    yield p
    ctx.close()


@pytest.fixture(autouse=True)
def no_script_errors(errors: list[str]) -> Iterator[None]:
    yield
    assert errors == [], f"the page threw: {errors}"


def rusak(admin: httpx.Client, card_type: str = "ktp-el") -> int:
    return next(v["rusak"] for v in admin.get("/api/v1/stock").json()["card_types"] if v["card_type"] == card_type)


def test_take_in_old_cards_then_destroy_them_and_print_the_berita_acara(page: Page, admin: httpx.Client) -> None:
    page.get_by_role("link", name="Stok blangko").click()
    form = page.locator("#form-surrender")
    form.get_by_label("Jenis kartu").select_option("ktp-el")
    form.get_by_label("Jumlah kartu").fill("3")
    form.get_by_label("Alasan").fill("KTP-el lama, penggantian karena rusak")
    form.get_by_role("button", name="Simpan ke penyimpanan rusak").click()
    expect(form.locator(".form-msg")).to_have_text("3 kartu lama masuk penyimpanan rusak.")
    assert rusak(admin) == 3
    expect(page.locator('#stock-body tr[data-card-type="ktp-el"] [data-loc="rusak"]')).to_have_text("3")

    destroy = page.locator("#form-destroy")
    destroy.get_by_label("Jumlah kartu").fill("4")   # custody holds 3: refused, nothing booked
    destroy.get_by_label("Saksi (satu nama per baris)").fill("Satpol PP: Ahmad Rahman\nInspektorat: Siti Dewi")
    destroy.get_by_label("Nomor berita acara").fill("BA-PMS/001")
    destroy.get_by_role("button", name="Catat pemusnahan").click()
    expect(destroy.locator(".form-msg")).to_have_text("Penyimpanan rusak berisi lebih sedikit kartu dari jumlah itu.")
    assert rusak(admin) == 3

    destroy.get_by_label("Jumlah kartu").fill("3")
    destroy.get_by_label("Dibakar").check()
    destroy.get_by_role("button", name="Catat pemusnahan").click()
    expect(destroy.locator(".form-msg")).to_have_text("3 kartu dicatat dimusnahkan.")
    assert rusak(admin) == 0
    link = destroy.locator(".form-doc a")
    expect(link).to_have_text("Cetak berita acara")
    with page.context.expect_page() as opened:
        link.click()
    ba = opened.value
    ba.wait_for_load_state()
    expect(ba.locator("h1")).to_have_text("BERITA ACARA PEMUSNAHAN KARTU RUSAK")
    expect(ba.locator("body")).to_contain_text("Satpol PP: Ahmad Rahman")
    expect(ba.locator("body")).to_contain_text("dibakar")
    ba.close()
    expect(page.locator('#documents-body tr[data-kind="destruction"]')).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "custody.png"), full_page=True)


def test_a_destruction_without_witnesses_is_refused(page: Page, admin: httpx.Client) -> None:
    admin.post("/api/v1/stock/surrendered", json={"card_type": "ktp-el", "count": 1, "reason": "KTP-el lama"})
    destroy = page.locator("#form-destroy")
    destroy.get_by_label("Jumlah kartu").fill("1")
    destroy.get_by_label("Saksi (satu nama per baris)").fill("   \n  ")
    destroy.get_by_label("Nomor berita acara").fill("BA-PMS/002")
    destroy.get_by_role("button", name="Catat pemusnahan").click()
    expect(destroy.locator(".form-msg")).to_have_class("form-msg error-text")
    assert rusak(admin) == 1


def test_return_blanks_from_the_safe(page: Page, admin: httpx.Client) -> None:
    before = next(v["safe"] for v in admin.get("/api/v1/stock").json()["card_types"] if v["card_type"] == "kia")
    form = page.locator("#form-return")
    form.get_by_label("Jenis kartu").select_option("kia")
    form.get_by_label("Jumlah kartu").fill("5")
    form.get_by_label("Brankas (belum terpakai)").check()
    form.get_by_label("Nomor berita acara").fill("BA-RET/001")
    form.get_by_role("button", name="Catat pengembalian").click()
    expect(form.locator(".form-msg")).to_have_text("5 kartu dicatat dikembalikan.")
    after = next(v["safe"] for v in admin.get("/api/v1/stock").json()["card_types"] if v["card_type"] == "kia")
    assert after == before - 5
    expect(form.locator(".form-doc a")).to_have_attribute("href", re.compile(r"^/api/v1/stock/returns/\d+/berita-acara$"))


def test_reprint_asks_for_the_category(page: Page, admin: httpx.Client, daemon: Daemon) -> None:
    with daemon.client(daemon.enrollment) as enr:
        job_id = enr.post("/api/v1/jobs", json=job_payload(1650)).json()["id"]
    wait_for(lambda: admin.get(f"/api/v1/jobs/{job_id}").json()["state"] == "printed", timeout=60, what="printed")
    page.get_by_role("link", name="Antrian").click()
    page.get_by_label("Tampilkan").select_option("printed")
    row = page.locator(f'#jobs-body tr[data-job-id="{job_id}"]')
    row.get_by_role("button", name="Cetak ulang").click()
    dialog = page.locator("#dlg-reprint")
    dialog.get_by_label("Alasan").fill("alamat berubah")
    dialog.get_by_label("Kategori kartu rusak").select_option("perubahan_data")
    dialog.get_by_role("button", name="Cetak ulang").click()
    expect(dialog).to_be_hidden()
    entry = [e for e in admin.get("/api/v1/stock/ledger").json()["items"]
             if e["job_id"] == job_id and e["kind"] == "spoiled"][-1]
    assert (entry["to"], entry["category"]) == ("rusak", "perubahan_data")
    page.get_by_label("Tampilkan").select_option("")


def test_the_monthly_report_shows_the_month(page: Page, admin: httpx.Client) -> None:
    page.get_by_role("link", name="Laporan").click()
    # the daily report names the ministry's category beside the printer's reason
    daily = page.locator('#report-card-types tr[data-card-type="ktp-el"] [data-detail="category"]')
    expect(daily).to_contain_text("Perubahan elemen data: 1")
    page.locator("#form-monthly").get_by_role("button", name="Tampilkan").click()
    table = page.locator("#monthly-card-types")
    expect(table).to_be_visible()
    month = admin.get("/api/v1/reports/monthly").json()
    ktp = next(c for c in month["card_types"] if c["card_type"] == "ktp-el")
    assert ktp["destroyed"] == 3 and ktp["spoiled_by_category"]["perubahan_data"] == 1
    expect(table.locator('tr[data-row="destroyed"] td').first).to_have_text("3")
    expect(table.locator('tr[data-row="spoiled:perubahan_data"] td').first).to_have_text("1")
    print_link = page.locator("#monthly-print")
    assert (print_link.get_attribute("href") or "").endswith("format=html")
