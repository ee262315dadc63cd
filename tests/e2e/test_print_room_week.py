"""Issue 18's done-when: a simulated WEEK in the print room, through the real daemon, on a station clock
that moves from one working morning to the next (printd/clock.py SimulatedClock; no config key or API can
reach it, only code). Monday to Friday, 7-11 December 2026 (WIB):

- Mon: the admin saves a policy (ration below 3 ribbon prints, one lost card a day); the printer is
  overheated at the start-of-day check (176 °C: unfit), fixed (166 °C); a KIA card waits for a
  direct-to-card printer; three cards in a row make it rest (cool-down); the second lost card waits for
  tomorrow (quota).
- Tue: the day boundary resets the quota (the lost card prints by itself after the morning check); the
  ribbon runs low (rationing on: a damaged card waits) and runs out mid-day; a ribbon borrowed from Kab.
  Cirebon is fitted and detected from the printer: rationing off, the damaged card prints.
- Wed: the PC restarts overnight with the office's new direct-to-card printer configured: the KIA card
  prints on it.
- Thu: the admin resets the policy to the config file's (no quota): two lost cards print the same day.
- Fri: a DAK delivery of ribbons, one roll lent back to Kab. Cirebon; the borrowed ribbon runs out and a
  DAK roll is fitted (detected).

Every day, the daily report, the blank ledger, the jobs printed and the supplies ledger (cards on each roll)
must agree, each day's opening is the previous day's closing, and the monthly report covers the week.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from printd.clock import SimulatedClock
from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e]

WIB = ZoneInfo("Asia/Jakarta")
DAYS = ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11"]
CARD1 = ('[printers.card1]\ndriver = "mock"\ntime_scale = 500.0\nhopper_capacity = 400\nribbon_capacity = 8\n'
         'cool_down_after = 3\ncool_down_s = 1.0\nrequire_daily_check = true\n')
# the office's Evolis-class printer, configured from Wednesday: direct-to-card, KIA in its hopper
KIA1 = '\n[printers.kia1]\ndriver = "mock"\ntime_scale = 500.0\ncard_type = "kia"\n'
POLICY = {"ration_print": ["new", "data_change"], "ration_blanks_below": 0, "ration_ribbon_below": 3,
          "ration_film_below": 0, "quota_per_reason": {"lost": 1}, "quota_per_client": {}}


def morning(day: str, hour: int = 8) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=WIB).timestamp()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock("Asia/Jakarta", start=morning(DAYS[0], 7))


class Room:
    """The test's side of the print room: a client and the bookkeeping it checks each evening."""

    def __init__(self, d: Daemon) -> None:
        self.d = d
        self.c = d.client()
        self.n = 0
        self.printed: dict[str, list[str]] = {day: [] for day in DAYS}
        self.prev_closing: dict[str, int] | None = None
        self.roll_cards = 0

    def reopen(self, d: Daemon) -> None:
        self.c.close()
        self.d, self.c = d, d.client()

    def job(self, reason: str = "new", **kw: Any) -> str:
        self.n += 1
        r = self.c.post("/api/v1/jobs", json=job_payload(self.n, reason=reason, **kw))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def view(self, j: str) -> tuple[str, str | None]:
        got = self.c.get(f"/api/v1/jobs/{j}").json()
        return got["state"], got["state_reason"]

    def printed_on(self, j: str, day: str, timeout: float = 30) -> None:
        wait_for(lambda: self.view(j)[0] == "printed", timeout=timeout, what=f"{j} printed")
        got = self.c.get(f"/api/v1/jobs/{j}").json()
        assert got["printed_at"].startswith(day), (got["printed_at"], day)
        self.printed[day].append(j)

    def check(self, printer: str, temperature: float) -> dict[str, Any]:
        r = self.c.post(f"/api/v1/printers/{printer}/checks", json={
            "temperature_c": temperature, "cleaned": True, "settings_unchanged": True})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def fit(self, printer: str) -> bool:
        return bool(self.c.get(f"/api/v1/printers/{printer}").json()["fitness"]["fit"])

    def evening(self, day: str, kinds: dict[str, int]) -> dict[str, Any]:
        """The day's report, blank ledger, jobs and supplies ledger agree; returns the report."""
        report = self.c.get("/api/v1/reports/daily", params={"date": day}).json()
        assert report["date"] == day
        by_type = {ct["card_type"]: ct for ct in report["card_types"]}
        for ct, n in kinds.items():
            row = by_type[ct]
            assert row["printed"] == row["consumed"] == n, (day, ct, row)
            assert row["spoiled"] == row["test"] == 0
            assert row["closing"] == (row["opening"] + row["received"] - row["consumed"] - row["spoiled"]
                                      - row["test"] + row["adjusted"] - row["returned"])
            if self.prev_closing is not None and ct in self.prev_closing:
                assert row["opening"] == self.prev_closing[ct], (day, ct)
        self.prev_closing = {ct: row["closing"] for ct, row in by_type.items()}
        assert sum(kinds.values()) == len(self.printed[day])
        # the blank ledger of the day: one consumed entry per printed card, from the hopper of its printer
        entries = self.c.get("/api/v1/stock/ledger", params={"from": day, "to": day}).json()["items"]
        fed = [e for e in entries if str(e["from"]).startswith("hopper:")]
        assert sum(e["count"] for e in fed) == len(self.printed[day])
        assert sorted(e["job_id"] for e in fed) == sorted(self.printed[day])
        printers = {p["name"]: p for p in report["printers"]}
        card1_fed = sum(e["count"] for e in fed if e["from"] == "hopper:card1")
        assert printers["card1"]["consumed"] == card1_fed
        # the supplies ledger: the cards on card1's ribbons grew by what card1 fed today
        rolls = self.c.get("/api/v1/supplies").json()["installations"]
        cards = sum(i["cards"] for i in rolls if i["printer"] == "card1" and i["kind"] == "ribbon")
        assert cards - self.roll_cards == card1_fed, (day, cards, self.roll_cards, card1_fed)
        self.roll_cards = cards
        return dict(report)


def start(state: Path, clock: SimulatedClock, printers: str) -> Any:
    return daemon_thread(config_text(printers=printers), state, clock=clock)


def test_a_print_room_week(tmp_path: Path, clock: SimulatedClock) -> None:
    state = tmp_path / "state"
    with start(state, clock, CARD1) as d:
        room = Room(d)
        c = room.c
        # ------------------------------------------------------------------ Monday
        day = DAYS[0]
        clock.jump_to(morning(day))
        assert c.put("/api/v1/policy", json=POLICY).json()["source"] == "saved"
        lot_a = c.post("/api/v1/supplies/receipts", json={"kind": "ribbon", "source": "APBD", "count": 1,
                                                          "reference": "SPK-APBD-1", "nominal_yield": 8}).json()
        assert c.post("/api/v1/supplies/installs", json={"printer": "card1", "kind": "ribbon"}).status_code == 201
        assert not room.fit("card1")                                     # no check yet today
        assert room.check("card1", 176)["fitness"]["fit"] is False                  # overheated: unfit
        new = [room.job() for _ in range(3)]
        kia = room.job(card_type="kia")
        lost = [room.job("lost"), room.job("lost")]
        assert room.view(new[0])[0] == "queued"
        assert room.view(kia) == ("queued", "no-fit-printer")
        assert room.check("card1", 166)["fitness"]["fit"] is True
        for j in new:
            room.printed_on(j, day)
        wait_for(lambda: c.get("/api/v1/printers/card1").json()["duty"]["state"] == "cooling", timeout=10,
                 what="the rest after three cards")
        room.printed_on(lost[0], day)
        wait_for(lambda: room.view(lost[1]) == ("queued", "quota_exceeded"), timeout=10, what="quota")
        monday = room.evening(day, {"ktp-el": 4})
        assert [x["temperature_c"] for x in monday["printer_checks"]] == [176.0, 166.0]

        # ------------------------------------------------------------------ Tuesday
        day = DAYS[1]
        clock.jump_to(morning(day))
        assert c.get("/api/v1/reports/daily", params={"date": DAYS[0]}).json()["final"] is True
        wait_for(lambda: "no-check-today" in c.get("/api/v1/printers/card1").json()["fitness"]["unfit_reasons"],
                 timeout=10, what="a new day wants its check")
        # a new station day: the quota is counted again (the card waits only for the morning check now)
        wait_for(lambda: room.view(lost[1])[1] != "quota_exceeded", timeout=10, what="the quota reset")
        assert room.view(lost[1])[0] == "queued"
        room.check("card1", 165)
        room.printed_on(lost[1], day)                                     # the quota began again
        more = [room.job(), room.job(), room.job()]
        damaged = room.job("damaged")
        for j in more:
            room.printed_on(j, day)
        # 8 prints used: below 3 prints left only pemula and data changes print
        wait_for(lambda: room.view(damaged) == ("queued", "rationed"), timeout=10, what="rationed")
        assert c.get("/api/v1/policy").json()["rationing"] == {"ktp-el": ["ribbon"], "kia": ["ribbon"]}
        last_new = room.job()
        wait_for(lambda: "marker-supply-empty" in c.get("/api/v1/printers/card1").json()["reasons"], timeout=30,
                 what="the ribbon ran out mid-day")
        lot_b = c.post("/api/v1/supplies/receipts", json={"kind": "ribbon", "source": "pinjaman", "count": 1,
                                                          "reference": "BA-PINJAM-7", "party": "Kab. Cirebon",
                                                          "nominal_yield": 8}).json()
        assert c.delete("/api/v1/printers/card1/faults").status_code == 200   # the borrowed ribbon fitted
        room.printed_on(last_new, day)
        room.printed_on(damaged, day)                                      # rationing off by itself
        assert c.get("/api/v1/policy").json()["rationing"] == {}
        room.evening(day, {"ktp-el": 6})
        assert room.view(kia) == ("queued", "no-fit-printer")

    # ---------------------------------------------------------------------- Wednesday: restarted
    day = DAYS[2]
    clock.jump_to(morning(day, 7))
    with start(state, clock, CARD1 + KIA1) as d:
        room.reopen(d)
        c = room.c
        clock.jump_to(morning(day))
        assert c.get("/api/v1/policy").json()["source"] == "saved"        # the saved policy survived
        assert c.post("/api/v1/stock/loads", json={"printer": "kia1", "card_type": "kia",
                                                   "count": 10}).status_code == 201
        room.printed_on(kia, day)
        assert c.get(f"/api/v1/jobs/{kia}").json()["printer"] == "kia1"
        room.check("card1", 166)
        for j in [room.job(), room.job(), room.job()]:
            room.printed_on(j, day)
        room.evening(day, {"ktp-el": 3, "kia": 1})

        # ------------------------------------------------------------------ Thursday
        day = DAYS[3]
        clock.jump_to(morning(day))
        room.check("card1", 167)
        assert c.delete("/api/v1/policy").json()["source"] == "config"    # the file's: no quota
        for j in [room.job("lost"), room.job("lost")]:
            room.printed_on(j, day)
        room.evening(day, {"ktp-el": 2})

        # ------------------------------------------------------------------ Friday
        day = DAYS[4]
        clock.jump_to(morning(day))
        room.check("card1", 166)
        lot_c = c.post("/api/v1/supplies/receipts", json={"kind": "ribbon", "source": "DAK", "count": 2,
                                                          "reference": "SPK-DAK-3", "nominal_yield": 8}).json()
        assert c.post("/api/v1/supplies/loans", json={"kind": "ribbon", "count": 1, "party": "Kab. Cirebon",
                                                      "reference": "BA-KEMBALI-7"}).status_code == 201
        room.printed_on(room.job("data_change"), day)                     # the borrowed ribbon's 8th print
        last = room.job()
        wait_for(lambda: "marker-supply-empty" in c.get("/api/v1/printers/card1").json()["reasons"], timeout=30,
                 what="the borrowed ribbon ran out")
        assert c.delete("/api/v1/printers/card1/faults").status_code == 200   # a DAK roll fitted
        room.printed_on(last, day)
        room.evening(day, {"ktp-el": 2})

        # ------------------------------------------------------------------ the week's books
        for earlier in DAYS[:4]:
            assert c.get("/api/v1/reports/daily", params={"date": earlier}).json()["final"] is True
        rolls = c.get("/api/v1/supplies").json()["installations"]
        assert [(i["lot_id"], i["detected"], i["removal"], i["cards"]) for i in rolls] == [
            (lot_a["move_ids"][0], False, "used_up", 8),
            (lot_b["move_ids"][0], True, "used_up", 8),
            (lot_c["move_ids"][0], True, None, 1)]
        monthly = c.get("/api/v1/reports/monthly", params={"month": "2026-12"}).json()
        types = {ct["card_type"]: ct for ct in monthly["card_types"]}
        assert types["ktp-el"]["printed"] == 4 + 6 + 3 + 2 + 2 == sum(len(room.printed[x]) for x in DAYS) - 1
        assert types["kia"]["printed"] == 1
        # each day's line of the month is that day's report
        assert [(x["date"], x["printed"]) for x in monthly["days"]] == [(x, len(room.printed[x])) for x in DAYS]
        ribbon = next(s for s in monthly["supplies"] if s["kind"] == "ribbon")
        assert ribbon["received_by_source"] == {"APBD": 1, "DAK": 2, "pusat": 0, "pinjaman": 1}
        assert (ribbon["received"], ribbon["lent"], ribbon["installed"], ribbon["yields"]) == (4, 1, 3, [8, 8])
        assert ribbon["closing"] == ribbon["received"] - ribbon["lent"] - ribbon["installed"] == 0
        room.c.close()


def test_a_production_daemon_has_no_way_to_move_its_clock(tmp_path: Path) -> None:
    """The simulated clock is code only: the config refuses a clock key, and the default clock is the wall's."""
    from printd.clock import StationClock
    from printd.config import parse
    from printd.errors import ConfigError
    from printd.station import Station

    with pytest.raises(ConfigError, match=r"\[station.clock\] unknown key"):
        parse(config_text().replace("[station]\n", '[station]\nclock = "simulated"\n', 1), "<t>")
    st = Station(parse(config_text(), "<t>"), tmp_path / "s")
    assert type(st.clock) is StationClock
    assert not hasattr(st.clock, "advance")

