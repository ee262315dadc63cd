"""The daily report: exact figures over a scripted week, reprints, cards in doubt, the formats, and a
state machine over random days of receipts, loads, prints, spoilage, tests, reprints and adjustments."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from printd.api.reports import NotAcceptable, negotiate, parse_day
from printd.blangko.report_formats import CSV_COLUMNS, as_json, tanggal, to_csv, to_html, waktu
from printd.blangko.reports import CardTypeDay, DailyReport, LocationDay
from printd.errors import Invalid, RequestError
from printd.queue import ledger
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome, JobState, Resolution
from tests.stock_helpers import World, make_world, wib

DAY = 24 * 3600


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "printd.sqlite3", wib(2026, 11, 30, 9, 0))  # a Monday
    yield w
    w.db.close()


def ct_row(report: DailyReport, card_type: str = "ktp-el") -> CardTypeDay:
    return next(c for c in report.card_types if c.card_type == card_type)


def loc_row(report: DailyReport, location: str, card_type: str = "ktp-el") -> LocationDay:
    return next(loc for loc in ct_row(report, card_type).locations if loc.location == location)


def assert_equations(report: DailyReport) -> None:
    for c in report.card_types:
        assert c.expected_closing() == c.closing, (report.date, c)
        assert c.expected_custody_closing() == c.custody_closing, (report.date, c)
        assert c.consumed + c.spoiled == sum(loc.consumed + loc.spoiled for loc in c.locations)
        for loc in c.locations:
            assert loc.expected_closing() == loc.closing, (report.date, c.card_type, loc)


def two_days(w: World) -> dict[str, str]:
    """Monday and Tuesday of a small office, with every kind of movement. Returns job ids by role."""
    s = w.stock
    s.receive("ktp-el", 100, "BAST-001/2026", "budi")
    s.load("card1", "ktp-el", 40, "budi")
    s.load("card2", "ktp-el", 20, "budi")
    printed = [w.print_card("card1") for _ in range(3)] + [w.print_card("card2") for _ in range(2)]
    assert all(j is not None and j.state == JobState.PRINTED for j in printed)
    jam = w.print_card("card1", outcome=AttemptOutcome.SPOILED, reason="media-jam")
    assert jam is not None and jam.state == JobState.QUEUED
    s.book_test_card("card2", "ktp-el", "teknisi")
    s.adjust("ktp-el", "safe", -2, "stock count: 2 missing", "kepala")
    doubt = w.claim("card1")
    assert doubt is not None
    doubt = w.store.finish_attempt(doubt.id, doubt.attempts[-1].n, AttemptOutcome.IN_DOUBT, reason="timeout")
    assert doubt.state == JobState.IN_DOUBT

    w.clock.advance(DAY)   # Tuesday 09:00
    assert printed[0] is not None
    w.store.reprint(printed[0].id, reason="foto buram", actor="budi")
    s.unload("card2", "ktp-el", 10, "budi")
    w.store.resolve(doubt.id, Resolution.SPOILED, actor="budi", note="found crumpled in the output tray")
    assert all(w.print_card("card1") is not None for _ in range(2))
    w.store.book([dict(day=w.clock.day(), at=w.clock.now(), kind=EntryKind.RETURNED, card_type="ktp-el", count=5,
                       src="safe", dst="external", reference="BA-RETUR-7", actor="kepala")])
    s.receive("kia", 10, "BAST-002/2026", "budi")
    return {"reprinted": printed[0].id, "doubt": doubt.id}


def test_two_days_exact_figures(world: World) -> None:
    s = world.stock
    s.receive("ktp-el", 1, "X", "t")   # an extra delivery so Monday's report is checked mid-day too
    monday_during = world.report()
    assert ct_row(monday_during).received == 1 and not monday_during.final
    ids = two_days(world)
    mon, tue = world.report("2026-11-30"), world.report("2026-12-01")
    assert mon.final and not tue.final

    m = ct_row(mon)
    assert (m.opening, m.received, m.loaded, m.unloaded) == (0, 101, 60, 0)
    assert (m.printed, m.consumed, m.spoiled, m.spoiled_after_print) == (5, 5, 1, 0)
    assert m.spoiled_by_reason == {"media-jam": 1}
    assert m.spoiled_by_category == {"gagal_cetak": 1, "gagal_encode": 0, "rusak_fisik": 0, "cacat_pabrik": 0,
                                     "perubahan_data": 0}
    assert (m.custody_opening, m.custody_in, m.custody_closing) == (0, 1, 1)   # the jammed card, kept for destruction
    assert (m.test, m.adjusted, m.returned, m.closing) == (1, -2, 0, 92)
    assert [a["delta"] for a in m.adjustments] == [-2] and m.adjustments[0]["reason"] == "stock count: 2 missing"
    assert (loc_row(mon, "safe").closing, loc_row(mon, "hopper:card1").closing,
            loc_row(mon, "hopper:card2").closing) == (39, 36, 17)
    assert loc_row(mon, "hopper:card1").consumed == 3 and loc_row(mon, "hopper:card1").spoiled == 1
    p1, p2 = mon.printers
    assert (p1.name, p1.printed, p1.consumed, p1.spoiled, p1.test) == ("card1", 3, 3, 1, 0)
    assert (p2.name, p2.printed, p2.consumed, p2.spoiled, p2.test) == ("card2", 2, 2, 0, 1)
    assert mon.in_doubt == [ids["doubt"]]

    t = ct_row(tue)
    assert (t.opening, t.received, t.loaded, t.unloaded) == (92, 0, 0, 10)
    # two cards left card1 today; yesterday's reprinted card comes off consumed and counts as spoiled
    assert (t.printed, t.consumed, t.spoiled, t.spoiled_after_print) == (2, 1, 2, 1)
    assert t.spoiled_by_reason == {"operator": 1, "reprint": 1}
    # no category given: the printer's (gagal_cetak)
    assert {k: n for k, n in t.spoiled_by_category.items() if n} == {"gagal_cetak": 2}
    assert (t.custody_opening, t.custody_in, t.custody_closing) == (1, 2, 3)
    assert t.returned_by_source == {"brankas": 5, "rusak": 0}
    assert (t.test, t.adjusted, t.returned, t.closing) == (0, 0, 5, 84)
    assert (loc_row(tue, "safe").closing, loc_row(tue, "hopper:card1").closing,
            loc_row(tue, "hopper:card2").closing) == (44, 33, 7)
    assert loc_row(tue, "safe").loaded_in == 10 and loc_row(tue, "hopper:card2").loaded_out == 10
    t1 = tue.printers[0]
    assert (t1.printed, t1.consumed, t1.spoiled, t1.spoiled_after_print) == (2, 1, 2, 1)
    assert tue.in_doubt == []   # settled on Tuesday: no longer in doubt at its close
    kia = ct_row(tue, "kia")
    assert (kia.opening, kia.received, kia.closing) == (0, 10, 10)
    for r in (monday_during, mon, tue):
        assert_equations(r)
    # the closing balances are the ledger's balances
    with world.db._lock:
        assert ledger.balance(world.db.conn, "safe", "ktp-el") == 44


def test_past_days_do_not_change(world: World) -> None:
    two_days(world)
    before = world.report("2026-11-30").figures()
    world.clock.advance(DAY)
    world.stock.adjust("ktp-el", "card1", 3, "found 3 behind the hopper", "kepala")
    world.stock.receive("ktp-el", 50, "BAST-003", "budi")
    assert world.print_card("card1") is not None
    assert world.report("2026-11-30").figures() == before
    wed = world.report()
    assert ct_row(wed).opening == ct_row(world.report("2026-12-01")).closing == 83
    assert ct_row(wed).adjusted == 3 and wed.card_types[0].adjustments[0]["location"] == "hopper:card1"
    assert_equations(wed)


def test_in_doubt_list_of_a_day_stays_after_settling(world: World) -> None:
    world.stock.receive("ktp-el", 10, "B", "t")
    world.stock.load("card1", "ktp-el", 10, "t")
    job = world.claim("card1")
    assert job is not None
    world.store.finish_attempt(job.id, 1, AttemptOutcome.IN_DOUBT, reason="daemon-restart")
    assert world.report().in_doubt == [job.id]
    world.clock.advance(DAY)
    assert world.report().in_doubt == [job.id]          # still in doubt on Tuesday
    world.clock.advance(DAY)
    world.store.resolve(job.id, Resolution.PRINTED, actor="budi")
    assert world.report().in_doubt == []                 # settled on Wednesday
    for day in ("2026-11-30", "2026-12-01"):
        assert world.report(day).in_doubt == [job.id]
    wed = world.report()
    assert ct_row(wed).consumed == 1 and wed.printers[0].printed == 1


def test_a_day_before_the_station_existed_is_all_zero(world: World) -> None:
    world.stock.receive("ktp-el", 10, "B", "t")
    r = world.report("2026-01-01")
    assert all(c.opening == c.closing == 0 for c in r.card_types) and r.in_doubt == []


# ------------------------------------------------------------------ formats


def _doc(world: World) -> dict:
    two_days(world)
    report = world.report("2026-11-30")   # seen from Tuesday: final, one card was in doubt at its close
    jobs = [{"id": j, "card_type": "ktp-el", "printer": "card1", "state": "in_doubt", "nik_masked": "3274********0001",
             "name": "WARGA <UJI>"} for j in report.in_doubt]
    return as_json(report, jobs, world.clock.iso, world.clock.iso(world.clock.now()))


def test_csv_has_every_section_and_the_same_figures(world: World) -> None:
    doc = _doc(world)
    rows = list(csv.DictReader(io.StringIO(to_csv(doc))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    by = {}
    for r in rows:
        by.setdefault(r["section"], []).append(r)
    assert set(by) == {"card_type", "location", "spoiled_reason", "spoiled_category", "adjustment", "printer",
                       "in_doubt"}
    ktp = next(r for r in by["card_type"] if r["card_type"] == "ktp-el")
    c = next(c for c in doc["card_types"] if c["card_type"] == "ktp-el")
    for col in ("opening", "received", "printed", "consumed", "spoiled", "test", "adjusted", "returned", "closing"):
        assert int(ktp[col]) == c[col], col
    assert {(r["reason"], r["spoiled"]) for r in by["spoiled_reason"]} == {("media-jam", "1")}
    # a jam is a printer fault: the ministry's gagal_cetak
    assert {(r["category"], r["spoiled"]) for r in by["spoiled_category"] if r["spoiled"] != "0"} == {
        ("gagal_cetak", "1")}
    assert by["adjustment"][0]["adjusted"] == "-2" and by["adjustment"][0]["location"] == "safe"
    assert [r["printer"] for r in by["printer"]] == ["card1", "card2"]
    assert by["in_doubt"][0]["job_id"] == doc["in_doubt"][0]["id"]
    safe = next(r for r in by["location"] if r["card_type"] == "ktp-el" and r["location"] == "safe")
    assert (safe["loaded_out"], safe["closing"]) == ("60", "38")


def test_html_is_a_printable_indonesian_page_without_outside_resources(world: World) -> None:
    doc = _doc(world)
    page = to_html(doc)
    assert "Kantor Uji" in page and "Senin, 30 November 2026" in page
    assert "LAPORAN HARIAN PENGGUNAAN BLANGKO" in page and "@page" in page and "A4" in page
    assert "Saldo akhir" in page and "kartu macet" in page and "Kartu yang belum pasti" in page
    assert "WARGA &lt;UJI&gt;" in page            # escaped
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "SEMENTARA" not in page                 # Monday is over


def test_indonesian_dates() -> None:
    assert tanggal("2026-11-29") == "Minggu, 29 November 2026"
    assert tanggal("2027-01-01") == "Jumat, 1 Januari 2027"
    assert waktu("2026-11-30T10:42:05+07:00") == "30 November 2026 pukul 10.42 WIB"
    assert waktu("2026-11-30T10:42:05+08:00") == "30 November 2026 pukul 10.42 WITA"


@pytest.mark.parametrize("accept, fmt", [
    (None, "json"), ("*/*", "json"), ("application/json", "json"), ("text/csv", "csv"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),
    ("application/json;q=0.5, text/csv", "csv"), ("text/csv;q=0, text/html", "html"), ("text/*", "html"),
])
def test_negotiate(accept: str | None, fmt: str) -> None:
    assert negotiate(accept) == fmt


def test_negotiate_refuses_what_it_cannot_give() -> None:
    with pytest.raises(NotAcceptable) as exc:
        negotiate("application/xml, image/png")
    assert exc.value.status == 406


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "29-11-2026", "2026-1-5", "yesterday", "2026-11-29x"])
def test_parse_day_refuses_bad_dates(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_day(value, "2026-11-29")
    assert exc.value.field == "date"


def test_parse_day_default_and_future() -> None:
    assert parse_day(None, "2026-11-29") == "2026-11-29"
    assert parse_day("2025-12-31", "2026-11-29") == "2025-12-31"
    with pytest.raises(Invalid) as exc:
        parse_day("2026-11-30", "2026-11-29")
    assert exc.value.code == "future_date"


# ------------------------------------------------------------------ the state machine

PRINTERS = ("card1", "card2")
TYPES = ("ktp-el", "kia")
LOCATIONS = ("safe", "hopper:card1", "hopper:card2")


class LedgerDays(RuleBasedStateMachine):
    """Random operator and printer activity over several station days on a real store.

    A model of every balance is kept beside the ledger. Invariants: the ledger's balances are the
    model's; the day's equation holds for every card type and location; a day's report never changes
    once the day is over; no balance goes below zero except through an adjustment; a refused action
    books nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.w = make_world(":memory:", wib(2026, 11, 27, 7, 30), PRINTERS, max_attempts=5)  # a Friday
        self.model = {(loc, ct): 0 for loc in LOCATIONS for ct in TYPES}
        self.first_day = self.w.clock.day()
        self.closed: dict[str, dict] = {}
        self.prev = dict(self.model)
        self.adjusted = False

    def teardown(self) -> None:
        try:
            for day, figures in self.closed.items():
                report = self.w.report(day)
                assert report.figures() == figures, f"the report of {day} changed after the day was over"
        finally:
            self.w.db.close()

    # -------------------------------------------------------------- helpers

    def _balances(self) -> dict[tuple[str, str], int]:
        with self.w.db._lock:
            raw = ledger.balances(self.w.db.conn)
        return {k: raw.get(k, 0) for k in self.model}

    def _entries(self) -> int:
        return int(self.w.db.query("SELECT COUNT(*) FROM ledger")[0][0])

    def _refused(self, fn: Callable[..., object], *args: object) -> None:
        n = self._entries()
        with pytest.raises(RequestError):
            fn(*args)
        assert self._entries() == n, "a refused action booked something"

    def _move(self, src: str | None, dst: str | None, ct: str, n: int) -> None:
        if src:
            self.model[(src, ct)] -= n
        if dst:
            self.model[(dst, ct)] += n

    def _held(self, printer: str) -> str | None:
        held = [ct for ct in TYPES if self.model[(f"hopper:{printer}", ct)] > 0]
        return held[0] if held else None

    def _in_flight(self, printer: str, ct: str) -> int:
        return sum(1 for job, _ in self.w.store.open_attempts(printer) if job.card_type == ct)

    # -------------------------------------------------------------- rules

    @rule(ct=st.sampled_from(TYPES), n=st.integers(1, 60))
    def receive(self, ct: str, n: int) -> None:
        self.w.stock.receive(ct, n, "BAST", "op")
        self._move(None, "safe", ct, n)

    @rule(p=st.sampled_from(PRINTERS), ct=st.sampled_from(TYPES), n=st.integers(1, 40))
    def load(self, p: str, ct: str, n: int) -> None:
        other = any(self.model[(f"hopper:{p}", t)] > 0 for t in TYPES if t != ct)
        if self.model[("safe", ct)] < n or other:
            self._refused(self.w.stock.load, p, ct, n, "op")
            return
        self.w.stock.load(p, ct, n, "op")
        self._move("safe", f"hopper:{p}", ct, n)

    @rule(p=st.sampled_from(PRINTERS), ct=st.sampled_from(TYPES), n=st.integers(1, 40))
    def unload(self, p: str, ct: str, n: int) -> None:
        if self.model[(f"hopper:{p}", ct)] - self._in_flight(p, ct) < n:
            self._refused(self.w.stock.unload, p, ct, n, "op")
            return
        self.w.stock.unload(p, ct, n, "op")
        self._move(f"hopper:{p}", "safe", ct, n)

    @rule(p=st.sampled_from(PRINTERS),
          outcome=st.sampled_from(["printed", "printed", "media-jam", "marker-supply-empty", "in_doubt", "not_fed"]))
    def print_card(self, p: str, outcome: str) -> None:
        if self.w.store.open_attempts(p):
            return  # one card at a time per printer; a card in doubt is settled first
        ct = self._held(p) or "ktp-el"
        job = self.w.claim(p, ct)
        if self.model[(f"hopper:{p}", ct)] <= 0:
            assert job is None, "a printer with an empty hopper (by the ledger) was given work"
            return
        assert job is not None
        n = job.attempts[-1].n
        if outcome == "printed":
            self.w.store.finish_attempt(job.id, n, AttemptOutcome.PRINTED)
            self._move(f"hopper:{p}", None, ct, 1)
        elif outcome == "in_doubt":
            self.w.store.finish_attempt(job.id, n, AttemptOutcome.IN_DOUBT, reason="timeout")
        elif outcome == "not_fed":
            self.w.store.finish_attempt(job.id, n, AttemptOutcome.NOT_FED, reason="cover-open")
        else:
            self.w.store.finish_attempt(job.id, n, AttemptOutcome.SPOILED, reason=outcome)
            self._move(f"hopper:{p}", None, ct, 1)

    @rule(data=st.data())
    def resolve(self, data: st.DataObject) -> None:
        doubt = self.w.store.list(state="in_doubt")
        if not doubt:
            return
        job = data.draw(st.sampled_from(doubt))
        how = data.draw(st.sampled_from(list(Resolution)))
        self.w.store.resolve(job.id, how, actor="op")
        if how != Resolution.NOT_FED:
            self._move(f"hopper:{job.attempts[-1].printer}", None, job.card_type, 1)

    @rule(p=st.sampled_from(PRINTERS))
    def test_card(self, p: str) -> None:
        free = self.w.stock.available(p)   # what the technician's test print may use
        expected = {ct: n - self._in_flight(p, ct) for ct in TYPES if (n := self.model[(f"hopper:{p}", ct)]) > 0}
        assert free == {ct: n for ct, n in expected.items() if n > 0}
        if not free:
            return  # a test print needs a blank no card in doubt may have used
        ct = next(iter(free))
        self.w.stock.book_test_card(p, ct, "tech")
        self._move(f"hopper:{p}", None, ct, 1)

    @rule(data=st.data())
    def reprint(self, data: st.DataObject) -> None:
        printed = self.w.store.list(state="printed")
        if printed:
            job = data.draw(st.sampled_from(printed))
            self.w.store.reprint(job.id, reason="chip unreadable", actor="op")   # no blank moves

    @rule(ct=st.sampled_from(TYPES), loc=st.sampled_from(["safe", "card1", "hopper:card2"]),
          delta=st.integers(-30, 30).filter(bool))
    def adjust(self, ct: str, loc: str, delta: int) -> None:
        where = loc if loc.startswith(("safe", "hopper:")) else f"hopper:{loc}"
        if delta < 0 and where != "safe" and self._in_flight(where.split(":")[1], ct):
            # lowering a hopper's count while its card is in doubt would count that card twice
            self._refused(self.w.stock.adjust, ct, loc, delta, "stock count", "kepala")
            return
        self.w.stock.adjust(ct, loc, delta, "stock count", "kepala")
        self._move(None, where, ct, delta)
        self.adjusted = True

    @rule(ct=st.sampled_from(TYPES),
          bad=st.sampled_from(["negative", "zero", "unknown-type", "unknown-printer", "no-reason", "bad-location"]))
    def bad_input(self, ct: str, bad: str) -> None:
        s = self.w.stock
        if bad == "negative":
            self._refused(s.receive, ct, -5, "BAST", "op")
        elif bad == "zero":
            self._refused(s.load, "card1", ct, 0, "op")
        elif bad == "unknown-type":
            self._refused(s.receive, "sim", 5, "BAST", "op")
        elif bad == "unknown-printer":
            self._refused(s.load, "card9", ct, 1, "op")
        elif bad == "bad-location":
            self._refused(s.adjust, ct, "garage", 1, "found", "op")
        else:
            self._refused(s.adjust, ct, "safe", 1, "  ", "op")

    @rule(hours=st.sampled_from([1, 3, 9, 16, 24, 40, 72]))
    def advance(self, hours: int) -> None:
        """Time passes; each day that is now over gets its report taken (compared at the end)."""
        before = self.w.clock.day()
        self.w.clock.advance(hours * 3600)
        day = dt.date.fromisoformat(before)
        while day.isoformat() < self.w.clock.day():
            report = self.w.report(day.isoformat())
            assert report.final
            assert_equations(report)
            self.closed[day.isoformat()] = report.figures()
            day += dt.timedelta(days=1)

    # -------------------------------------------------------------- invariants

    @invariant()
    def ledger_is_the_model_and_nothing_goes_negative_by_itself(self) -> None:
        balances = self._balances()
        assert balances == self.model
        # the stock view's incremental balances agree with a full sum of the ledger
        for ct, b in self.w.stock.balances().items():
            assert b["safe"] == balances[("safe", ct)]
            assert b["hoppers"] == {p: balances[(f"hopper:{p}", ct)] for p in PRINTERS}
        if not self.adjusted:
            for k, v in balances.items():
                assert v >= min(0, self.prev[k]), f"{k} went below zero without an adjustment"
        self.prev, self.adjusted = balances, False

    @invariant()
    def todays_equation_holds(self) -> None:
        assert_equations(self.w.report())


TestLedgerDays = LedgerDays.TestCase
# LEDGER_EXAMPLES=2000 for a long hunt; the default keeps the suite at a few seconds
TestLedgerDays.settings = settings(max_examples=int(os.environ.get("LEDGER_EXAMPLES", "100")), stateful_step_count=50,
                                   deadline=None, suppress_health_check=[HealthCheck.too_slow])
