"""The monthly report over a generated month: it balances to the card against the test's own tally and
against the sum of the month's daily reports; the formats; a future month is refused.

The month is what an office does (Dirjen Dukcapil circular 400.8.1.2/202241 and SE Mendagri
470.13/11176/SJ, see docs/stock.md): deliveries under a BAST, loads, prints, jams, reprints after a data
change, old KTP-el surrendered for a replacement, a destruction every working day, a return.
"""
from __future__ import annotations

import csv
import io
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest

from printd.blangko.custody import Custody
from printd.blangko.monthly import MonthlyReport, build_monthly, month_days, parse_month
from printd.blangko.report_formats import MONTHLY_CSV_COLUMNS, monthly_csv, monthly_html
from printd.errors import Invalid
from printd.queue.ledger import SPOIL_CATEGORIES, EntryKind
from printd.queue.models import AttemptOutcome, JobState
from tests.stock_helpers import World, make_world, wib

DAY = 24 * 3600


@dataclass
class Tally:
    """What the test itself booked in the month, per card type (the 'card' the report must match)."""

    received: Counter[str] = field(default_factory=Counter)
    printed: Counter[str] = field(default_factory=Counter)
    after_print: Counter[str] = field(default_factory=Counter)
    spoiled: dict[str, Counter[str]] = field(default_factory=dict)
    test: Counter[str] = field(default_factory=Counter)
    surrendered: Counter[str] = field(default_factory=Counter)
    destroyed: Counter[str] = field(default_factory=Counter)
    returned_brankas: Counter[str] = field(default_factory=Counter)
    returned_rusak: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)
    per_printer: Counter[str] = field(default_factory=Counter)
    jams: Counter[str] = field(default_factory=Counter)
    print_days: set[str] = field(default_factory=set)

    def spoil(self, card_type: str, category: str, n: int = 1) -> None:
        self.spoiled.setdefault(card_type, Counter())[category] += n


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "printd.sqlite3", wib(2026, 10, 30, 8, 0))   # a Friday before the month
    yield w
    w.db.close()


def month_report(w: World, month: str) -> MonthlyReport:
    with w.db._lock:
        return build_monthly(w.db.conn, month, today=w.clock.day(), printers=list(w.printers), station="test",
                             office="Kantor Uji")


def generate_month(w: World, rng: random.Random) -> Tally:
    """October's last days (for an opening balance), then every working day of November 2026."""
    custody = Custody(w.stock)
    s = w.stock
    s.receive("ktp-el", 500, "BAST-090/X/2026", "budi")
    s.receive("kia", 120, "BAST-091/X/2026", "budi")
    s.load("card1", "ktp-el", 60, "budi")
    s.load("card2", "kia", 30, "budi")
    for _ in range(3):
        assert w.print_card("card1") is not None
    jam = w.print_card("card1", outcome=AttemptOutcome.SPOILED, reason="media-jam")
    assert jam is not None
    custody.surrender("ktp-el", 2, "KTP-el lama, ganti rusak", "budi")   # October custody carries over
    w.clock.t = wib(2026, 11, 2, 8, 0).timestamp()                       # Monday 2 November

    t = Tally()
    reprintable: list[str] = []
    day = date(2026, 11, 2)
    while day.month == 11:
        if day.weekday() < 5:
            iso = day.isoformat()
            w.clock.t = wib(day.year, day.month, day.day, 8, 0).timestamp()
            if day.weekday() == 0:   # Monday's delivery under a BAST
                n = rng.randint(80, 150)
                s.receive("ktp-el", n, f"BAST-{iso}", "budi")
                t.received["ktp-el"] += n
            for printer, ct, top in (("card1", "ktp-el", 60), ("card2", "kia", 25)):
                have = s.balances()[ct]["hoppers"][printer]
                if have < 20 and s.balances()[ct]["safe"] >= top:
                    s.load(printer, ct, top, "budi")
            for _ in range(rng.randint(8, 20)):
                ct, printer = ("ktp-el", "card1") if rng.random() < 0.8 else ("kia", "card2")
                w.clock.advance(60)
                if rng.random() < 0.1:    # a jam: a printer fault, gagal_cetak
                    job = w.print_card(printer, ct, outcome=AttemptOutcome.SPOILED, reason="media-jam")
                    if job is not None:
                        t.spoil(ct, "gagal_cetak")
                        t.jams[printer] += 1
                    continue
                job = w.print_card(printer, ct)
                if job is None:
                    continue
                assert job.state == JobState.PRINTED
                t.printed[ct] += 1
                t.per_printer[printer] += 1
                t.print_days.add(iso)
                if ct == "ktp-el":
                    reprintable.append(job.id)
            if reprintable and rng.random() < 0.5:   # printed, then the data changed: perubahan_data
                job_id = reprintable.pop(0)
                w.store.reprint(job_id, reason="alamat berubah", actor="budi", category="perubahan_data")
                t.after_print["ktp-el"] += 1
                t.spoil("ktp-el", "perubahan_data")
            if rng.random() < 0.4:
                n = rng.randint(1, 3)
                custody.surrender("ktp-el", n, "KTP-el lama diserahkan saat penggantian", "budi")
                t.surrendered["ktp-el"] += n
            if day.day == 17:   # a blank found cracked in the safe, and a test card
                w.store.book([dict(day=iso, at=w.clock.now(), kind=EntryKind.SPOILED, card_type="kia", count=1, src="safe",
                                   dst="rusak", reason="retak", category="cacat_pabrik", actor="budi")])
                t.spoil("kia", "cacat_pabrik")
                s.book_test_card("card2", "kia", "teknisi")
                t.test["kia"] += 1
            if day.day == 24:   # stock count: one blank missing
                s.adjust("ktp-el", "safe", -1, "stock opname 24 Nov: 1 hilang", "kepala")
                t.adjusted["ktp-el"] -= 1
            if day.day == 26:   # unused KIA blanks and two damaged cards go back to the ministry
                custody.return_cards("kia", 10, "brankas", "BA-RETUR-11/2026", "kepala")
                t.returned_brankas["kia"] += 10
            w.clock.t = wib(day.year, day.month, day.day, 15, 30).timestamp()
            if day.day == 26:   # three old cards come in, two damaged cards go back
                custody.surrender("ktp-el", 3, "KTP-el lama diserahkan saat penggantian", "budi")
                t.surrendered["ktp-el"] += 3
                custody.return_cards("ktp-el", 2, "rusak", "BA-RETUR-12/2026", "kepala")
                t.returned_rusak["ktp-el"] += 2
            for ct in ("ktp-el", "kia"):   # the day's destruction of what custody holds (leave one on Fridays)
                held = w.store.balance("rusak", ct)
                n = held - 1 if day.weekday() == 4 else held
                if n > 0:
                    custody.destroy(ct, n, rng.choice(["potong", "bakar"]),
                                    ["Satpol PP: A. Rahman", "Inspektorat: S. Dewi"], f"BA-PMS-{iso}-{ct}", "kepala")
                    t.destroyed[ct] += n
        day += timedelta(days=1)
    w.clock.t = wib(2026, 12, 1, 8, 0).timestamp()
    return t


def test_a_generated_month_balances_to_the_card_and_to_its_days(world: World) -> None:
    tally = generate_month(world, random.Random(16))
    rep = month_report(world, "2026-11")
    assert rep.final and (rep.first_day, rep.last_day) == ("2026-11-01", "2026-11-30")
    opening = {"ktp-el": 500 - 3 - 1, "kia": 120}   # October: 3 printed, 1 jammed

    for c in rep.card_types:
        ct = c.card_type
        # to the card: every figure is what the test booked
        assert c.received == tally.received[ct]
        assert c.printed == tally.printed[ct]
        assert c.consumed == tally.printed[ct] - tally.after_print[ct]
        assert {k: v for k, v in c.spoiled_by_category.items() if v} == dict(tally.spoiled.get(ct, Counter()))
        assert set(c.spoiled_by_category) == set(SPOIL_CATEGORIES)
        assert c.spoiled == sum(tally.spoiled.get(ct, Counter()).values())
        assert c.test == tally.test[ct]
        assert c.surrendered == tally.surrendered[ct]
        assert c.destroyed == tally.destroyed[ct] and sum(c.destroyed_by_method.values()) == c.destroyed
        assert c.returned_by_source == {"brankas": tally.returned_brankas[ct], "rusak": tally.returned_rusak[ct]}
        assert c.returned == tally.returned_brankas[ct]   # what left usable stock; custody's are in by_source
        # the monthly form's chain, with the report's own fixed fields only
        assert c.closing == (c.opening + c.received - c.consumed - sum(c.spoiled_by_category.values()) - c.test
                             + c.adjusted - c.returned)
        assert c.adjusted == tally.adjusted[ct]
        # the balance equations, with opening and closing read from the ledger's balances
        assert c.opening == opening[ct]
        assert c.expected_closing() == c.closing
        assert c.expected_custody_closing() == c.custody_closing
        assert c.closing == world.stock.balances()[ct]["total"]
        assert c.custody_closing == world.store.balance("rusak", ct)
    ktp = next(c for c in rep.card_types if c.card_type == "ktp-el")
    assert ktp.custody_opening == 1 + 2   # October's jam and two surrendered cards, not destroyed yet
    assert ktp.destroyed > 0 and ktp.surrendered > 0 and ktp.spoiled_by_category["perubahan_data"] > 0
    assert {p.name: p.printed for p in rep.printers} == dict(tally.per_printer)
    # a reprinted card counts against the printer that printed it (all KTP-el, all on card1)
    assert {p.name: p.spoiled for p in rep.printers} == {"card1": tally.jams["card1"] + tally.after_print["ktp-el"],
                                                          "card2": tally.jams["card2"]}
    assert [d.date for d in rep.days] == sorted(tally.print_days)   # the days the station printed
    assert rep.as_dict()["days_printed"] == len(tally.print_days) and len(tally.print_days) >= 15

    # to the sum of its daily reports, field by field
    first, _last = month_days("2026-11")
    days = [(date.fromisoformat(first) + timedelta(days=i)).isoformat() for i in range(30)]
    dailies = [world.report(d) for d in days]
    for c in rep.card_types:
        rows = [next(x for x in r.card_types if x.card_type == c.card_type) for r in dailies]
        assert c.opening == rows[0].opening and c.closing == rows[-1].closing
        assert c.custody_opening == rows[0].custody_opening and c.custody_closing == rows[-1].custody_closing
        for name in ("received", "printed", "consumed", "spoiled", "spoiled_after_print", "test", "adjusted",
                     "returned", "surrendered", "destroyed"):
            assert getattr(c, name) == sum(getattr(r, name) for r in rows), name
        for source in ("brankas", "rusak"):
            assert c.returned_by_source[source] == sum(r.returned_by_source[source] for r in rows)
        summed: Counter[str] = Counter()
        for r in rows:
            summed.update(r.spoiled_by_category)
        assert c.spoiled_by_category == dict(summed)   # both list every category, zeros included
        assert c.spoiled_to_custody == sum(r.custody_in - r.surrendered for r in rows)
    for p in rep.printers:
        assert p.printed == sum(next(x for x in r.printers if x.name == p.name).printed for r in dailies)
    for d in rep.days:
        daily = dailies[days.index(d.date)]
        assert d.printed == sum(x.printed for x in daily.card_types)
        assert d.spoiled == sum(x.spoiled for x in daily.card_types)


def test_formats_carry_the_same_figures(world: World) -> None:
    generate_month(world, random.Random(7))
    doc = month_report(world, "2026-11").as_dict()
    rows = list(csv.DictReader(io.StringIO(monthly_csv(doc))))
    assert tuple(rows[0].keys()) == MONTHLY_CSV_COLUMNS
    ktp = next(r for r in rows if r["section"] == "card_type" and r["card_type"] == "ktp-el")
    c = next(c for c in doc["card_types"] if c["card_type"] == "ktp-el")
    for col in ("opening", "received", "consumed", "spoiled", "test", "destroyed", "returned", "adjusted", "closing",
                "custody_closing"):
        assert int(ktp[col]) == c[col], col
    cats = {r["category"]: int(r["spoiled"]) for r in rows if r["section"] == "spoiled_category"
            and r["card_type"] == "ktp-el"}
    assert cats == c["spoiled_by_category"]
    assert len([r for r in rows if r["section"] == "day"]) == len(doc["days"])
    html = monthly_html({**doc, "generated_at": "2026-12-01T08:00:00+07:00"})
    assert "LAPORAN BULANAN PENGGUNAAN BLANGKO" in html and "November 2026" in html
    assert "perubahan elemen data" in html and "gagal cetak" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_month_parsing_refuses_a_future_or_malformed_month() -> None:
    assert parse_month(None, "2026-12-04") == "2026-12"
    assert parse_month("2026-11", "2026-12-04") == "2026-11"
    assert parse_month("2026-12", "2026-12-04") == "2026-12"
    with pytest.raises(Invalid) as e:
        parse_month("2027-01", "2026-12-04")
    assert e.value.code == "future_month" and e.value.field == "month"
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01", "x"):
        with pytest.raises(Invalid) as e:
            parse_month(bad, "2026-12-04")
        assert e.value.code == "invalid_month"
    assert month_days("2028-02") == ("2028-02-01", "2028-02-29")
