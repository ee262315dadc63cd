"""Every blank traceable by its chip, with real parts: the real daemon (uvicorn), a private Debian `pcscd`
with the vsmartcard virtual reader, and virtual contactless cards read through pyscard exactly as a USB
desk reader (ACR122U, OMNIKEY) would be read."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from printd.access.accounts import Accounts
from tests.pcsc_harness import Pcscd, VirtualCard
from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e]
READER = "Virtual PCD 00 00"


def uid(i: int) -> str:
    return f"04A1B2C3D4{i:04X}"


@pytest.fixture(scope="module")
def station(pcscd: Pcscd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    config = config_text(time_scale=2000.0).replace("[station]\n", f'[station]\nreader = "{READER}"\n', 1)
    state = tmp_path_factory.mktemp("chips") / "state"
    with daemon_thread(config, state) as d:
        op_token, _ = Accounts(d.app.state.station.database).create_token("meja1", "operator")
        yield d, op_token


def printed_job(d: Daemon, i: int) -> dict[str, Any]:
    with d.client(d.enrollment) as c:
        job = c.post("/api/v1/jobs", json=job_payload(i)).json()
        return wait_for(lambda: (j := c.get(f"/api/v1/jobs/{job['id']}").json())["state"] == "printed" and j,
                        what=f"job {i} printed")


def on_reader(pcscd: Pcscd, uid_hex: str, **kw: Any) -> VirtualCard:
    return VirtualCard(pcscd.port, bytes.fromhex(uid_hex), **kw).insert()


def wait_reader(c: httpx.Client, **expect: Any) -> dict[str, Any]:
    return wait_for(lambda: (r := c.get("/api/v1/reader").json()) and all(r.get(k) == v for k, v in expect.items())
                    and r, what=f"reader {expect}")


def ledger_of(c: httpx.Client) -> list[dict[str, Any]]:
    return c.get("/api/v1/stock/ledger").json()["items"]


def test_hand_over_twenty_cards_by_tap_and_a_wrong_card_is_refused(station: tuple[Daemon, str], pcscd: Pcscd) -> None:
    d, op = station
    jobs = [printed_job(d, 100 + i) for i in range(20)]
    with d.client(d.enrollment) as enr, d.client(op) as c:
        # the enrollment system reports each chip it wrote
        for i, job in enumerate(jobs):
            r = enr.post(f"/api/v1/jobs/{job['id']}/encoding",
                         json={"attempt": 1, "chip_uid": uid(i), "result": "ok"})
            assert r.status_code == 200, r.text
            assert r.json()["chip_uid"] == uid(i)
        # the consumed ledger entry of that attempt is linked to the chip
        first_chip = c.get(f"/api/v1/chips/{uid(0)}").json()
        consumed = [e for e in ledger_of(c) if e["kind"] == "consumed" and e["job_id"] == jobs[0]["id"]]
        assert first_chip["ledger_entry_id"] == consumed[0]["id"] and first_chip["state"] == "encoded"
        # the operator taps each card at the counter; the reader reads its UID
        for i, job in enumerate(jobs):
            card = on_reader(pcscd, uid(i))
            try:
                wait_reader(c, card_uid=uid(i))
                r = c.post(f"/api/v1/jobs/{job['id']}/handover")
                assert r.status_code == 200, r.text
                assert r.json()["handed_over_at"] and r.json()["chip_uid"] == uid(i)
            finally:
                card.remove()
        # a card whose UID belongs to another job is refused, loudly, and nothing changes
        extra = printed_job(d, 140)
        card = on_reader(pcscd, uid(3))
        try:
            wait_reader(c, card_uid=uid(3))
            r = c.post(f"/api/v1/jobs/{extra['id']}/handover")
        finally:
            card.remove()
        assert r.status_code == 409 and r.json()["error"]["code"] == "chip_belongs_to_other_job"
        assert jobs[3]["id"] in r.json()["error"]["message"]
        assert c.get(f"/api/v1/jobs/{extra['id']}").json()["handed_over_at"] is None
        # the same UID reported by the enrollment system for a second job: one chip, one citizen
        r = enr.post(f"/api/v1/jobs/{extra['id']}/encoding", json={"attempt": 1, "chip_uid": uid(3), "result": "ok"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "chip_belongs_to_other_job"
        # the wrong citizen's card (encoded for job 5) offered for job 6
        card = on_reader(pcscd, uid(5))
        try:
            wait_reader(c, card_uid=uid(5))
            r = c.post(f"/api/v1/jobs/{jobs[6]['id']}/handover")
        finally:
            card.remove()
        assert r.status_code == 409


def test_reader_faults_give_clear_messages_and_it_reconnects(station: tuple[Daemon, str], pcscd: Pcscd) -> None:
    d, op = station
    job = printed_job(d, 200)
    with d.client(op) as c:
        # nothing on the reader
        wait_reader(c, present=True, problem="reader_no_card")
        r = c.post(f"/api/v1/jobs/{job['id']}/handover")
        assert r.status_code == 409 and r.json()["error"]["code"] == "reader_no_card"
        assert "no card on the reader" in r.json()["error"]["message"]
        # a contact card: no ISO 14443 UID
        card = on_reader(pcscd, "0102030405060708", iso14443=False)
        try:
            wait_reader(c, problem="card_not_contactless")
            r = c.post(f"/api/v1/jobs/{job['id']}/handover")
            assert r.status_code == 422 and r.json()["error"]["code"] == "card_not_contactless"
        finally:
            card.remove()
        # the reader is unplugged mid-day: pcscd comes back without it
        pcscd.stop()
        pcscd.start(with_reader=False)
        status = wait_reader(c, present=False)
        assert status["problem"] == "reader_missing" and "plug it in" in status["message"]
        r = c.post(f"/api/v1/jobs/{job['id']}/handover")
        assert r.status_code == 503 and r.json()["error"]["code"] == "reader_missing"
        # ... and plugged back in: found again by itself, and works
        pcscd.stop()
        pcscd.start()
        wait_reader(c, present=True)
        card = on_reader(pcscd, "04FFEEDDCCBBAA")
        try:
            wait_reader(c, card_uid="04FFEEDDCCBBAA")
            r = c.post(f"/api/v1/jobs/{job['id']}/handover")
            assert r.status_code == 200 and r.json()["chip_uid"] == "04FFEEDDCCBBAA"
        finally:
            card.remove()


def test_an_encode_failure_prints_again_on_a_new_blank_with_the_ledger_right(station: tuple[Daemon, str]) -> None:
    d, op = station
    job = printed_job(d, 300)
    with d.client(d.enrollment) as enr, d.client(op) as c:
        before = c.get("/api/v1/stock").json()
        r = enr.post(f"/api/v1/jobs/{job['id']}/encoding",
                     json={"attempt": 1, "chip_uid": "04C0FFEE000001", "result": "failed", "detail": "write timeout"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] in ("queued", "printing", "printed")
        again = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{job['id']}").json())["state"] == "printed"
                         and len(j["attempts"]) == 2 and j, what="printed again")
        assert [a["outcome"] for a in again["attempts"]] == ["printed", "printed"]
        spoiled = [e for e in ledger_of(c) if e["kind"] == "spoiled" and e["job_id"] == job["id"]]
        assert len(spoiled) == 1 and spoiled[0]["category"] == "gagal_encode" and spoiled[0]["to"] == "rusak"
        chip = c.get("/api/v1/chips/04C0FFEE000001").json()
        assert chip["state"] == "encode_failed" and chip["ledger_entry_id"] == spoiled[0]["id"]
        # the same report again changes nothing (idempotent), and the new card's chip is reported ok
        assert enr.post(f"/api/v1/jobs/{job['id']}/encoding",
                        json={"attempt": 1, "chip_uid": "04C0FFEE000001", "result": "failed"}).status_code == 200
        r = enr.post(f"/api/v1/jobs/{job['id']}/encoding", json={"attempt": 2, "chip_uid": "04C0FFEE000002",
                                                                  "result": "ok"})
        assert r.status_code == 200 and r.json()["chip_uid"] == "04C0FFEE000002"
        after = c.get("/api/v1/stock").json()
        kt = {x["card_type"]: x for x in before["card_types"]}["ktp-el"]
        kt2 = {x["card_type"]: x for x in after["card_types"]}["ktp-el"]
        assert kt2["total"] == kt["total"] - 1   # one more blank used: the new card (the spoiled one was counted)
        # an enrollment client cannot report on another client's job
        other, _ = Accounts(d.app.state.station.database).create_token("siak2", "enrollment")
        with d.client(other) as o:
            r = o.post(f"/api/v1/jobs/{job['id']}/encoding", json={"attempt": 2, "chip_uid": "04C0FFEE000003",
                                                                   "result": "ok"})
            assert r.status_code == 404
        # bad UIDs are refused with the field named
        r = enr.post(f"/api/v1/jobs/{job['id']}/encoding", json={"attempt": 2, "chip_uid": "XYZ12345", "result": "ok"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "chip_uid"


def test_destruction_lists_the_tapped_cards_by_uid_and_refuses_a_handed_over_one(
        station: tuple[Daemon, str], pcscd: Pcscd) -> None:
    d, op = station
    with d.client(d.enrollment) as enr, d.client(op) as c:
        # three printed cards spoiled: a jam-free print whose data then changed, reported by the operator
        spoiled_uids = []
        for i in range(3):
            job = printed_job(d, 400 + i)
            u = f"04DE57000000{i:02X}"
            enr.post(f"/api/v1/jobs/{job['id']}/encoding", json={"attempt": 1, "chip_uid": u, "result": "ok"})
            r = c.post(f"/api/v1/jobs/{job['id']}/reprint", json={"reason": "data berubah", "category": "perubahan_data"})
            assert r.status_code == 200, r.text
            spoiled_uids.append(u)
        # the operator taps each card on the reader before destroying them
        tapped = []
        for u in spoiled_uids:
            card = on_reader(pcscd, u)
            try:
                wait_reader(c, card_uid=u)
                r = c.post("/api/v1/reader/read")
                assert r.status_code == 200, r.text
                tapped.append(r.json()["uid"])
            finally:
                card.remove()
        assert tapped == spoiled_uids
        r = c.post("/api/v1/stock/destructions", json={"card_type": "ktp-el", "count": 3, "method": "potong",
                                                      "witnesses": ["Satpol PP", "Inspektorat"], "reference": "BA-1"})
        assert r.status_code == 201, r.text
        doc = r.json()
        # a card that was handed over to a citizen is refused, and nothing is listed
        handed = c.get(f"/api/v1/chips/{uid(0)}").json()
        assert handed["state"] == "handed_over"
        r = c.post(f"/api/v1/stock/destructions/{doc['id']}/cards", json={"chip_uids": [*tapped[:2], uid(0)]})
        assert r.status_code == 409 and r.json()["error"]["code"] == "chip_handed_over"
        r = c.post(f"/api/v1/stock/destructions/{doc['id']}/cards", json={"chip_uids": tapped})
        assert r.status_code == 200, r.text
        assert sorted(r.json()["chip_uids"]) == sorted(tapped)
        for u in tapped:
            assert c.get(f"/api/v1/chips/{u}").json()["state"] == "destroyed"
        ba = c.get(doc["berita_acara"])
        assert ba.status_code == 200
        for u in tapped:
            assert u in ba.text
        # the same card cannot be destroyed twice
        r2 = c.post("/api/v1/stock/destructions", json={"card_type": "ktp-el", "count": 1, "method": "bakar",
                                                       "witnesses": ["Satpol PP"], "reference": "BA-2"})
        if r2.status_code == 201:
            r3 = c.post(f"/api/v1/stock/destructions/{r2.json()['id']}/cards", json={"chip_uids": [tapped[0]]})
            assert r3.status_code == 409 and r3.json()["error"]["code"] == "chip_destroyed"


def test_the_reports_list_each_chip_s_fate(station: tuple[Daemon, str]) -> None:
    """Runs after the tests above on the same station (module scope): their chips are the day's."""
    d, op = station
    with d.client(op) as c:
        daily = c.get("/api/v1/reports/daily").json()
        states = {chip["uid"]: chip["state"] for chip in daily["chips"]}
        assert states[uid(0)] == "handed_over" and states["04C0FFEE000001"] == "encode_failed"
        month = daily["date"][:7]
        monthly = c.get(f"/api/v1/reports/monthly?month={month}").json()
        assert monthly["chips_by_state"]["handed_over"] >= 20
        assert {ch["uid"] for ch in monthly["chips"]} == set(states)
