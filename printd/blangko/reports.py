"""The daily blangko report of a station day: what came in, what left, what is left, per card type.

Everything is derived from the append-only ledger. An entry carries the station day it was booked on,
and nothing is ever booked on a past day, so the figures of a day that is over never change.

Per location (the safe, each hopper), for every day and card type:

    opening + received + loaded_in - loaded_out - consumed - spoiled - test + adjusted - returned = closing

(`adjusted` is signed). `closing` is read from the balances, not from that sum, so the equation is a
real check of the ledger, not an identity of the code.

Per card type the locations are added up; moves between them (`loaded`, `unloaded`) cancel out.
A reprint (a printed card found bad) moves one card from the `printed` sink to `spoiled`: no blank
leaves a location that day, so it would not show in a location's row. The card-type and printer rows
count it in `spoiled` and take it off `consumed`, which therefore means "blanks that became printed ID
cards and still count as such"; `printed` keeps the gross count of cards that left the printers and
`spoiled_after_print` the reprints. Then `consumed + spoiled = printed + spoiled_in_printer`, and

    opening + received - consumed - spoiled - test + adjusted - returned = closing

holds for the card type too. `consumed` can be negative on a day with more reprints than prints.

Custody (`rusak`, issue 16): spoiled cards and old cards surrendered for a replacement are kept until
destroyed or returned to the ministry. `returned` stays what left usable stock for the ministry (the
brankas: it is the `returned` of the equations above, so they hold with the report's own fields);
`returned_by_source` shows both places, `brankas` and `rusak` (damaged cards out of custody). Then

    custody_opening + custody_in - destroyed - returned_by_source["rusak"] = custody_closing

with `custody_in` the spoiled cards kept in custody plus the `surrendered` ones (spoilage booked
before custody existed went to the `spoiled` sink and is not in it). `spoiled_by_category` counts the
spoiled cards by the ministry's categories (all five, zeros included) beside the printer's
`spoiled_by_reason`.
"""
from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from printd.config import CARD_TYPES
from printd.queue.ledger import RUSAK, SAFE, SPOIL_CATEGORIES, EntryKind

#: Attempt reasons written when a card in doubt is settled later (store.resolve, the station's
#: counter check, the worker's late answer). An attempt that ended after the day closed with one of
#: these was in doubt at the close; any other attempt that ended late was simply still printing.
SETTLED_REASONS = ("operator", "counter", "late-answer")

#: Spoilage reasons are free text for reprints ("reprint:<why>"); the report groups them.
REPRINT_PREFIX = "reprint:"

#: spoilage booked before categories existed (schema 5) has none
UNCATEGORIZED = "tanpa_kategori"


@dataclass
class LocationDay:
    """One location's movements of one card type on one day."""

    location: str
    opening: int = 0
    received: int = 0
    loaded_in: int = 0
    loaded_out: int = 0
    consumed: int = 0
    spoiled: int = 0
    test: int = 0
    adjusted: int = 0
    returned: int = 0
    closing: int = 0

    def expected_closing(self) -> int:
        """The closing balance the day's movements predict."""
        return (self.opening + self.received + self.loaded_in - self.loaded_out - self.consumed - self.spoiled
                - self.test + self.adjusted - self.returned)

    def is_empty(self) -> bool:
        return not any((self.opening, self.received, self.loaded_in, self.loaded_out, self.consumed,
                        self.spoiled, self.test, self.adjusted, self.returned, self.closing))


@dataclass
class CardTypeDay:
    """One card type on one day, all locations together."""

    card_type: str
    opening: int = 0
    received: int = 0
    loaded: int = 0
    unloaded: int = 0
    printed: int = 0
    consumed: int = 0
    spoiled: int = 0
    spoiled_after_print: int = 0
    spoiled_by_reason: dict[str, int] = field(default_factory=dict)
    spoiled_by_category: dict[str, int] = field(default_factory=dict)
    test: int = 0
    adjusted: int = 0
    returned: int = 0
    returned_by_source: dict[str, int] = field(default_factory=lambda: {"brankas": 0, "rusak": 0})
    closing: int = 0
    custody_opening: int = 0
    custody_in: int = 0
    surrendered: int = 0
    destroyed: int = 0
    custody_closing: int = 0
    locations: list[LocationDay] = field(default_factory=list)
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    def expected_closing(self) -> int:
        return (self.opening + self.received - self.consumed - self.spoiled - self.test + self.adjusted
                - self.returned)

    def expected_custody_closing(self) -> int:
        return self.custody_opening + self.custody_in - self.destroyed - self.returned_by_source["rusak"]


@dataclass
class PrinterDay:
    """What one printer did with blanks on one day (all card types)."""

    name: str
    printed: int = 0
    consumed: int = 0
    spoiled: int = 0
    spoiled_after_print: int = 0
    test: int = 0


@dataclass
class DailyReport:
    """The report of one station day. `in_doubt` holds job ids; the router turns them into job objects."""

    date: str
    station: str
    office: str
    final: bool
    card_types: list[CardTypeDay]
    printers: list[PrinterDay]
    in_doubt: list[str]

    def figures(self) -> dict[str, Any]:
        """The counts alone (what must never change once the day is over)."""
        return {"card_types": [asdict(c) for c in self.card_types], "printers": [asdict(p) for p in self.printers],
                "in_doubt": list(self.in_doubt)}


def _is_location(name: str) -> bool:
    return name == SAFE or name.startswith("hopper:")


def _balances(conn: sqlite3.Connection, day: str) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """(opening, closing) of `day`: (location, card_type) -> balance before it and through it, in one scan."""
    opening: dict[tuple[str, str], int] = {}
    closing: dict[tuple[str, str], int] = {}
    for loc, card_type, before, through in conn.execute(
            "SELECT loc, card_type, SUM(CASE WHEN day < ? THEN d ELSE 0 END), SUM(d) FROM ("
            " SELECT dst AS loc, card_type, day, count AS d FROM ledger WHERE day <= ?"
            " UNION ALL SELECT src AS loc, card_type, day, -count AS d FROM ledger WHERE day <= ?)"
            " WHERE loc = 'safe' OR loc LIKE 'hopper:%' GROUP BY loc, card_type", (day, day, day)):
        opening[(loc, card_type)] = int(before)
        closing[(loc, card_type)] = int(through)
    return opening, closing


def custody_balances(conn: sqlite3.Connection, day_from: str, day_to: str) -> dict[str, tuple[int, int]]:
    """card_type -> (custody before `day_from`, custody through `day_to`)."""
    out: dict[str, tuple[int, int]] = {}
    for card_type, before, through in conn.execute(
            "SELECT card_type, SUM(CASE WHEN day < ? THEN d ELSE 0 END), SUM(d) FROM ("
            " SELECT card_type, day, count AS d FROM ledger WHERE dst = ? AND day <= ?"
            " UNION ALL SELECT card_type, day, -count AS d FROM ledger WHERE src = ? AND day <= ?)"
            " GROUP BY card_type", (day_from, RUSAK, day_to, RUSAK, day_to)):
        out[card_type] = (int(before), int(through))
    return out


def _reason_key(reason: str | None) -> str:
    if not reason:
        return "other"
    return "reprint" if reason.startswith(REPRINT_PREFIX) else reason


def _location_order(loc: str) -> tuple[int, str]:
    return (0, "") if loc == SAFE else (1, loc)


def build_daily(conn: sqlite3.Connection, day: str, *, printers: Sequence[str], station: str, office: str,
                final: bool, day_end: float, card_types: Iterable[str] = CARD_TYPES) -> DailyReport:
    """The report of station day `day` (YYYY-MM-DD) from the ledger and attempts in `conn`.

    `day_end` is the timestamp the day ends at (for the cards in doubt at its close); `final` says
    whether the day is over. Call on the database thread.
    """
    opening, closing = _balances(conn, day)
    rows = conn.execute(
        "SELECT kind, card_type, src, dst, printer, reason, category, SUM(count) AS n FROM ledger WHERE day = ?"
        " GROUP BY kind, card_type, src, dst, printer, reason, category", (day,)).fetchall()

    types = list(dict.fromkeys([*card_types, *(k[1] for k in opening), *(k[1] for k in closing),
                                *(r["card_type"] for r in rows)]))
    locs: dict[str, dict[str, LocationDay]] = {ct: {} for ct in types}

    def loc(ct: str, name: str) -> LocationDay:
        return locs[ct].setdefault(name, LocationDay(name))

    for ct in types:
        loc(ct, SAFE)
        for printer in printers:
            loc(ct, f"hopper:{printer}")
    for (name, ct), n in opening.items():
        loc(ct, name).opening = n
    for (name, ct), n in closing.items():
        loc(ct, name).closing = n

    printer_rows: dict[str, PrinterDay] = {p: PrinterDay(p) for p in printers}
    reasons: dict[str, dict[str, int]] = {ct: defaultdict(int) for ct in types}
    categories: dict[str, dict[str, int]] = {ct: defaultdict(int) for ct in types}
    after_print: dict[str, int] = defaultdict(int)
    custody: dict[str, dict[str, int]] = {ct: defaultdict(int) for ct in types}

    def printer_row(name: str | None) -> PrinterDay | None:
        if not name:
            return None
        return printer_rows.setdefault(name, PrinterDay(name))

    for r in rows:
        kind, ct, src, dst, n = r["kind"], r["card_type"], r["src"], r["dst"], int(r["n"])
        if kind == EntryKind.SPOILED:
            categories[ct][r["category"] or UNCATEGORIZED] += n
        if dst == RUSAK:
            custody[ct]["in"] += n
            if kind == EntryKind.SURRENDERED:
                custody[ct]["surrendered"] += n
        if src == RUSAK:
            custody[ct]["destroyed" if kind == EntryKind.DESTROYED else "returned"] += n
            continue
        src_loc, dst_loc = _is_location(src), _is_location(dst)
        hopper_printer = src.split(":", 1)[1] if src.startswith("hopper:") else None
        if kind == EntryKind.ADJUSTED:
            if dst_loc:
                loc(ct, dst).adjusted += n
            if src_loc:
                loc(ct, src).adjusted -= n
            continue
        if src_loc and dst_loc:          # a move inside the station: loaded or unloaded
            loc(ct, src).loaded_out += n
            loc(ct, dst).loaded_in += n
            continue
        if dst_loc:                      # from outside: a delivery (anything else from outside is an adjustment)
            loc(ct, dst).received += n
            continue
        if not src_loc:                  # sink to sink: a printed card found bad (reprint), a surrendered card
            if kind == EntryKind.SPOILED:
                after_print[ct] += n
                reasons[ct][_reason_key(r["reason"])] += n
                row = printer_row(r["printer"])
                if row:
                    row.spoiled_after_print += n
            continue
        # a blank leaves a location for a sink or the outside
        place = loc(ct, src)
        row = printer_row(hopper_printer)
        if dst == "printed":
            place.consumed += n
            if row:
                row.printed += n
        elif kind == EntryKind.SPOILED:
            place.spoiled += n
            reasons[ct][_reason_key(r["reason"])] += n
            if row:
                row.spoiled += n
        elif dst == "test":
            place.test += n
            if row:
                row.test += n
        else:                            # to the outside without an adjustment: returned to the directorate
            place.returned += n

    adjustments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in conn.execute("SELECT card_type, src, dst, count, reason, actor, at FROM ledger"
                          " WHERE day = ? AND kind = ? ORDER BY id", (day, EntryKind.ADJUSTED.value)):
        inward = _is_location(a["dst"])
        adjustments[a["card_type"]].append({
            "location": a["dst"] if inward else a["src"], "delta": a["count"] if inward else -a["count"],
            "reason": a["reason"], "actor": a["actor"], "at": a["at"]})

    custody_at = custody_balances(conn, day, day)
    card_rows: list[CardTypeDay] = []
    for ct in types:
        places = sorted((p for p in locs[ct].values()), key=lambda p: _location_order(p.location))
        c = CardTypeDay(ct, locations=[p for p in places if p.location == SAFE or p.location[7:] in printers
                                       or not p.is_empty()])
        for p in places:
            c.opening += p.opening
            c.received += p.received
            c.printed += p.consumed
            c.spoiled += p.spoiled
            c.test += p.test
            c.adjusted += p.adjusted
            c.returned += p.returned
            c.closing += p.closing
        safe = locs[ct][SAFE]
        c.loaded, c.unloaded = safe.loaded_out, safe.loaded_in
        c.spoiled_after_print = after_print[ct]
        c.consumed = c.printed - c.spoiled_after_print
        c.spoiled += c.spoiled_after_print
        c.spoiled_by_reason = dict(sorted(reasons[ct].items()))
        # every ministry category, zeros included (as the monthly report and the ministry's forms list them)
        c.spoiled_by_category = {**dict.fromkeys(SPOIL_CATEGORIES, 0), **dict(sorted(categories[ct].items()))}
        c.returned_by_source = {"brankas": c.returned, "rusak": custody[ct]["returned"]}
        c.custody_opening, c.custody_closing = custody_at.get(ct, (0, 0))
        c.custody_in, c.surrendered = custody[ct]["in"], custody[ct]["surrendered"]
        c.destroyed = custody[ct]["destroyed"]
        c.adjustments = adjustments[ct]
        card_rows.append(c)

    for row in printer_rows.values():
        row.consumed = row.printed - row.spoiled_after_print
        row.spoiled += row.spoiled_after_print

    return DailyReport(date=day, station=station, office=office, final=final, card_types=card_rows,
                       printers=sorted(printer_rows.values(), key=lambda p: p.name),
                       in_doubt=in_doubt_at_close(conn, day_end))


def in_doubt_at_close(conn: sqlite3.Connection, day_end: float) -> list[str]:
    """Ids of jobs whose card was in doubt when the day ended (for today: in doubt now).

    An attempt started before the close counts if it is still in doubt, or if it was settled after the
    close by one of SETTLED_REASONS. The list of a past day therefore stays the same when the jobs are
    settled later (their job objects then show how).
    """
    marks = ",".join("?" * len(SETTLED_REASONS))
    rows = conn.execute(
        "SELECT job_id, MIN(started_at) AS s FROM attempts WHERE started_at < ? AND ("
        " outcome = 'in_doubt' OR (ended_at >= ? AND reason IN (" + marks + ")))"
        " GROUP BY job_id ORDER BY s", (day_end, day_end, *SETTLED_REASONS)).fetchall()
    return [r[0] for r in rows]


def _flows_row() -> dict[str, Any]:
    return {"printed_today": 0, "spoiled_today": 0, "spoiled_today_by_reason": {}, "spoiled_today_by_category": {},
            "test_today": 0}


def flows_today(conn: sqlite3.Connection, day: str) -> dict[str, dict[str, Any]]:
    """Today's printed, spoiled (by reason and category) and test counts per card type, for the stock view."""
    out: dict[str, dict[str, Any]] = {ct: _flows_row() for ct in CARD_TYPES}
    for r in conn.execute("SELECT card_type, kind, reason, category, SUM(count) FROM ledger WHERE day = ?"
                          " AND kind IN ('consumed', 'spoiled', 'test') GROUP BY card_type, kind, reason, category",
                          (day,)):
        ct, kind, n = r[0], r[1], int(r[4])
        row = out.setdefault(ct, _flows_row())
        if kind == EntryKind.CONSUMED:
            row["printed_today"] += n
        elif kind == EntryKind.TEST:
            row["test_today"] += n
        else:
            row["spoiled_today"] += n
            key = _reason_key(r[2])
            row["spoiled_today_by_reason"][key] = row["spoiled_today_by_reason"].get(key, 0) + n
            cat = r[3] or UNCATEGORIZED
            row["spoiled_today_by_category"][cat] = row["spoiled_today_by_category"].get(cat, 0) + n
    return out
