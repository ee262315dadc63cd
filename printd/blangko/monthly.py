"""The monthly blangko report sent up the chain: per card type what came in, what left and how, what is left.

Per card type, over the station days of one month (`YYYY-MM`):

    closing = opening + received - consumed - spoiled - test + adjusted - returned
    custody_closing = custody_opening + spoiled_to_custody + surrendered - destroyed - returned_by_source["rusak"]

`spoiled` is the sum of `spoiled_by_category` (the ministry's categories). `returned` is what left
usable stock for the ministry (unused blanks from the brankas), so the first line holds with the
report's own fields; `returned_by_source` shows both places, `brankas` and `rusak` (damaged cards
returned from custody instead of destroyed). `closing` is usable stock (brankas and hoppers),
`custody_closing` what custody holds.

The figures are computed here from the ledger entries by their kind, independently of the daily
report (which classifies movements by location); tests check that a month equals the sum of its days.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from printd.blangko.reports import UNCATEGORIZED, custody_balances
from printd.config import CARD_TYPES
from printd.errors import Invalid
from printd.queue.ledger import RUSAK, SAFE, SPOIL_CATEGORIES, EntryKind
from printd.supplies.report import month_lines

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class CardTypeMonth:
    """One card type over one month."""

    card_type: str
    opening: int = 0
    received: int = 0
    printed: int = 0
    consumed: int = 0
    spoiled: int = 0
    spoiled_after_print: int = 0
    spoiled_by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPOIL_CATEGORIES, 0))
    spoiled_to_custody: int = 0
    test: int = 0
    surrendered: int = 0
    destroyed: int = 0
    destroyed_by_method: dict[str, int] = field(default_factory=lambda: {"potong": 0, "bakar": 0})
    returned: int = 0
    returned_by_source: dict[str, int] = field(default_factory=lambda: {"brankas": 0, "rusak": 0})
    adjusted: int = 0
    closing: int = 0
    custody_opening: int = 0
    custody_closing: int = 0

    def expected_closing(self) -> int:
        return (self.opening + self.received - self.consumed - self.spoiled - self.test + self.adjusted
                - self.returned)

    def expected_custody_closing(self) -> int:
        return (self.custody_opening + self.spoiled_to_custody + self.surrendered - self.destroyed
                - self.returned_by_source["rusak"])


@dataclass
class PrinterMonth:
    """What one printer did with blanks in the month."""

    name: str
    printed: int = 0
    spoiled: int = 0
    test: int = 0


@dataclass
class DayMonth:
    """One day the station printed: cards out of the printers, spoiled (in a printer or after print), tests."""

    date: str
    printed: int = 0
    spoiled: int = 0
    test: int = 0


@dataclass
class MonthlyReport:
    """The report of one month; `final` once the month is over."""

    month: str
    station: str
    office: str
    final: bool
    first_day: str
    last_day: str
    card_types: list[CardTypeMonth]
    printers: list[PrinterMonth]
    days: list[DayMonth]
    #: ribbon and film lines (printd/supplies/report.py)
    supplies: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "station": self.station, "office": self.office, "final": self.final,
                "first_day": self.first_day, "last_day": self.last_day,
                "card_types": [asdict(c) for c in self.card_types], "printers": [asdict(p) for p in self.printers],
                "days": [asdict(d) for d in self.days], "days_printed": len(self.days), "supplies": self.supplies}


def parse_month(value: str | None, today: str) -> str:
    """A month `YYYY-MM` not after the station's current month; default the current month."""
    if value is None or value == "":
        return today[:7]
    m = _MONTH.match(value)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise Invalid("month must be YYYY-MM, e.g. 2026-11", code="invalid_month", field="month")
    if value > today[:7]:
        raise Invalid(f"{value} has not begun at the station (this month is {today[:7]})", code="future_month",
                      field="month")
    return value


def month_days(month: str) -> tuple[str, str]:
    """First and last day of `YYYY-MM`."""
    first = date.fromisoformat(month + "-01")
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.isoformat(), (nxt - timedelta(days=1)).isoformat()


def _usable(loc: str) -> bool:
    return loc == SAFE or loc.startswith("hopper:")


def _usable_balances(conn: sqlite3.Connection, first: str, last: str) -> dict[str, tuple[int, int]]:
    """card_type -> (usable stock before `first`, through `last`)."""
    out: dict[str, tuple[int, int]] = {}
    for ct, before, through in conn.execute(
            "SELECT card_type, SUM(CASE WHEN day < ? THEN d ELSE 0 END), SUM(d) FROM ("
            " SELECT card_type, day, count AS d FROM ledger WHERE day <= ? AND (dst = 'safe' OR dst LIKE 'hopper:%')"
            " UNION ALL SELECT card_type, day, -count AS d FROM ledger WHERE day <= ?"
            " AND (src = 'safe' OR src LIKE 'hopper:%')) GROUP BY card_type", (first, last, last)):
        out[ct] = (int(before), int(through))
    return out


def build_monthly(conn: sqlite3.Connection, month: str, *, today: str, printers: Sequence[str], station: str,
                  office: str, card_types: Iterable[str] = CARD_TYPES) -> MonthlyReport:
    """The report of `month` from the ledger in `conn` (call on the database thread)."""
    first, last = month_days(month)
    rows = conn.execute(
        "SELECT l.day, l.kind, l.card_type, l.src, l.dst, l.printer, l.category, SUM(l.count) AS n,"
        " d.method FROM ledger l LEFT JOIN stock_documents d ON d.id = l.document_id"
        " WHERE l.day BETWEEN ? AND ? GROUP BY l.day, l.kind, l.card_type, l.src, l.dst, l.printer, l.category,"
        " d.method", (first, last)).fetchall()
    usable = _usable_balances(conn, first, last)
    custody = custody_balances(conn, first, last)
    types = list(dict.fromkeys([*card_types, *usable, *custody, *(r["card_type"] for r in rows)]))
    cards = {ct: CardTypeMonth(ct) for ct in types}
    printer_rows = {p: PrinterMonth(p) for p in printers}
    days: dict[str, DayMonth] = {}
    for r in rows:
        kind, c, n, src, dst = r["kind"], cards[r["card_type"]], int(r["n"]), r["src"], r["dst"]
        printer = printer_rows.setdefault(r["printer"], PrinterMonth(r["printer"])) if r["printer"] else None
        if kind == EntryKind.RECEIVED:
            c.received += n
        elif kind == EntryKind.CONSUMED:
            c.printed += n
            day = days.setdefault(r["day"], DayMonth(r["day"]))
            day.printed += n
            if printer:
                printer.printed += n
        elif kind == EntryKind.SPOILED:
            c.spoiled += n
            if src == "printed":
                c.spoiled_after_print += n
            if dst == RUSAK:
                c.spoiled_to_custody += n
            cat = r["category"] or UNCATEGORIZED
            c.spoiled_by_category[cat] = c.spoiled_by_category.get(cat, 0) + n
            days.setdefault(r["day"], DayMonth(r["day"])).spoiled += n
            if printer:
                printer.spoiled += n
        elif kind == EntryKind.TEST:
            c.test += n
            days.setdefault(r["day"], DayMonth(r["day"])).test += n
            if printer:
                printer.test += n
        elif kind == EntryKind.ADJUSTED:
            c.adjusted += n if _usable(dst) else -n
        elif kind == EntryKind.RETURNED:
            source = "rusak" if src == RUSAK else "brankas"
            c.returned_by_source[source] += n
            if source == "brankas":
                c.returned += n
        elif kind == EntryKind.SURRENDERED:
            c.surrendered += n
        elif kind == EntryKind.DESTROYED:
            c.destroyed += n
            if r["method"] in c.destroyed_by_method:
                c.destroyed_by_method[r["method"]] += n
    for c in cards.values():
        c.consumed = c.printed - c.spoiled_after_print
        c.opening, c.closing = usable.get(c.card_type, (0, 0))
        c.custody_opening, c.custody_closing = custody.get(c.card_type, (0, 0))
    return MonthlyReport(month=month, station=station, office=office, final=last < today, first_day=first,
                         last_day=last, card_types=list(cards.values()),
                         printers=sorted(printer_rows.values(), key=lambda p: p.name),
                         days=sorted((d for d in days.values() if d.printed), key=lambda d: d.date),
                         supplies=month_lines(conn, first, last))

