"""Custody, destructions, returns, surrendered cards, the berita acara, the monthly report and the public
board through the real HTTP server: what is booked, what is refused (and then nothing is booked), who may.

Sources for what offices must do are in docs/stock.md (Dirjen Dukcapil circular 400.8.1.2/202241,
SE Mendagri 470.13/11176/SJ, Mendagri letter 471.13/24149/dukcapil).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

OFFICE = "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Uji"
WITNESSES = ["Satpol PP: Ahmad Rahman", "Inspektorat: Siti Dewi"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    cfg = config_text(time_scale=300).replace("[station]\n", f'[station]\noffice = "{OFFICE}"\nname = "loket-1"\n')
    with daemon_thread(cfg, tmp_path_factory.mktemp("custody") / "state") as d:
        accounts = d.app.state.accounts
        d.extra["operator"] = accounts.create_token("operator-1", "operator")[0]
        d.extra["technician"] = accounts.create_token("teknisi-1", "technician")[0]
        yield d


def state(c: httpx.Client) -> tuple[list[dict[str, Any]], dict[str, Any], int, int]:
    """What a refused request must leave unchanged: the entries other than printing (the daemon may be
    printing other tests' cards meanwhile), the safe and custody per card type, the documents."""
    entries = [e for e in c.get("/api/v1/stock/ledger").json()["items"] if e["kind"] != "consumed"]
    view = c.get("/api/v1/stock").json()["card_types"]
    return (entries, {v["card_type"]: (v["safe"], v["rusak"]) for v in view},
            len(c.get("/api/v1/stock/destructions").json()["items"]), len(c.get("/api/v1/stock/returns").json()["items"]))


def rusak(c: httpx.Client, card_type: str = "ktp-el") -> int:
    return next(v["rusak"] for v in c.get("/api/v1/stock").json()["card_types"] if v["card_type"] == card_type)


def test_a_jam_books_gagal_cetak_into_custody(tmp_path: Path) -> None:
    # every card jams in this station's simulated printers (a fault while the card is inside: card_fed)
    cfg = config_text(time_scale=300, fault_rate=1.0, fault_kinds=["media-jam"])
    with daemon_thread(cfg, tmp_path / "state") as d, d.client(d.enrollment) as enr, d.client() as op:
        enr.post("/api/v1/jobs", json=job_payload(1601)).raise_for_status()
        spoiled = wait_for(lambda: [e for e in op.get("/api/v1/stock/ledger").json()["items"]
                                    if e["kind"] == "spoiled"], timeout=60, what="a jammed card")
        assert spoiled[0]["category"] == "gagal_cetak" and spoiled[0]["to"] == "rusak"
        assert spoiled[0]["reason"] == "media-jam"
        view = next(v for v in op.get("/api/v1/stock").json()["card_types"] if v["card_type"] == "ktp-el")
        assert view["rusak"] >= 1 and view["rusak_by_category"]["gagal_cetak"] >= 1
        assert view["spoiled_today_by_category"]["gagal_cetak"] >= 1
        daily = op.get("/api/v1/reports/daily").json()
        ktp = next(c for c in daily["card_types"] if c["card_type"] == "ktp-el")
        assert ktp["spoiled_by_category"]["gagal_cetak"] >= 1 and ktp["spoiled_by_reason"]["media-jam"] >= 1
        assert ktp["custody_closing"] == view["rusak"]


def test_reprint_with_a_category_and_an_unknown_one(daemon: Daemon) -> None:
    with daemon.client(daemon.enrollment) as enr, daemon.client(daemon.extra["operator"]) as op:
        job_id = enr.post("/api/v1/jobs", json=job_payload(1602)).json()["id"]
        wait_for(lambda: enr.get(f"/api/v1/jobs/{job_id}").json()["state"] == "printed", timeout=60, what="printed")
        before = state(op)
        r = op.post(f"/api/v1/jobs/{job_id}/reprint", json={"reason": "alamat berubah", "category": "hilang"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "category"
        assert state(op) == before and enr.get(f"/api/v1/jobs/{job_id}").json()["state"] == "printed"
        r = op.post(f"/api/v1/jobs/{job_id}/reprint", json={"reason": "alamat berubah", "category": "perubahan_data"})
        assert r.status_code == 200, r.text
        entry = [e for e in op.get("/api/v1/stock/ledger").json()["items"] if e["job_id"] == job_id
                 and e["kind"] == "spoiled"][-1]
        assert (entry["from"], entry["to"], entry["category"]) == ("printed", "rusak", "perubahan_data")


def test_surrender_destroy_and_its_berita_acara(daemon: Daemon) -> None:
    with daemon.client(daemon.extra["operator"]) as op, daemon.client(daemon.enrollment) as enr:
        job_id = enr.post("/api/v1/jobs", json=job_payload(1603)).json()["id"]
        r = op.post("/api/v1/stock/surrendered", json={"card_type": "ktp-el", "count": 2,
                                                        "reason": "KTP-el lama, penggantian karena rusak",
                                                        "job_id": job_id})
        assert r.status_code == 201, r.text
        assert r.json()["job_id"] == job_id and r.json()["kind"] == "surrendered"
        held = rusak(op)
        r = op.post("/api/v1/stock/destructions", json={"card_type": "ktp-el", "count": held, "method": "potong",
                                                         "witnesses": WITNESSES, "reference": "BA-PMS/12/001"})
        assert r.status_code == 201, r.text
        doc = r.json()
        assert isinstance(doc["id"], int) and doc["count"] == held and doc["method"] == "potong"
        assert doc["witnesses"] == WITNESSES and sum(doc["by_category"].values()) == held
        assert doc["by_category"]["surrendered"] == 2
        assert doc["berita_acara"] == f"/api/v1/stock/destructions/{doc['id']}/berita-acara"
        assert rusak(op) == 0
        ba = op.get(doc["berita_acara"])
        assert ba.status_code == 200 and ba.headers["content-type"].startswith("text/html")
        html = ba.text
        assert "BERITA ACARA PEMUSNAHAN" in html and OFFICE in html and "BA-PMS/12/001" in html
        day = daemon.app.state.station.clock.day()
        months = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
                  "Oktober", "November", "Desember"]
        assert f"{int(day[8:])} {months[int(day[5:7]) - 1]} {day[:4]}" in html   # e.g. "4 Desember 2026"
        assert all(w in html for w in WITNESSES) and "dipotong" in html
        assert "KTP-el lama yang diserahkan" in html
        assert next(d["id"] for d in op.get("/api/v1/stock/destructions").json()["items"]) == doc["id"]
        assert op.get(f"/api/v1/stock/returns/{doc['id']}/berita-acara").status_code == 404


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"count": 1, "witnesses": []}, 422, "witnesses"),
    ({"count": 1, "witnesses": ["  "]}, 422, "witnesses"),
    ({"count": 1, "method": "giling"}, 422, "method"),
    ({"count": 1, "reference": ""}, 422, "reference"),
    ({"count": 100000}, 409, "count"),
    ({"count": 1, "card_type": "sim-a"}, 422, "card_type"),
])
def test_bad_destructions_get_a_clear_4xx_and_book_nothing(daemon: Daemon, body: dict[str, Any], status: int,
                                                            field: str) -> None:
    with daemon.client(daemon.extra["operator"]) as op:
        op.post("/api/v1/stock/surrendered", json={"card_type": "ktp-el", "count": 1, "reason": "KTP-el lama"})
        before = state(op)
        full = {"card_type": "ktp-el", "method": "bakar", "witnesses": WITNESSES, "reference": "BA-PMS/X", **body}
        r = op.post("/api/v1/stock/destructions", json=full)
        assert r.status_code == status, r.text
        err = r.json()["error"]
        assert err["field"] == field and err["code"] and err["message"]
        assert state(op) == before
        assert op.get("/api/v1/stock/destructions/999999/berita-acara").status_code == 404


def test_returns_and_receipt_bast(daemon: Daemon) -> None:
    with daemon.client(daemon.extra["operator"]) as op:
        r = op.post("/api/v1/stock/receipts", json={"card_type": "kia", "count": 50, "reference": "BAST-77/XII/2026",
                                                     "sender": "Dinas Dukcapil Provinsi Uji"})
        assert r.status_code == 201, r.text
        bast = op.get(r.json()["berita_acara"])
        assert bast.status_code == 200 and "BERITA ACARA SERAH TERIMA" in bast.text
        assert "Dinas Dukcapil Provinsi Uji" in bast.text and "lima puluh" in bast.text
        assert op.get("/api/v1/stock/receipts").json()["items"][0]["id"] == r.json()["document_id"]

        op.post("/api/v1/stock/surrendered", json={"card_type": "kia", "count": 3, "reason": "KIA lama"})
        before = state(op)
        r = op.post("/api/v1/stock/returns", json={"card_type": "kia", "count": 4, "from": "rusak",
                                                    "reference": "BA-RET/1"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_custody"
        r = op.post("/api/v1/stock/returns", json={"card_type": "kia", "count": 4, "from": "hopper",
                                                    "reference": "BA-RET/1"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "from"
        assert state(op) == before
        r = op.post("/api/v1/stock/returns", json={"card_type": "kia", "count": 3, "from": "rusak",
                                                    "reference": "BA-RET/1"})
        assert r.status_code == 201 and r.json()["by_category"] == {"surrendered": 3}
        r = op.post("/api/v1/stock/returns", json={"card_type": "kia", "count": 10, "from": "brankas",
                                                    "reference": "BA-RET/2"})
        assert r.status_code == 201, r.text
        ba = op.get(r.json()["berita_acara"])
        assert "BERITA ACARA PENYERAHAN BLANGKO" in ba.text and "sepuluh" in ba.text and "BA-RET/2" in ba.text


def test_monthly_report_formats_and_a_future_month(daemon: Daemon) -> None:
    with daemon.client(daemon.extra["operator"]) as op:
        month = daemon.app.state.station.clock.day()[:7]
        doc = op.get("/api/v1/reports/monthly", params={"month": month}).json()
        assert (doc["month"], doc["station"], doc["office"], doc["final"]) == (month, "loket-1", OFFICE, False)
        for c in doc["card_types"]:
            assert set(c) >= {"card_type", "opening", "received", "consumed", "spoiled_by_category", "test",
                              "destroyed", "returned", "adjusted", "closing", "custody_closing"}
            assert c["closing"] == (c["opening"] + c["received"] - c["consumed"] - c["spoiled"] - c["test"]
                                    + c["adjusted"] - c["returned"])
        assert [p["name"] for p in doc["printers"]] == ["card1", "card2"] and isinstance(doc["days"], list)
        r = op.get("/api/v1/reports/monthly", params={"month": month, "format": "csv"})
        assert r.headers["content-type"].startswith("text/csv") and f"laporan-blangko-{month}.csv" in \
            r.headers["content-disposition"]
        assert {row["section"] for row in csv.DictReader(io.StringIO(r.text))} >= {"card_type", "printer"}
        r = op.get("/api/v1/reports/monthly", params={"month": month}, headers={"Accept": "text/html"})
        assert "LAPORAN BULANAN PENGGUNAAN BLANGKO" in r.text
        year = int(month[:4])
        for bad, code in ((f"{year + 1}-01", "future_month"), ("2026-13", "invalid_month"), ("abc", "invalid_month")):
            r = op.get("/api/v1/reports/monthly", params={"month": bad})
            assert r.status_code == 422 and r.json()["error"]["code"] == code and r.json()["error"]["field"] == "month"
        assert httpx.get(daemon.url + "/api/v1/reports/monthly").status_code == 401


def test_board_is_public_and_has_no_personal_data(daemon: Daemon) -> None:
    with daemon.client(daemon.enrollment) as enr:
        payload = job_payload(1699)
        enr.post("/api/v1/jobs", json=payload).raise_for_status()
    r = httpx.get(daemon.url + "/board")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Informasi Stok Blangko Hari Ini" in html and OFFICE in html
    assert 'http-equiv="refresh"' in html and "<script" not in html and "<form" not in html
    assert payload["nik"] not in html and payload["name"] not in html and "j_" not in html
    assert "default-src 'none'" in r.headers["content-security-policy"]
    with daemon.client(daemon.extra["operator"]) as op:
        view = op.get("/api/v1/stock").json()["card_types"]
    for v in view:
        assert f'id="stock-{v["card_type"]}"' in html
    assert httpx.post(daemon.url + "/board").status_code == 405


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/v1/stock/destructions", {"card_type": "ktp-el", "count": 1, "method": "potong",
                                            "witnesses": WITNESSES, "reference": "X"}),
    ("post", "/api/v1/stock/returns", {"card_type": "ktp-el", "count": 1, "from": "brankas", "reference": "X"}),
    ("post", "/api/v1/stock/surrendered", {"card_type": "ktp-el", "count": 1, "reason": "X"}),
])
def test_writes_are_for_operators(daemon: Daemon, method: str, path: str, body: dict[str, Any]) -> None:
    for token, status in ((daemon.extra["technician"], 403), (daemon.enrollment, 403), (None, 401)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert httpx.request(method, daemon.url + path, json=body, headers=headers).status_code == status


def test_answers_match_the_documented_models(daemon: Daemon) -> None:
    """The new answers validate against printd/api/models.py, as /openapi.json promises integrators."""
    from printd.api import models as m

    with daemon.client(daemon.extra["operator"]) as op:
        made = op.post("/api/v1/stock/surrendered", json={"card_type": "kia", "count": 1, "reason": "KIA lama"})
        m.StockDocumentCreated.model_validate(made.json())
        made = op.post("/api/v1/stock/destructions", json={"card_type": "kia", "count": 1, "method": "potong",
                                                            "witnesses": WITNESSES, "reference": "BA-PMS/M"})
        doc = m.StockDocumentCreated.model_validate(made.json())
        assert doc.kind == "destruction" and doc.method == "potong" and doc.by_category == {"surrendered": 1}
        for path in ("/api/v1/stock/destructions", "/api/v1/stock/returns", "/api/v1/stock/receipts"):
            m.StockDocumentPage.model_validate(op.get(path).json())
        m.MonthlyReport.model_validate(op.get("/api/v1/reports/monthly").json())
        m.DailyReport.model_validate(op.get("/api/v1/reports/daily").json())
        m.Stock.model_validate(op.get("/api/v1/stock").json())
        m.LedgerPage.model_validate(op.get("/api/v1/stock/ledger").json())
        receipt = op.post("/api/v1/stock/receipts", json={"card_type": "kia", "count": 1, "reference": "BAST-M"})
        assert m.StockChange.model_validate(receipt.json()).berita_acara
