"""The start-of-day check of each printer and what follows from it: fit to print, or not, and why.

On an HDP5000-class retransfer printer cards peel or warp when the transfer temperature leaves
160-170 °C (issue 18, from the offices' reports); the operator reads it from the printer's display each
morning, with whether the cleaning was done and the settings are unchanged. A temperature outside the
window, or changed settings, keeps the printer unfit (no card is dispatched to it) until a new check
says otherwise; with `require_daily_check` a printer is unfit each day until its check is recorded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from printd.cards.technology import Technology, printer_technology
from printd.clock import StationClock
from printd.config import Settings
from printd.errors import Invalid, NotFound
from printd.queue.db import Database

#: the HDP5000's transfer window (°C) from the offices' reports (issue 18), for retransfer printers
RETRANSFER_WINDOW = (160.0, 170.0)


@dataclass(frozen=True)
class Check:
    id: int
    at: float
    day: str
    printer: str
    temperature_c: float | None
    cleaned: bool
    settings_unchanged: bool
    note: str | None
    actor: str


def _check(r: Any) -> Check:
    return Check(r["id"], r["at"], r["day"], r["printer"], r["temperature_c"], bool(r["cleaned"]),
                 bool(r["settings_unchanged"]), r["note"], r["actor"])


class Checks:
    """Records checks and says whether each printer is fit (reads on the database thread)."""

    def __init__(self, db: Database, clock: StationClock, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.latest: dict[str, Check] = {}
        #: cards fed since the last check that said "cleaned" (for printers that keep no such counter)
        self.since_clean: dict[str, int] = {}

    def window(self, printer: str) -> tuple[float, float] | None:
        cfg = self.settings.printers[printer]
        default = RETRANSFER_WINDOW if printer_technology(self.settings, printer) == Technology.RETRANSFER else None
        lo = cfg.transfer_temp_min if cfg.transfer_temp_min is not None else (default[0] if default else None)
        hi = cfg.transfer_temp_max if cfg.transfer_temp_max is not None else (default[1] if default else None)
        if lo is None and hi is None:
            return None
        return (lo if lo is not None else 0.0, hi if hi is not None else 400.0)

    def load(self) -> None:
        """The latest check of every printer (at start-up)."""
        with self.db._lock:
            for r in self.db.conn.execute("SELECT * FROM printer_checks WHERE id IN"
                                          " (SELECT MAX(id) FROM printer_checks GROUP BY printer)"):
                self.latest[r["printer"]] = _check(r)
            for printer in self.settings.printers:
                row = self.db.conn.execute("SELECT MAX(at) FROM printer_checks WHERE printer = ? AND cleaned = 1",
                                           (printer,)).fetchone()
                self.since_clean[printer] = int(self.db.conn.execute(
                    "SELECT COALESCE(SUM(count), 0) FROM ledger WHERE printer = ? AND src LIKE 'hopper:%'"
                    " AND kind IN ('consumed', 'spoiled', 'test') AND at > ?",
                    (printer, row[0] if row and row[0] is not None else 0.0)).fetchone()[0])

    def note_card(self, printer: str) -> None:
        """A card went into `printer` (the dispatcher calls this)."""
        self.since_clean[printer] = self.since_clean.get(printer, 0) + 1

    def record(self, printer: str, temperature_c: float | None, cleaned: bool, settings_unchanged: bool,
               note: str | None, actor: str) -> Check:
        if printer not in self.settings.printers:
            raise NotFound(f"no printer named {printer!r}", code="printer_not_found", field="printer")
        if temperature_c is None and self.window(printer) is not None:
            raise Invalid(f"{printer} is a retransfer printer: read the transfer temperature (°C) from its display",
                          field="temperature_c")
        now = self.clock.now()
        with self.db.tx() as c:
            row = c.execute("INSERT INTO printer_checks (at, day, printer, temperature_c, cleaned, settings_unchanged,"
                            " note, actor) VALUES (?,?,?,?,?,?,?,?) RETURNING *",
                            (now, self.clock.day(now), printer, temperature_c, int(cleaned), int(settings_unchanged),
                             (note or "").strip()[:500] or None, actor)).fetchone()
        check = _check(row)
        self.latest[printer] = check
        if cleaned:
            self.since_clean[printer] = 0
        return check

    def on_day(self, day: str) -> list[Check]:
        with self.db._lock:
            return [_check(r) for r in self.db.conn.execute(
                "SELECT * FROM printer_checks WHERE day = ? ORDER BY id", (day,))]

    def last_cleaned_at(self, printer: str) -> float | None:
        with self.db._lock:
            row = self.db.conn.execute("SELECT MAX(at) FROM printer_checks WHERE printer = ? AND cleaned = 1",
                                       (printer,)).fetchone()
        return row[0] if row and row[0] is not None else None

    def unfit_reasons(self, printer: str) -> list[str]:
        """Why `printer` may not print now (empty: fit)."""
        out: list[str] = []
        last = self.latest.get(printer)
        cfg = self.settings.printers[printer]
        if cfg.require_daily_check and (last is None or last.day != self.clock.day()):
            out.append("no-check-today")
        if last is not None:
            window = self.window(printer)
            t = last.temperature_c
            if window is not None and t is not None and not window[0] <= t <= window[1]:
                out.append("temperature")
            if not last.settings_unchanged:
                out.append("settings-changed")
        return out

    def view(self, check: Check | None) -> dict[str, Any] | None:
        if check is None:
            return None
        return {"id": check.id, "at": self.clock.iso(check.at), "day": check.day, "printer": check.printer,
                "temperature_c": check.temperature_c, "cleaned": check.cleaned,
                "settings_unchanged": check.settings_unchanged, "note": check.note, "actor": check.actor}
