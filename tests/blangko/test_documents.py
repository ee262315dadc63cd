"""Each berita acara prints from Chromium to exactly one A4 page, from the real daemon, with the most a
document can hold: every category, six witnesses, a long office name.

Page counts come from Chromium's own PDF (`page.pdf(format="A4")`) read by poppler's `pdfinfo`. With
PRINTD_UPDATE_DOCS_IMG=1 the test also refreshes the screenshots shown in docs/stock.md.
"""
from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from printd.blangko.report_formats import terbilang
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (kept importable from here)
from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
OFFICE = "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Kepulauan Seribu Utara Provinsi DKI Jakarta"
WITNESSES = ["Satpol PP: Ahmad Rahman, S.H.", "Inspektorat: Dra. Siti Dewi Lestari", "Kepolisian: Bripka Joko",
             "Bagian Hukum: R. Pratama, S.H., M.H.", "Disdukcapil: Nur Aini, S.Kom.", "Kecamatan: Hendra Wijaya"]
CATEGORIES = ["gagal_cetak", "gagal_encode", "rusak_fisik", "cacat_pabrik", "perubahan_data"]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, dict[str, str]]]:
    """A daemon with one of each document; {name: berita acara URL}."""
    cfg = config_text(time_scale=300).replace("[station]\n", f'[station]\noffice = "{OFFICE}"\nname = "loket-1"\n')
    with daemon_thread(cfg, tmp_path_factory.mktemp("ba") / "state") as d, d.client(d.enrollment) as enr, \
            d.client() as op:
        ids = [enr.post("/api/v1/jobs", json=job_payload(1700 + i)).json()["id"] for i in range(len(CATEGORIES))]
        wait_for(lambda: all(enr.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in ids), timeout=90,
                 what="cards printed")
        for job_id, category in zip(ids, CATEGORIES, strict=True):   # a card of every category into custody
            op.post(f"/api/v1/jobs/{job_id}/reprint", json={"reason": "uji", "category": category}).raise_for_status()
        op.post("/api/v1/stock/surrendered", json={"card_type": "ktp-el", "count": 7,
                                                    "reason": "KTP-el lama"}).raise_for_status()
        urls = {}
        r = op.post("/api/v1/stock/destructions", json={"card_type": "ktp-el", "count": 12, "method": "bakar",
                                                         "witnesses": WITNESSES, "reference": "BA-PMS/470/XII/2026"})
        r.raise_for_status()
        assert len(r.json()["by_category"]) == 6
        urls["pemusnahan"] = r.json()["berita_acara"]
        op.post("/api/v1/stock/surrendered", json={"card_type": "ktp-el", "count": 3, "reason": "KTP-el lama"})
        r = op.post("/api/v1/stock/returns", json={"card_type": "ktp-el", "count": 3, "from": "rusak",
                                                    "reference": "BA-RET/470/XII/2026",
                                                    "recipient": "Direktorat Fasilitasi Pemanfaatan Data dan Dokumen"})
        urls["penyerahan-rusak"] = r.raise_for_status().json()["berita_acara"]
        r = op.post("/api/v1/stock/returns", json={"card_type": "kia", "count": 25, "from": "brankas",
                                                    "reference": "BA-RET/471/XII/2026"})
        urls["penyerahan"] = r.raise_for_status().json()["berita_acara"]
        r = op.post("/api/v1/stock/receipts", json={"card_type": "ktp-el", "count": 1250, "reference":
                                                     "BAST/470.13/1234/Dukcapil/XII/2026",
                                                     "sender": "Ditjen Dukcapil Kementerian Dalam Negeri"})
        urls["serah-terima"] = r.raise_for_status().json()["berita_acara"]
        yield d, urls




def pdf_pages(pdf: bytes, path: Path) -> int:
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=60).stdout
    m = re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE)
    assert m, out
    assert re.search(r"^Page size:.*\(A4\)", out, re.MULTILINE), out
    return int(m.group(1))


@pytest.mark.parametrize("name", ["pemusnahan", "penyerahan-rusak", "penyerahan", "serah-terima"])
def test_each_berita_acara_prints_on_one_a4_page(documents: tuple[Daemon, dict[str, str]], browser: Browser,
                                                 name: str, tmp_path: Path) -> None:
    d, urls = documents
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {d.admin}"},
                                  viewport={"width": 794, "height": 1123})
    try:
        page = context.new_page()
        response = page.goto(d.url + urls[name])
        assert response is not None and response.status == 200
        text = page.inner_text("body")
        assert OFFICE.upper() in text.upper()
        assert "BERITA ACARA" in text
        if name == "pemusnahan":
            assert all(w in text for w in WITNESSES) and "dibakar" in text and "12 (dua belas) keping" in text
        if name == "serah-terima":
            assert terbilang(1250) in text   # seribu dua ratus lima puluh
        pdf = page.pdf(format="A4", print_background=True)
        if os.environ.get("PRINTD_KEEP_PDF"):
            Path(os.environ["PRINTD_KEEP_PDF"], f"{name}.pdf").write_bytes(pdf)
        pages = pdf_pages(pdf, tmp_path / f"{name}.pdf")
        assert pages == 1, f"berita acara {name} prints on {pages} pages"
        if os.environ.get("PRINTD_UPDATE_DOCS_IMG") == "1":
            page.screenshot(path=str(ROOT / "docs" / "img" / f"berita-acara-{name}.png"), full_page=True)
    finally:
        context.close()


def test_berita_acara_needs_an_operator(documents: tuple[Daemon, dict[str, str]]) -> None:
    d, urls = documents
    assert httpx.get(d.url + urls["pemusnahan"]).status_code == 401
    assert httpx.get(d.url + urls["pemusnahan"], headers={"Authorization": f"Bearer {d.enrollment}"}).status_code == 403


def test_the_board_fits_a_waiting_room_screen_without_a_login(documents: tuple[Daemon, dict[str, str]],
                                                              browser: Browser) -> None:
    d, _ = documents
    context = browser.new_context(viewport={"width": 1920, "height": 1080})   # a TV on the wall, no credential
    try:
        page = context.new_page()
        response = page.goto(d.url + "/board")
        assert response is not None and response.status == 200
        text = page.inner_text("body")
        assert "Informasi Stok Blangko Hari Ini" in text and "keping tersedia" in text
        assert not re.search(r"\d{16}", text)   # no NIK
        # one screen: nothing to scroll, and the stock figures are large
        assert page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight")
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.card .count')).fontSize)")
        assert size >= 100
        if os.environ.get("PRINTD_UPDATE_DOCS_IMG") == "1":
            page.screenshot(path=str(ROOT / "docs" / "img" / "board.png"))
    finally:
        context.close()
