"""The operator's switches per printer, kept across restarts: paused (not dispatching) and rejecting new jobs.

An operator who paused a printer for bad print quality must not find it printing after a watchdog
restart. The config's `enabled` stays the station's own setting; these rows only record what an
operator turned off, and go away when it is turned on again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from printd.queue.db import Database


@dataclass(frozen=True)
class Switches:
    """What an operator turned off on one printer."""

    paused: bool = False
    rejecting: bool = False


def load(db: Database) -> dict[str, Switches]:
    """Every printer with a switch turned off, by name."""
    return {r["printer"]: Switches(bool(r["paused"]), bool(r["rejecting"]))
            for r in db.query("SELECT printer, paused, rejecting FROM printer_switches")}


def save(db: Database, printer: str, actor: str, *, paused: bool | None = None,
         rejecting: bool | None = None) -> Switches:
    """Set one or both switches (None leaves it) durably; returns the printer's switches now."""
    with db.tx() as conn:
        row = conn.execute("SELECT paused, rejecting FROM printer_switches WHERE printer = ?", (printer,)).fetchone()
        now = Switches(bool(row["paused"]), bool(row["rejecting"])) if row else Switches()
        now = Switches(now.paused if paused is None else paused, now.rejecting if rejecting is None else rejecting)
        if now == Switches():
            conn.execute("DELETE FROM printer_switches WHERE printer = ?", (printer,))
        else:
            conn.execute("INSERT INTO printer_switches (printer, paused, rejecting, actor, at) VALUES (?, ?, ?, ?, ?)"
                         " ON CONFLICT (printer) DO UPDATE SET paused = excluded.paused,"
                         " rejecting = excluded.rejecting, actor = excluded.actor, at = excluded.at",
                         (printer, int(now.paused), int(now.rejecting), actor, time.time()))
    return now
