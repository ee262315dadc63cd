"""The blangko ledger as operators use it: deliveries, loads, unloads, adjustments, and balances.

Validation happens before anything is booked, and each action is one transaction, so a refused
request books nothing. Balances are always derived from the append-only ledger.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from printd.clock import StationClock
from printd.config import CARD_TYPES
from printd.errors import Conflict, Invalid, NotFound
from printd.queue import ledger
from printd.queue.ledger import EXTERNAL, SAFE, EntryKind, hopper
from printd.queue.store import Store


def _in_flight(c: sqlite3.Connection, location: str, card_type: str) -> int:
    """Cards of `card_type` whose attempt at the printer of hopper `location` has not ended."""
    if not location.startswith("hopper:"):
        return 0
    row = c.execute("SELECT COUNT(*) FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.printer = ?"
                    " AND a.outcome IN ('printing', 'in_doubt') AND j.card_type = ?",
                    (location.split(":", 1)[1], card_type)).fetchone()
    return int(row[0])


class BalanceCache:
    """Every location's balances, folded from the ledger incrementally.

    The ledger is append-only and its ids only grow, so the entries after the last one folded are all
    that can change a balance: a check costs the new entries, not the whole history (a year of a busy
    station is ~100,000 entries, ~150 ms to sum again).
    """

    def __init__(self) -> None:
        self.last_id = 0
        self.values: dict[tuple[str, str], int] = {}

    def refresh(self, conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
        """Fold in the committed entries not seen yet; returns {(location, card_type): balance}."""
        if conn.in_transaction:   # inside someone's transaction rows may still roll back: do not remember them
            return ledger.balances(conn)
        for entry_id, card_type, count, src, dst in conn.execute(
                "SELECT id, card_type, count, src, dst FROM ledger WHERE id > ? ORDER BY id", (self.last_id,)):
            for loc, sign in ((src, -1), (dst, 1)):
                if loc == SAFE or loc.startswith("hopper:"):
                    self.values[(loc, card_type)] = self.values.get((loc, card_type), 0) + sign * count
            self.last_id = entry_id
        return {k: v for k, v in self.values.items() if v}


@dataclass(frozen=True)
class Booked:
    """The result of a stock action: the entries' ids and the balances after it."""

    entry_ids: list[int]
    balances: dict[str, Any]


class Stock:
    """Stock actions and balances over the store's ledger."""

    def __init__(self, store: Store, clock: StationClock, printers: list[str],
                 fits: dict[str, frozenset[str]] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.printers = list(printers)
        #: printer -> card types its technology may print (printd/cards/technology.py); None: no check
        self.fits = fits
        self._cache = BalanceCache()

    # --------------------------------------------------------------- validation helpers

    @staticmethod
    def _card_type(card_type: str) -> str:
        if card_type not in CARD_TYPES:
            raise Invalid(f"unknown card_type {card_type!r}; use one of: {', '.join(CARD_TYPES)}",
                          code="invalid_card_type", field="card_type")
        return card_type

    @staticmethod
    def _count(count: int, field: str = "count") -> int:
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            raise Invalid(f"{field} must be a whole number above zero", code="invalid_count", field=field)
        if count > 100000:
            raise Invalid(f"{field} is implausibly large (over 100000)", code="invalid_count", field=field)
        return count

    def _printer(self, name: str) -> str:
        if name not in self.printers:
            raise NotFound(f"no printer named {name!r}; printers: {', '.join(self.printers)}",
                           code="printer_not_found", field="printer")
        return name

    def _location(self, location: str) -> str:
        if location == SAFE:
            return SAFE
        name = location.removeprefix("hopper:")
        if name not in self.printers:
            raise NotFound(f"no location {location!r}; use \"safe\" or a printer: {', '.join(self.printers)}",
                           code="location_not_found", field="location")
        return hopper(name)

    # --------------------------------------------------------------- actions

    def _tx_book(self, checks: list[tuple[str, str, int]], entries: list[dict[str, Any]],
                 settled: tuple[str, str] | None = None, document: dict[str, Any] | None = None) -> list[int]:
        """Check balances and book in one transaction: (location, card_type, needed) must be available,
        and the `settled` (location, card_type) must have no card in flight or in doubt. A `document`
        (see ledger.insert_document) is written first and the entries name it.

        Every entry gets the same instant, and the station day of that instant: a day's entries are
        booked on that day only, so a past day's report never changes.
        """
        now = self.clock.now()
        with self.store.db.tx() as c:
            for location, card_type, needed in checks:
                have = ledger.balance(c, location, card_type)
                # a card in flight (or in doubt) is still in the hopper by the ledger, but not to be taken out
                busy = _in_flight(c, location, card_type)
                if have - busy < needed:
                    where = "the safe" if location == SAFE else f"printer {location.split(':', 1)[1]}'s hopper"
                    held = f"{have} {card_type} blanks by the ledger" + (f" ({busy} in flight)" if busy else "")
                    raise Conflict(f"{where} holds {held}, fewer than {needed};"
                                   " record a delivery or correct the count with an adjustment first",
                                   code="insufficient_stock", field="count",
                                   details={"available": have - busy, "needed": needed, "card_type": card_type,
                                            "location": location})
            if settled is not None and _in_flight(c, *settled):
                printer = settled[0].split(":", 1)[1]
                raise Conflict(f"printer {printer} has a {settled[1]} card in flight or in doubt; wait for it or "
                               "resolve it before lowering its hopper's count (it would be counted twice)",
                               code="card_in_flight", field="location")
            stamp: dict[str, Any] = {"day": self.clock.day(now), "at": now}
            if document is not None:
                stamp["document_id"] = ledger.insert_document(c, **stamp, **document)
            return [ledger.book(c, **{**stamp, **e}) for e in entries]

    def receive(self, card_type: str, count: int, reference: str, actor: str, sender: str | None = None) -> list[int]:
        """A delivery into the safe, with the hand-over document (BAST) its entry names."""
        self._card_type(card_type)
        self._count(count)
        if not reference or not reference.strip():
            raise Invalid("reference (the hand-over document number) is required", code="missing_reference",
                          field="reference")
        ref = reference.strip()[:200]
        party = sender.strip()[:200] if sender and sender.strip() else None
        return self._tx_book([], [dict(kind=EntryKind.RECEIVED, card_type=card_type,
                                       count=count, src=EXTERNAL, dst=SAFE, reference=ref, actor=actor)],
                             document=dict(kind="receipt", card_type=card_type, count=count, source="external",
                                           reference=ref, party=party, actor=actor))

    def hopper_type_conflict(self, c: sqlite3.Connection, printer: str, card_type: str) -> str | None:
        held = ledger.hopper_card_types(c, printer)
        other = [t for t in held if t != card_type]
        return other[0] if other else None

    def load(self, printer: str, card_type: str, count: int, actor: str) -> list[int]:
        """Cards from the safe into a printer's hopper."""
        self._printer(printer)
        self._card_type(card_type)
        self._count(count)
        with self.store.db._lock:
            other = self.hopper_type_conflict(self.store.db.conn, printer, card_type)
        if other:
            raise Conflict(f"printer {printer}'s hopper holds {other} blanks; unload them before loading {card_type}",
                           code="hopper_card_type", field="card_type")
        if self.fits is not None and card_type not in self.fits.get(printer, frozenset()):
            # the dispatcher would never feed them anyway; a KIA blank in a retransfer printer breaks it
            raise Conflict(f"printer {printer} cannot print {card_type} cards (wrong technology); load them"
                           f" into a printer that can", code="unfit_printer", field="printer")
        return self._tx_book([(SAFE, card_type, count)],
                             [dict(kind=EntryKind.LOADED, card_type=card_type, count=count,
                                   src=SAFE, dst=hopper(printer), printer=printer, actor=actor)])

    def unload(self, printer: str, card_type: str, count: int, actor: str) -> list[int]:
        """Cards from a printer's hopper back into the safe."""
        self._printer(printer)
        self._card_type(card_type)
        self._count(count)
        return self._tx_book([(hopper(printer), card_type, count)],
                             [dict(kind=EntryKind.UNLOADED, card_type=card_type,
                                   count=count, src=hopper(printer), dst=SAFE, printer=printer, actor=actor)])

    def adjust(self, card_type: str, location: str, delta: int, reason: str, actor: str) -> list[int]:
        """A count correction with a mandatory reason; the only way a balance may go below what was booked."""
        self._card_type(card_type)
        loc = self._location(location)
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise Invalid("delta must be a non-zero whole number (+ found, - missing)", code="invalid_delta",
                          field="delta")
        self._count(abs(delta), "delta")
        if not reason or not reason.strip():
            raise Invalid("reason is required for an adjustment (e.g. 'stock count 29 Nov: 2 missing')",
                          code="missing_reason", field="reason")
        src, dst = (EXTERNAL, loc) if delta > 0 else (loc, EXTERNAL)
        printer = loc.split(":", 1)[1] if loc.startswith("hopper:") else None
        return self._tx_book([], [dict(kind=EntryKind.ADJUSTED, card_type=card_type,
                                       count=abs(delta), src=src, dst=dst, printer=printer,
                                       reason=reason.strip()[:500], actor=actor)],
                             settled=(loc, card_type) if delta < 0 else None)

    def book_test_card(self, printer: str, card_type: str, actor: str, attempt_ok: bool = True) -> list[int]:
        """A test card used one blank from the printer's hopper."""
        now = self.clock.now()
        return self.store.book([dict(day=self.clock.day(now), at=now, kind=EntryKind.TEST, card_type=card_type,
                                     count=1, src=hopper(printer), dst="test", printer=printer,
                                     reason=None if attempt_ok else "test-failed", actor=actor)])

    # --------------------------------------------------------------- balances

    def balances(self) -> dict[str, dict[str, Any]]:
        """{card_type: {"safe": n, "hoppers": {printer: n}, "total": n}} for every card type."""
        with self.store.db._lock:
            raw = self._cache.refresh(self.store.db.conn)
        out: dict[str, dict[str, Any]] = {}
        for ct in CARD_TYPES:
            hoppers = {p: raw.get((hopper(p), ct), 0) for p in self.printers}
            safe = raw.get((SAFE, ct), 0)
            out[ct] = {"safe": safe, "hoppers": hoppers, "total": safe + sum(hoppers.values())}
        return out

    def available(self, printer: str) -> dict[str, int]:
        """Blanks in a printer's hopper that no card in flight or in doubt may still have used, per card type
        (what a test card may take)."""
        with self.store.db._lock:
            c = self.store.db.conn
            held = ledger.hopper_card_types(c, printer)
            free = {ct: n - _in_flight(c, hopper(printer), ct) for ct, n in held.items()}
        return {ct: n for ct, n in free.items() if n > 0}

    def is_empty(self) -> bool:
        rows = self.store.db.query("SELECT COUNT(*) FROM ledger")
        return int(rows[0][0]) == 0
