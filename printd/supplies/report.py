"""Ribbon and film lines of the monthly report: rolls in and out of the store, and the yield of used-up rolls.

Per kind, over the station days of the month:
    closing = opening + received - lent - installed + returned_unused
(`received` by source: APBD, DAK, pusat, pinjaman). `yields` are the cards each roll taken off as used
up during the month gave (the evidence when a supplier's 500 prints a ribbon is disputed).
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from printd.supplies.ledger import KINDS, SOURCES, Action, Removal, replay


@dataclass
class SupplyMonth:
    kind: str
    opening: int = 0
    received: int = 0
    received_by_source: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))
    lent: int = 0
    installed: int = 0
    returned_unused: int = 0
    closing: int = 0
    yields: list[int] = field(default_factory=list)
    average_yield: float | None = None

    def expected_closing(self) -> int:
        return self.opening + self.received - self.lent - self.installed + self.returned_unused


def _delta(action: str, count: int, reason: str | None) -> int:
    """What a move does to the store."""
    if action == Action.RECEIVED:
        return count
    if action in (Action.LENT, Action.INSTALLED):
        return -count
    if action == Action.REMOVED and reason == Removal.UNUSED:
        return count
    return 0


def month_lines(conn: sqlite3.Connection, first: str, last: str) -> list[dict[str, Any]]:
    """One line per kind for the month [first, last] (station days)."""
    lines = {k: SupplyMonth(k) for k in KINDS}
    for r in conn.execute("SELECT day, kind, action, count, source, reason FROM supply_moves WHERE day <= ?"
                          " ORDER BY id", (last,)):
        line, n = lines[r["kind"]], _delta(r["action"], r["count"], r["reason"])
        line.closing += n
        if r["day"] < first:
            line.opening += n
            continue
        if r["action"] == Action.RECEIVED:
            line.received += r["count"]
            line.received_by_source[r["source"]] = line.received_by_source.get(r["source"], 0) + r["count"]
        elif r["action"] == Action.LENT:
            line.lent += r["count"]
        elif r["action"] == Action.INSTALLED:
            line.installed += r["count"]
        elif r["action"] == Action.REMOVED and r["reason"] == Removal.UNUSED:
            line.returned_unused += r["count"]
    _, installs = replay(conn)
    for inst in installs:
        if inst.removal == Removal.USED_UP and inst.removed_day is not None and first <= inst.removed_day <= last:
            lines[inst.kind].yields.append(inst.cards)
    for line in lines.values():
        if line.yields:
            line.average_yield = round(sum(line.yields) / len(line.yields), 1)
    return [asdict(line) for line in lines.values()]
