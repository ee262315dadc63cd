"""The supplies ledger: append-only moves of ribbon and film rolls, and what follows from them.

A lot is a delivery of rolls of one kind (its `received` row; `lot_id` is that row's id) with its source
(APBD, DAK, pusat, or pinjaman: borrowed from another office, `party`). Rolls leave the store when lent
to another office or installed on a printer; a removal closes a printer's installation (the roll is used
up, or goes back to the store unused). A roll's yield is the cards its printer fed between install and
removal, read from the blank ledger (by entry order): the evidence for a yield dispute.
"""
from __future__ import annotations

import enum
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class SupplyKind(enum.StrEnum):
    RIBBON = "ribbon"
    FILM = "film"


class Source(enum.StrEnum):
    """Who paid for / gave a lot (the budget lines offices report against)."""

    APBD = "APBD"
    DAK = "DAK"
    PUSAT = "pusat"
    PINJAMAN = "pinjaman"   # borrowed from another office


class Action(enum.StrEnum):
    RECEIVED = "received"
    LENT = "lent"
    INSTALLED = "installed"
    REMOVED = "removed"


class Removal(enum.StrEnum):
    USED_UP = "used_up"
    UNUSED = "unused"       # back into the store


KINDS = tuple(k.value for k in SupplyKind)
SOURCES = tuple(s.value for s in Source)
#: blank-ledger kinds that fed a card through a printer (and so used a ribbon panel / film frame)
FED_KINDS = ("consumed", "spoiled", "test")


@dataclass
class Move:
    id: int
    at: float
    day: str
    kind: str
    action: str
    lot_id: int | None
    count: int
    source: str | None
    nominal_yield: int | None
    printer: str | None
    party: str | None
    reference: str | None
    reason: str | None
    detected: bool
    ledger_mark: int
    actor: str


@dataclass
class Installation:
    """One roll on one printer, from install to removal (open while `removed_at` is None)."""

    printer: str
    kind: str
    lot_id: int | None
    installed_at: float
    installed_move: int
    detected: bool
    nominal_yield: int | None
    installed_mark: int = 0
    removed_mark: int | None = None
    removed_at: float | None = None
    removed_day: str | None = None
    removal: str | None = None
    cards: int = 0


@dataclass
class Lot:
    id: int
    kind: str
    source: str
    count: int
    nominal_yield: int
    reference: str | None
    party: str | None
    day: str
    lent: int = 0
    installed: int = 0
    returned_unused: int = 0
    installations: list[Installation] = field(default_factory=list)

    @property
    def in_store(self) -> int:
        return self.count - self.lent - self.installed + self.returned_unused


def _move(r: sqlite3.Row) -> Move:
    return Move(id=r["id"], at=r["at"], day=r["day"], kind=r["kind"], action=r["action"], lot_id=r["lot_id"],
                count=r["count"], source=r["source"], nominal_yield=r["nominal_yield"], printer=r["printer"],
                party=r["party"], reference=r["reference"], reason=r["reason"], detected=bool(r["detected"]),
                ledger_mark=r["ledger_mark"], actor=r["actor"])


def book(c: sqlite3.Connection, **values: Any) -> int:
    """Append one move; returns its id. Call inside the caller's transaction.

    Each move marks the blank ledger's last entry, so a roll's cards are counted by ledger order, never
    by clock (a card and a roll change in the same second are still told apart).
    """
    values["ledger_mark"] = int(c.execute("SELECT COALESCE(MAX(id), 0) FROM ledger").fetchone()[0])
    cols = ", ".join(values)
    row = c.execute(f"INSERT INTO supply_moves ({cols}) VALUES ({', '.join('?' * len(values))}) RETURNING id",
                    tuple(values.values())).fetchone()
    return int(row[0])


def moves(c: sqlite3.Connection, *, first_day: str | None = None, last_day: str | None = None) -> list[Move]:
    sql, args = "SELECT * FROM supply_moves", []
    if first_day and last_day:
        sql, args = sql + " WHERE day BETWEEN ? AND ?", [first_day, last_day]
    return [_move(r) for r in c.execute(sql + " ORDER BY id", args)]


def cards_fed(c: sqlite3.Connection, printer: str, after: int, upto: int | None) -> int:
    """Blanks `printer` fed (printed, spoiled in it, test) in blank-ledger entries after..upto (ids)."""
    marks = ",".join("?" * len(FED_KINDS))
    row = c.execute(f"SELECT COALESCE(SUM(count), 0) FROM ledger WHERE printer = ? AND src LIKE 'hopper:%'"
                    f" AND kind IN ({marks}) AND id > ? AND id <= ?",
                    (printer, *FED_KINDS, after, upto if upto is not None else 2**62)).fetchone()
    return int(row[0])


def replay(c: sqlite3.Connection) -> tuple[dict[int, Lot], list[Installation]]:
    """Lots with their balances, and every installation with the cards fed while it was on."""
    lots: dict[int, Lot] = {}
    installs: list[Installation] = []
    open_: dict[tuple[str, str], Installation] = {}
    for m in moves(c):
        lot = lots.get(m.lot_id) if m.lot_id is not None else None
        if m.action == Action.RECEIVED:
            lots[m.id] = Lot(m.id, m.kind, m.source or "", m.count, m.nominal_yield or 0, m.reference, m.party, m.day)
        elif m.action == Action.LENT and lot:
            lot.lent += m.count
        elif m.action == Action.INSTALLED and m.printer:
            if lot:
                lot.installed += m.count
            inst = Installation(m.printer, m.kind, m.lot_id, m.at, m.id, m.detected,
                                lot.nominal_yield if lot else m.nominal_yield, installed_mark=m.ledger_mark)
            installs.append(inst)
            open_[(m.printer, m.kind)] = inst
            if lot:
                lot.installations.append(inst)
        elif m.action == Action.REMOVED and m.printer:
            inst_ = open_.pop((m.printer, m.kind), None)
            if inst_ is not None:
                inst_.removed_at, inst_.removed_day, inst_.removal = m.at, m.day, m.reason
                inst_.removed_mark = m.ledger_mark
                if m.reason == Removal.UNUSED and inst_.lot_id in lots:
                    lots[inst_.lot_id].returned_unused += 1
    for inst in installs:
        inst.cards = cards_fed(c, inst.printer, inst.installed_mark, inst.removed_mark)
    return lots, installs


def current(installs: Iterable[Installation]) -> dict[tuple[str, str], Installation]:
    """(printer, kind) -> the roll on it now."""
    return {(i.printer, i.kind): i for i in installs if i.removed_at is None}
