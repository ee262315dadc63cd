"""The stock and report endpoints through the real HTTP server: views, bad input, roles, formats, and
jobs waiting for blanks."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

OFFICE = "Dinas Kependudukan dan Pencatatan Sipil Kota Bandung"


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the read-only and refused-request tests (nothing prints in it)."""
    cfg = config_text().replace("[station]\n", f'[station]\noffice = "{OFFICE}"\nname = "loket-1"\n')
    with daemon_thread(cfg, tmp_path_factory.mktemp("stock") / "state") as d:
        accounts = d.app.state.accounts
        d.extra["operator"] = accounts.create_token("operator-1", "operator")[0]
        d.extra["technician"] = accounts.create_token("teknisi-1", "technician")[0]
        yield d


def ledger_state(c: httpx.Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return c.get("/api/v1/stock/ledger").json()["items"], c.get("/api/v1/stock").json()["card_types"]


def test_stock_view(quiet: Daemon) -> None:
    with quiet.client(quiet.extra["operator"]) as c:
        r = c.get("/api/v1/stock")
    assert r.status_code == 200
    body = r.json()
    ktp = next(ct for ct in body["card_types"] if ct["card_type"] == "ktp-el")
    assert (ktp["safe"], ktp["hoppers"], ktp["total"]) == (200, {"card1": 400, "card2": 400}, 1000)
    # a station on its first day has no print rate yet
    assert ktp["days_left"] is None and ktp["rate_per_day"] is None
    assert (ktp["printed_today"], ktp["spoiled_today"], ktp["spoiled_today_by_reason"]) == (0, 0, {})
    assert body["alerts"] == []


@pytest.mark.parametrize("who, status", [("enrollment", 403), ("technician", 200), (None, 401)])
def test_stock_view_roles(quiet: Daemon, who: str | None, status: int) -> None:
    token = {"enrollment": quiet.enrollment, "technician": quiet.extra["technician"]}.get(who or "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    assert httpx.get(quiet.url + "/api/v1/stock", headers=headers).status_code == status


BAD = [
    ("receipts", {"card_type": "ktp-el", "count": -5, "reference": "BAST-1"}, 422, "count"),
    ("receipts", {"card_type": "ktp-el", "count": 0, "reference": "BAST-1"}, 422, "count"),
    ("receipts", {"card_type": "sim-a", "count": 5, "reference": "BAST-1"}, 422, "card_type"),
    ("receipts", {"card_type": "ktp-el", "count": 5}, 422, "reference"),
    ("receipts", {"card_type": "ktp-el", "count": 5, "reference": "   "}, 422, "reference"),
    ("receipts", {"card_type": "ktp-el", "count": 5, "reference": "B", "bonus": 1}, 422, "bonus"),
    ("loads", {"printer": "card1", "card_type": "ktp-el", "count": 201}, 409, "count"),     # the safe holds 200
    ("loads", {"printer": "card1", "card_type": "ktp-el", "count": -1}, 422, "count"),
    ("loads", {"printer": "card9", "card_type": "ktp-el", "count": 1}, 404, "printer"),
    ("loads", {"printer": "card1", "card_type": "kia", "count": 1}, 409, "card_type"),      # holds ktp-el
    ("loads", {"printer": "card1", "card_type": "passport", "count": 1}, 422, "card_type"),
    ("unloads", {"printer": "card1", "card_type": "ktp-el", "count": 401}, 409, "count"),   # the hopper holds 400
    ("unloads", {"printer": "card9", "card_type": "ktp-el", "count": 1}, 404, "printer"),
    ("adjustments", {"card_type": "ktp-el", "location": "safe", "delta": -2}, 422, "reason"),
    ("adjustments", {"card_type": "ktp-el", "location": "safe", "delta": -2, "reason": " "}, 422, "reason"),
    ("adjustments", {"card_type": "ktp-el", "location": "safe", "delta": 0, "reason": "count"}, 422, "delta"),
    ("adjustments", {"card_type": "ktp-el", "location": "garage", "delta": 1, "reason": "count"}, 404, "location"),
    ("adjustments", {"card_type": "xx", "location": "safe", "delta": 1, "reason": "count"}, 422, "card_type"),
]


@pytest.mark.parametrize("path, body, status, field", BAD, ids=[f"{p}-{f}-{s}" for p, _, s, f in BAD])
def test_bad_input_is_refused_and_books_nothing(quiet: Daemon, path: str, body: dict[str, Any], status: int,
                                                field: str) -> None:
    with quiet.client(quiet.extra["operator"]) as c:
        before = ledger_state(c)
        r = c.post(f"/api/v1/stock/{path}", json=body)
        assert r.status_code == status, r.text
        err = r.json()["error"]
        assert err["field"] == field and err["code"] and err["message"]
        assert ledger_state(c) == before


def test_malformed_json_books_nothing(quiet: Daemon) -> None:
    with quiet.client() as c:
        before = ledger_state(c)
        r = c.post("/api/v1/stock/receipts", content=b'{"card_type": "ktp-el", "count": ',
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
        assert ledger_state(c) == before


@pytest.mark.parametrize("who, status", [("enrollment", 403), ("technician", 403), ("operator", 200)])
def test_stock_actions_need_an_operator(quiet: Daemon, who: str, status: int) -> None:
    token = {"enrollment": quiet.enrollment, "technician": quiet.extra["technician"],
             "operator": quiet.extra["operator"]}[who]
    with quiet.client() as admin, quiet.client(token) as c:
        before = ledger_state(admin)[0]
        r = c.post("/api/v1/stock/receipts", json={"card_type": "kia", "count": 1, "reference": f"T-{who}"})
        after = ledger_state(admin)[0]
    if status == 200:
        assert r.status_code == 201, r.text
        assert [e["id"] for e in after[len(before):]] == r.json()["entry_ids"]
        assert (after[-1]["kind"], after[-1]["actor"], after[-1]["reference"]) == ("received", "token:operator-1",
                                                                                     "T-operator")
    else:
        assert r.status_code == status and after == before


# ------------------------------------------------------------------ the daily report


def test_daily_report_json_csv_html(quiet: Daemon) -> None:
    with quiet.client(quiet.extra["operator"]) as c:
        doc = c.get("/api/v1/reports/daily").json()
        today = quiet.app.state.station.clock.day()
        assert (doc["date"], doc["station"], doc["office"], doc["final"]) == (today, "loket-1", OFFICE, False)
        ktp = next(ct for ct in doc["card_types"] if ct["card_type"] == "ktp-el")
        assert ktp["received"] >= 1000 and ktp["loaded"] == 800 and ktp["closing"] == ktp["opening"] + ktp[
            "received"] - ktp["consumed"] - ktp["spoiled"] - ktp["test"] + ktp["adjusted"] - ktp["returned"]
        assert [p["name"] for p in doc["printers"]] == ["card1", "card2"] and doc["in_doubt"] == []

        r = c.get("/api/v1/reports/daily", params={"date": today}, headers={"Accept": "text/csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert f"laporan-blangko-{today}.csv" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        csv_ktp = next(row for row in rows if row["section"] == "card_type" and row["card_type"] == "ktp-el")
        assert int(csv_ktp["closing"]) == ktp["closing"] and csv_ktp["date"] == today

        r = c.get("/api/v1/reports/daily", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert OFFICE in r.text and "LAPORAN HARIAN PENGGUNAAN BLANGKO" in r.text and "SEMENTARA" in r.text

        assert c.get("/api/v1/reports/daily?format=csv").headers["content-type"].startswith("text/csv")
        past = c.get("/api/v1/reports/daily", params={"date": "2020-01-31"}).json()
        assert past["final"] and all(ct["opening"] == ct["closing"] == 0 for ct in past["card_types"])


@pytest.mark.parametrize("date, code", [("2026-02-30", "invalid_date"), ("30-11-2026", "invalid_date"),
                                        ("2999-01-01", "future_date"), ("today", "invalid_date")])
def test_daily_report_bad_date(quiet: Daemon, date: str, code: str) -> None:
    with quiet.client(quiet.extra["operator"]) as c:
        r = c.get("/api/v1/reports/daily", params={"date": date})
    assert r.status_code == 422
    assert r.json() == {"error": {"code": code, "message": r.json()["error"]["message"], "field": "date"}}


def test_daily_report_unacceptable_format_and_roles(quiet: Daemon) -> None:
    with quiet.client() as c:
        r = c.get("/api/v1/reports/daily", headers={"Accept": "application/xml"})
        assert r.status_code == 406 and r.json()["error"]["code"] == "not_acceptable"
        assert c.get("/api/v1/reports/daily?format=pdf").status_code == 422
    for token in (quiet.enrollment, quiet.extra["technician"]):
        with quiet.client(token) as c:
            assert c.get("/api/v1/reports/daily").status_code == 403


# ------------------------------------------------------------------ jobs and blanks


def test_jobs_without_blanks_wait_and_start_after_a_load(tmp_path: Path) -> None:
    # card2 is the office's direct-to-card KIA printer (the mock's technology follows its card type)
    printers = "".join(f'[printers.{n}]\ndriver = "mock"\ntime_scale = 500.0\nhopper_capacity = 400\n'
                       f'card_type = "{ct}"\n\n' for n, ct in (("card1", "ktp-el"), ("card2", "kia")))
    with daemon_thread(config_text(printers=printers), tmp_path / "state") as daemon, daemon.client() as c:
        assert c.get("/api/v1/printers/card2").json()["technology"] == "direct"
        # the seed put 50 kia blanks into card2: take them out, so the kia job has none to print on
        assert c.post("/api/v1/stock/unloads", json={"printer": "card2", "card_type": "kia",
                                                     "count": 50}).status_code == 201
        job = c.post("/api/v1/jobs", json=job_payload(1, card_type="kia")).json()
        ktp = c.post("/api/v1/jobs", json=job_payload(2)).json()
        wait_for(lambda: c.get(f"/api/v1/jobs/{ktp['id']}").json()["state"] == "printed", timeout=30, what="ktp")
        got = c.get(f"/api/v1/jobs/{job['id']}").json()
        assert (got["state"], got["state_reason"], got["estimated_done_at"]) == ("queued", "no-blanks", None)
        # kia blanks never go into the retransfer printer, even with its hopper empty
        left = next(ct for ct in c.get("/api/v1/stock").json()["card_types"] if ct["card_type"] == "ktp-el")
        assert c.post("/api/v1/stock/unloads", json={"printer": "card1", "card_type": "ktp-el",
                                                     "count": left["hoppers"]["card1"]}).status_code == 201
        r = c.post("/api/v1/stock/loads", json={"printer": "card1", "card_type": "kia", "count": 20})
        assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["field"]) == (409, "unfit_printer",
                                                                                          "printer")
        assert c.get(f"/api/v1/jobs/{job['id']}").json()["state_reason"] == "no-blanks"
        r = c.post("/api/v1/stock/loads", json={"printer": "card2", "card_type": "kia", "count": 20})
        assert r.status_code == 201, r.text
        done = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{job['id']}").json())["state"] == "printed" and j,
                        timeout=30, what="the kia job printed by itself after the load")
        assert done["printer"] == "card2"
        kia = next(ct for ct in c.get("/api/v1/stock").json()["card_types"] if ct["card_type"] == "kia")
        assert (kia["hoppers"]["card2"], kia["printed_today"]) == (19, 1)
        consumed = [e for e in c.get("/api/v1/stock/ledger").json()["items"] if e["kind"] == "consumed"
                    and e["card_type"] == "kia"]
    assert [(e["from"], e["job_id"]) for e in consumed] == [("hopper:card2", job["id"])]


def test_sensor_says_empty_ledger_says_full(daemon: Daemon) -> None:
    with daemon.client() as c:
        assert c.post("/api/v1/printers/card1/faults", json={"kind": "media-empty"}).status_code == 200

        def mismatch() -> list[dict[str, Any]]:
            return [a for a in c.get("/api/v1/stock").json()["alerts"] if a["code"] == "count_mismatch"]

        alerts = wait_for(mismatch, timeout=10, what="count_mismatch alert")
        assert [(a["printer"], a["card_type"]) for a in alerts] == [("card1", "ktp-el")]
        ids = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(6)]
        wait_for(lambda: all(c.get(f"/api/v1/jobs/{i}").json()["state"] == "printed" for i in ids), timeout=30,
                 what="all printed")
        assert {c.get(f"/api/v1/jobs/{i}").json()["printer"] for i in ids} == {"card2"}   # the sensor is trusted
        assert c.delete("/api/v1/printers/card1/faults").status_code == 200
        wait_for(lambda: not mismatch(), timeout=10, what="the alert clears")
