"""The daemon with Evolis printers: the emulator on the real pyusb code path, and on a real pty over serial."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from printd.drivers.evolis.emulator import EvolisEmulator
from printd.drivers.evolis.emulator_links import PtyServer
from tests.support import config_text, daemon_thread, job_payload, mock_and_evolis, wait_for

pytestmark = [pytest.mark.e2e]



@pytest.mark.parametrize("dialect", ["guide", "primacy"])
def test_fifty_jobs_across_a_simulated_and_an_emulated_evolis_printer(tmp_path: Path, dialect: str) -> None:
    with (daemon_thread(config_text(printers=mock_and_evolis(dialect), seed=300), tmp_path / "state") as d,
          d.client() as admin):
        evo = admin.get("/api/v1/printers/evo1").json()
        assert evo["driver"] == "evolis" and evo["serial"] and evo["state"] in ("idle", "printing")
        for i in range(50):
            assert admin.post("/api/v1/jobs", json=job_payload(i)).status_code == 201

        def done() -> list[dict] | None:
            items = admin.get("/api/v1/jobs", params={"limit": 100}).json()["items"]
            return items if all(j["state"] == "printed" for j in items) else None

        jobs = wait_for(done, timeout=120, interval=0.3, what="50 printed")
        by_printer = Counter(j["printer"] for j in jobs)
        assert by_printer["card1"] > 0 and by_printer["evo1"] > 0, by_printer
        evo = admin.get("/api/v1/printers/evo1").json()
        assert evo["counters"]["today"] == by_printer["evo1"]
        # a fault on the emulated printer shows with its IPP reason
        assert admin.post("/api/v1/printers/evo1/faults", json={"kind": "cover-open"}).status_code == 200
        if dialect == "primacy":
            # its cover sensor answers a voltage: the card refused with COVER OPEN is what shows it
            # (card1 is paused so the card goes to evo1)
            assert admin.post("/api/v1/printers/card1/pause", json={"when": "now"}).status_code == 200
            assert admin.post("/api/v1/jobs", json=job_payload(99)).status_code == 201
        wait_for(lambda: "cover-open" in admin.get("/api/v1/printers/evo1").json()["reasons"], timeout=30,
                 what="cover-open on evo1")
        assert admin.delete("/api/v1/printers/evo1/faults").status_code == 200
        if dialect == "primacy":   # the cover sensor's voltage moves: the held reason goes, the card prints
            # (bounds for a loaded CI machine: a poll can wait for the card's preparation and the other
            # printer's work; the held reason is released by a voltage change or, failing that, after 60 s)
            wait_for(lambda: "cover-open" not in admin.get("/api/v1/printers/evo1").json()["reasons"],
                     timeout=75, what="cover-open cleared")
            wait_for(lambda: all(j["state"] == "printed" for j in
                                 admin.get("/api/v1/jobs", params={"limit": 100}).json()["items"]),
                     timeout=60, what="the refused card printed on evo1")


def test_a_jam_at_se_and_a_refused_feed_at_ss_over_a_serial_line(tmp_path: Path) -> None:
    """The issue-13 day: a printer speaking current firmware's vocabulary, behind a real pty.

    `CARD JAM` to `Se` and `FEEDER EMPTY` to `Ss` carry no `ERR` prefix (Evolis sample SDK answer
    table; esup-sgc-client reads `FEEDER EMPTY` bare); the blank is taken at `Ss`.
    """
    emulator = EvolisEmulator(tmp_path / "printer", serial="PRIMACY01", time_scale=400, dialect="primacy")
    emulator.start()
    pty = PtyServer(emulator)
    emulator.load_cards("kia", 20)
    printers = f"""
[printers.evo1]
driver = "evolis"
transport = "serial"
port = "{pty.port}"
card_type = "kia"
timeout_s = 10
command_timeout_s = 2
"""
    try:
        with (daemon_thread(config_text(printers=printers, seed=300), tmp_path / "state") as d,
              d.client() as admin):
            wait_for(lambda: admin.get("/api/v1/printers/evo1").json()["state"] == "idle", timeout=20,
                     what="evo1 idle")
            assert admin.post("/api/v1/stock/loads", json={"printer": "evo1", "card_type": "kia",
                                                           "count": 20}).status_code in (200, 201)

            def reasons() -> list[str]:
                return list(admin.get("/api/v1/printers/evo1").json()["reasons"])

            # 1. the first card jams in the mechanism: CARD JAM to Se, the card stays inside for 2 s
            emulator.arm_fault("media-jam", after_panels=0, duration_s=2.0)
            first = admin.post("/api/v1/jobs", json=job_payload(1, card_type="kia")).json()["id"]
            wait_for(lambda: "media-jam" in reasons(), timeout=10, interval=0.05, what="the jam shown")
            wait_for(lambda: admin.get(f"/api/v1/jobs/{first}").json()["state"] == "printed", timeout=20,
                     what="the jammed job printed again")
            assert "media-jam" not in reasons()
            # 2. the feeder refuses a card: FEEDER EMPTY to Ss, for 2 s
            emulator.inject_fault("media-empty", 2.0)
            second = admin.post("/api/v1/jobs", json=job_payload(2, card_type="kia")).json()["id"]
            wait_for(lambda: "media-empty" in reasons(), timeout=10, interval=0.05, what="the empty feeder shown")
            wait_for(lambda: admin.get(f"/api/v1/jobs/{second}").json()["state"] == "printed", timeout=20,
                     what="the refused job printed once the feeder had cards")
            assert "media-empty" not in reasons()
            # 3. an ordinary rest of the day
            rest = [admin.post("/api/v1/jobs", json=job_payload(i, card_type="kia")).json()["id"]
                    for i in range(3, 7)]
            for job in rest:
                wait_for(lambda job=job: admin.get(f"/api/v1/jobs/{job}").json()["state"] == "printed",
                         timeout=30, what=f"job {job} printed")
            ledger = admin.get("/api/v1/stock/ledger").json()["items"]
            history = admin.get("/api/v1/printers/evo1").json()
    finally:
        emulator.clear_faults()
        pty.close()
        emulator.stop()

    jobs = [first, second, *rest]
    state = emulator.snapshot()["state"]
    consumed = Counter(e["job_id"] for e in ledger if e["kind"] == "consumed")
    spoiled = [e for e in ledger if e["kind"] == "spoiled"]
    # every job printed exactly once, and the printer ejected exactly those cards
    assert consumed == Counter(jobs) and state["cards_ejected"] == len(jobs)
    # the jammed blank is booked spoiled once (and went to the reject box); the refused feed books nothing
    assert [e["job_id"] for e in spoiled] == [first] and spoiled[0]["reason"] == "media-jam"
    assert state["cards_rejected"] == 1
    assert state["cards_inserted"] == len(jobs) + 1 and state["hopper"] == 20 - len(jobs) - 1
    assert history["counters"]["today"] == len(jobs)


def test_a_blank_fed_by_the_clear_status_is_booked_spoiled_as_a_count_mismatch(tmp_path: Path) -> None:
    """esup-sgc-client: after a fault, a clear status can make a Primacy 2 reject and feed another card."""
    emulator = EvolisEmulator(tmp_path / "printer", serial="PRIMACY02", time_scale=400, dialect="primacy")
    emulator.start()
    pty = PtyServer(emulator)
    emulator.load_cards("kia", 10)
    printers = f"""
[printers.evo1]
driver = "evolis"
transport = "serial"
port = "{pty.port}"
card_type = "kia"
timeout_s = 10
command_timeout_s = 2
"""
    try:
        with (daemon_thread(config_text(printers=printers, seed=300), tmp_path / "state") as d,
              d.client() as admin):
            wait_for(lambda: admin.get("/api/v1/printers/evo1").json()["state"] == "idle", timeout=20,
                     what="evo1 idle")
            assert admin.post("/api/v1/stock/loads", json={"printer": "evo1", "card_type": "kia",
                                                           "count": 10}).status_code in (200, 201)
            emulator.arm_scs_feed()
            emulator.arm_fault("cover-open", after_panels=1, duration_s=0.5)
            job = admin.post("/api/v1/jobs", json=job_payload(1, card_type="kia")).json()["id"]
            wait_for(lambda: admin.get(f"/api/v1/jobs/{job}").json()["state"] == "printed", timeout=30,
                     what="the job printed after the fault")
            ledger = admin.get("/api/v1/stock/ledger").json()["items"]
            hopper = admin.get("/api/v1/stock").json()
    finally:
        emulator.clear_faults()
        pty.close()
        emulator.stop()
    state = emulator.snapshot()["state"]
    spoiled = sorted(((e["job_id"] or ""), e["reason"]) for e in ledger if e["kind"] == "spoiled")
    assert spoiled[0][0] == "" and spoiled[0][1].startswith("count_mismatch")
    assert spoiled[1] == (job, "cover-open") and len(spoiled) == 2
    # the printer took three blanks (the spoiled card, the one Scs fed, the printed card): the ledger agrees
    assert state["cards_inserted"] == 3 and state["cards_ejected"] == 1 and state["cards_rejected"] == 2
    kia = next(ct for ct in hopper["card_types"] if ct["card_type"] == "kia")
    assert kia["hoppers"]["evo1"] == 10 - 3 == state["hopper"]
