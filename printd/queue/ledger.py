"""The blangko ledger table: append-only movements of blank cards between locations.

Every entry moves `count` cards of one card type from `src` to `dst`. Usable locations: `safe`
(the brankas), `hopper:NAME`. Custody: `rusak` holds spoiled and surrendered cards until they are
destroyed or returned (not usable stock). Sources and sinks outside the station: `external`
(deliveries, returns, adjustments, surrendered old cards), `printed`, `test`, `destroyed`, and
`spoiled` (where spoilage went before custody existed; new spoilage goes to `rusak`). A balance is
derived: cards in minus cards out. No entry is ever updated or deleted (triggers refuse it).

A `spoiled` entry carries its ministry category (`SpoilCategory`); an entry that belongs to a
document (a destruction, a return, a receipt's hand-over) carries that document's id.
"""
from __future__ import annotations

import enum
import json
import sqlite3
import time
from dataclasses import dataclass

from printd.errors import Invalid

SAFE = "safe"
EXTERNAL = "external"
RUSAK = "rusak"
DESTROYED = "destroyed"
SINKS = ("printed", "spoiled", "test", DESTROYED)


class SpoilCategory(enum.StrEnum):
    """Why a blank was spoiled, in the categories Disdukcapil offices report to the ministry."""

    GAGAL_CETAK = "gagal_cetak"          # printer fault: jam, ribbon/film, overheat
    GAGAL_ENCODE = "gagal_encode"        # chip write failed
    RUSAK_FISIK = "rusak_fisik"          # physically damaged
    CACAT_PABRIK = "cacat_pabrik"        # defective from the factory / no chip
    PERUBAHAN_DATA = "perubahan_data"    # printed, then the data changed


SPOIL_CATEGORIES: tuple[str, ...] = tuple(c.value for c in SpoilCategory)


def hopper(printer: str) -> str:
    return f"hopper:{printer}"


class EntryKind(enum.StrEnum):
    RECEIVED = "received"      # delivery into the safe (document reference)
    LOADED = "loaded"          # safe -> hopper
    UNLOADED = "unloaded"      # hopper -> safe
    CONSUMED = "consumed"      # a blank became a printed ID card
    SPOILED = "spoiled"        # a blank wasted (attempt or printer, reason)
    TEST = "test"              # a test card
    ADJUSTED = "adjusted"      # a count correction (reason and user required)
    RETURNED = "returned"      # sent back to the directorate (from the safe or from custody)
    SURRENDERED = "surrendered"  # an old card taken in for a replacement, into custody
    DESTROYED = "destroyed"    # custody -> destroyed, under a Berita Acara Pemusnahan


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    day: str
    kind: EntryKind
    card_type: str
    count: int
    src: str
    dst: str
    printer: str | None
    job_id: str | None
    attempt_n: int | None
    reason: str | None
    reference: str | None
    actor: str
    category: str | None = None
    document_id: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Entry:
        return cls(row["id"], row["at"], row["day"], EntryKind(row["kind"]), row["card_type"], row["count"],
                   row["src"], row["dst"], row["printer"], row["job_id"], row["attempt_n"], row["reason"],
                   row["reference"], row["actor"], row["category"], row["document_id"])

    @property
    def location(self) -> str:
        """The station location this entry changes (for adjustments and sinks)."""
        return self.dst if self.src in (EXTERNAL, *SINKS) else self.src

    @property
    def delta(self) -> int:
        """Signed change of `location`."""
        return self.count if self.dst == self.location else -self.count


def book(conn: sqlite3.Connection, *, day: str, kind: EntryKind, card_type: str, count: int, src: str,
         dst: str, actor: str, printer: str | None = None, job_id: str | None = None,
         attempt_n: int | None = None, reason: str | None = None, reference: str | None = None,
         at: float | None = None, category: str | None = None, document_id: int | None = None) -> int:
    """Append one entry inside the caller's transaction; returns its id.

    A `spoiled` entry must name one of SPOIL_CATEGORIES (an older one without it predates them);
    no other entry may carry a spoilage category except a destruction or return of spoiled cards,
    which keeps the category of the cards it takes out of custody.
    """
    if kind == EntryKind.SPOILED and category not in SPOIL_CATEGORIES:
        raise Invalid(f"category must be one of: {', '.join(SPOIL_CATEGORIES)} (not {category!r})",
                      code="invalid_category", field="category")
    cur = conn.execute(
        "INSERT INTO ledger (at, day, kind, card_type, count, src, dst, printer, job_id, attempt_n, reason,"
        " reference, actor, category, document_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (at if at is not None else time.time(), day, kind.value, card_type, count, src, dst, printer, job_id,
         attempt_n, reason, reference, actor, category, document_id))
    return int(cur.lastrowid or 0)


def balance(conn: sqlite3.Connection, location: str, card_type: str, before_day: str | None = None) -> int:
    """Cards of `card_type` at `location` (optionally as of the start of `before_day`)."""
    if before_day is None:
        row = conn.execute("SELECT count FROM ledger_balance WHERE location = ? AND card_type = ?",
                           (location, card_type)).fetchone()
        return int(row[0]) if row else 0
    cond = " AND day < ?" if before_day else ""
    args: tuple[object, ...] = (before_day,) if before_day else ()
    row = conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN dst = ? THEN count ELSE 0 END), 0)"
        " - COALESCE(SUM(CASE WHEN src = ? THEN count ELSE 0 END), 0)"
        f" FROM ledger WHERE card_type = ? AND (dst = ? OR src = ?){cond}",
        (location, location, card_type, location, location, *args)).fetchone()
    return int(row[0])


def balances(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """Every (location, card_type) balance that is not zero, summed from the entries themselves."""
    out: dict[tuple[str, str], int] = {}
    for row in conn.execute(
            "SELECT loc, card_type, SUM(d) FROM ("
            " SELECT dst AS loc, card_type, count AS d FROM ledger"
            " UNION ALL SELECT src AS loc, card_type, -count AS d FROM ledger)"
            " WHERE loc = 'safe' OR loc LIKE 'hopper:%' GROUP BY loc, card_type"):
        if row[2]:
            out[(row[0], row[1])] = int(row[2])
    return out


def hopper_card_types(conn: sqlite3.Connection, printer: str) -> dict[str, int]:
    """Card types with blanks in this printer's hopper, by the ledger."""
    rows = conn.execute("SELECT card_type, count FROM ledger_balance WHERE location = ? AND count > 0",
                        (hopper(printer),)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def entries(conn: sqlite3.Connection, day_from: str | None = None, day_to: str | None = None,
            limit: int = 10000) -> list[Entry]:
    """Entries in booking order, optionally between two station days (inclusive)."""
    sql = "SELECT * FROM ledger WHERE 1=1"
    args: list[object] = []
    if day_from:
        sql += " AND day >= ?"
        args.append(day_from)
    if day_to:
        sql += " AND day <= ?"
        args.append(day_to)
    sql += " ORDER BY id LIMIT ?"
    args.append(limit)
    return [Entry.from_row(r) for r in conn.execute(sql, args)]


def insert_document(conn: sqlite3.Connection, *, at: float, day: str, kind: str, card_type: str, count: int,
                    actor: str, witnesses: list[str] | None = None, source: str | None = None,
                    method: str | None = None, reference: str | None = None, reason: str | None = None,
                    party: str | None = None, job_id: str | None = None) -> int:
    """Append a stock document (destruction, return, receipt, surrendered) inside the caller's transaction;
    its ledger entries name it by `document_id`. Returns its id."""
    cur = conn.execute(
        "INSERT INTO stock_documents (at, day, kind, card_type, count, actor, witnesses, source, method, reference,"
        " reason, party, job_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (at, day, kind, card_type, count, actor, json.dumps(witnesses or [], ensure_ascii=False), source, method,
         reference, reason, party, job_id))
    return int(cur.lastrowid or 0)
