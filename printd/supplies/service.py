"""Receive, lend, install and remove ribbon and film rolls; the view with yields, days left and alerts.

Every change is one transaction on the supplies ledger (printd/supplies/ledger.py). Film exists only on
retransfer printers (printd/cards/technology.py): a film move on a direct-to-card printer is refused.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from printd.blangko.forecast import print_rates
from printd.cards.technology import Technology, needs, printer_technology
from printd.clock import StationClock
from printd.config import Settings
from printd.errors import Conflict, Invalid, NotFound
from printd.queue.db import Database
from printd.supplies import ledger
from printd.supplies.ledger import KINDS, SOURCES, Action, Installation, Lot, Removal, Source, SupplyKind

MAX_COUNT = 10_000


@dataclass(frozen=True)
class Level:
    """What a printer itself says is left on its roll (prints), when it says."""

    remaining: int | None
    capacity: int | None


class Supplies:
    """The supplies ledger's writer and reader (call on the database thread)."""

    def __init__(self, db: Database, clock: StationClock, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.cfg = settings.supplies
        self.printers = list(settings.printers)
        self.technology = {n: printer_technology(settings, n) for n in self.printers}

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _kind(kind: str) -> str:
        if kind not in KINDS:
            raise Invalid(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}", field="kind")
        return kind

    @staticmethod
    def _count(count: int) -> int:
        if not 0 < count <= MAX_COUNT:
            raise Invalid(f"count must be 1-{MAX_COUNT}", field="count")
        return count

    def _printer(self, printer: str, kind: str) -> str:
        if printer not in self.printers:
            raise NotFound(f"no printer named {printer!r}; printers: {', '.join(self.printers)}",
                           code="printer_not_found", field="printer")
        if kind == SupplyKind.FILM and self.technology[printer] != Technology.RETRANSFER:
            raise Conflict(f"printer {printer} prints direct-to-card: it takes no film", code="unfit_printer",
                           field="printer")
        return printer

    def film_used(self) -> bool:
        return any(t == Technology.RETRANSFER for t in self.technology.values())

    def nominal(self, kind: str) -> int:
        return self.cfg.ribbon_yield if kind == SupplyKind.RIBBON else self.cfg.film_yield

    # ------------------------------------------------------------------ changes

    def receive(self, kind: str, source: str, count: int, reference: str, actor: str, *,
                nominal_yield: int | None = None, party: str | None = None) -> int:
        """A lot of rolls into the store; `pinjaman` (borrowed) names the office it came from."""
        self._kind(kind)
        self._count(count)
        if source not in SOURCES:
            raise Invalid(f"unknown source {source!r}; use one of: {', '.join(SOURCES)}", field="source")
        if not reference or not reference.strip():
            raise Invalid("reference (the hand-over document number) is required", code="missing_reference",
                          field="reference")
        if source == Source.PINJAMAN and not (party and party.strip()):
            raise Invalid("a borrowed lot (pinjaman) names the office it came from", field="party")
        if nominal_yield is not None and not 0 < nominal_yield <= 100_000:
            raise Invalid("nominal_yield must be 1-100000 prints a roll", field="nominal_yield")
        now = self.clock.now()
        with self.db.tx() as c:
            lot = ledger.book(c, at=now, day=self.clock.day(now), kind=kind, action=Action.RECEIVED.value,
                              count=count, source=source, nominal_yield=nominal_yield or self.nominal(kind),
                              party=(party or "").strip()[:200] or None, reference=reference.strip()[:200],
                              actor=actor)
            return lot

    def lend(self, kind: str, count: int, party: str, reference: str, actor: str) -> list[int]:
        """Rolls from the store to another office, oldest lot first."""
        self._kind(kind)
        self._count(count)
        if not party or not party.strip():
            raise Invalid("name the office the rolls are lent to", field="party")
        if not reference or not reference.strip():
            raise Invalid("reference (the hand-over document number) is required", code="missing_reference",
                          field="reference")
        now = self.clock.now()
        with self.db.tx() as c:
            lots, _ = ledger.replay(c)
            have = [lot for lot in lots.values() if lot.kind == kind and lot.in_store > 0]
            if sum(lot.in_store for lot in have) < count:
                raise Conflict(f"the store holds {sum(lot.in_store for lot in have)} {kind} roll(s), not {count}",
                               code="insufficient_stock", field="count")
            ids, left = [], count
            for lot in have:
                take = min(left, lot.in_store)
                ids.append(ledger.book(c, at=now, day=self.clock.day(now), kind=kind, action=Action.LENT.value,
                                       lot_id=lot.id, count=take, party=party.strip()[:200],
                                       reference=reference.strip()[:200], actor=actor))
                left -= take
                if not left:
                    break
            return ids

    def install(self, printer: str, kind: str, actor: str, *, lot_id: int | None = None,
                detected: bool = False) -> int:
        """A roll from the store onto `printer` (the oldest lot unless `lot_id`); the roll on it is used up.

        `detected`: the printer reported a new roll nobody recorded. It is booked from the oldest lot in
        the store; with the store empty it is booked without a lot (an alert asks where it came from).
        """
        self._kind(kind)
        self._printer(printer, kind)
        now = self.clock.now()
        with self.db.tx() as c:
            lots, installs = ledger.replay(c)
            if lot_id is not None:
                lot = lots.get(lot_id)
                if lot is None or lot.kind != kind:
                    raise NotFound(f"no {kind} lot {lot_id}", field="lot_id")
                if lot.in_store <= 0:
                    raise Conflict(f"lot {lot_id} has no roll left in the store", code="insufficient_stock",
                                   field="lot_id")
                chosen: Lot | None = lot
            else:
                chosen = next((lot for lot in lots.values() if lot.kind == kind and lot.in_store > 0), None)
                if chosen is None and not detected:
                    raise Conflict(f"the store holds no {kind} roll: record the delivery (or the loan) first",
                                   code="insufficient_stock", field="kind")
            day = self.clock.day(now)
            if (printer, kind) in ledger.current(installs):
                ledger.book(c, at=now, day=day, kind=kind, action=Action.REMOVED.value, count=0, printer=printer,
                            reason=Removal.USED_UP.value, detected=int(detected), actor=actor)
            return ledger.book(c, at=now, day=day, kind=kind, action=Action.INSTALLED.value,
                               lot_id=chosen.id if chosen else None, count=1 if chosen else 0, printer=printer,
                               nominal_yield=chosen.nominal_yield if chosen else self.nominal(kind),
                               detected=int(detected), actor=actor)

    def remove(self, printer: str, kind: str, actor: str, *, unused: bool = False) -> int:
        """Take the roll off `printer`: used up, or back into the store unused."""
        self._kind(kind)
        self._printer(printer, kind)
        now = self.clock.now()
        with self.db.tx() as c:
            _, installs = ledger.replay(c)
            on = ledger.current(installs).get((printer, kind))
            if on is None:
                raise Conflict(f"no {kind} roll is recorded on {printer}", code="illegal_state", field="printer")
            back = unused and on.lot_id is not None
            return ledger.book(c, at=now, day=self.clock.day(now), kind=kind, action=Action.REMOVED.value,
                               count=1 if back else 0, printer=printer,
                               reason=(Removal.UNUSED if back else Removal.USED_UP).value, actor=actor)

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> tuple[dict[int, Lot], list[Installation]]:
        with self.db._lock:
            return ledger.replay(self.db.conn)

    def rates(self) -> dict[str, float | None]:
        """Cards a working day that use each kind (ribbon: every card; film: retransfer card types)."""
        with self.db._lock:
            window, per_type = print_rates(self.db.conn, self.settings.station, self.clock.today())
        if not window:
            return dict.fromkeys(KINDS)
        card_needs = needs(self.settings)
        film = sum(n for ct, n in per_type.items() if card_needs.get(ct) == Technology.RETRANSFER)
        return {SupplyKind.RIBBON.value: sum(per_type.values()), SupplyKind.FILM.value: film}

    def view(self, levels: Mapping[tuple[str, str], Level]) -> dict[str, Any]:
        """Lots, rolls on printers, days left and alerts. `levels`: what printers report, by (printer, kind)."""
        lots, installs = self.snapshot()
        rates = self.rates()
        on = ledger.current(installs)
        printers: list[dict[str, Any]] = []
        alerts: list[dict[str, Any]] = []
        for (printer, kind), inst in sorted(on.items()):
            level = levels.get((printer, kind))
            if level is not None and level.remaining is not None:
                remaining, basis = level.remaining, "printer"
            else:
                remaining, basis = max(0, (inst.nominal_yield or self.nominal(kind)) - inst.cards), "nominal"
            printers.append({"printer": printer, "kind": kind, "lot_id": inst.lot_id,
                             "installed_at": self.clock.iso(inst.installed_at), "detected": inst.detected,
                             "cards": inst.cards, "remaining": remaining, "remaining_basis": basis})
            if remaining <= self.cfg.low_prints:
                alerts.append({"code": f"{kind}_low", "kind": kind, "printer": printer,
                               "message": f"{printer}: about {remaining} prints left on the {kind}"})
            if inst.lot_id is None:
                alerts.append({"code": "supply_unrecorded", "kind": kind, "printer": printer,
                               "message": f"{printer}: a new {kind} was fitted that the ledger does not know;"
                                          f" record its delivery or loan"})
        kinds = []
        used = {k for (_, k) in on} | {lot.kind for lot in lots.values()}
        for kind in KINDS:
            mine = [lot for lot in lots.values() if lot.kind == kind]
            store = sum(lot.in_store for lot in mine)
            left = sum(p["remaining"] for p in printers if p["kind"] == kind) + sum(
                lot.in_store * lot.nominal_yield for lot in mine)
            rate = rates[kind]
            days = None if rate is None or rate <= 0 else round(left / rate, 1)
            kinds.append({"kind": kind, "store": store, "prints_left": left, "rate_per_day": rate,
                          "days_left": days, "lots": [self._lot(lot) for lot in mine]})
            relevant = kind == SupplyKind.RIBBON or self.film_used()
            if kind in used and relevant and store <= self.cfg.store_low:
                alerts.append({"code": f"{kind}_store_low", "kind": kind, "printer": None,
                               "message": f"{store} {kind} roll(s) left in the store"})
        return {"kinds": kinds, "printers": printers,
                "installations": [self._installation(i) for i in installs], "alerts": alerts}

    def _installation(self, i: Installation) -> dict[str, Any]:
        return {"printer": i.printer, "kind": i.kind, "lot_id": i.lot_id, "detected": i.detected,
                "installed_at": self.clock.iso(i.installed_at), "removed_at": self.clock.iso(i.removed_at),
                "removal": i.removal, "cards": i.cards, "nominal_yield": i.nominal_yield}

    @staticmethod
    def _lot(lot: Lot) -> dict[str, Any]:
        done = [i.cards for i in lot.installations if i.removed_at is not None and i.removal == Removal.USED_UP]
        return {"id": lot.id, "kind": lot.kind, "source": lot.source, "count": lot.count, "day": lot.day,
                "reference": lot.reference, "party": lot.party, "nominal_yield": lot.nominal_yield,
                "in_store": lot.in_store, "lent": lot.lent, "installed": lot.installed,
                "returned_unused": lot.returned_unused,
                "cards_printed": sum(i.cards for i in lot.installations),
                "yields": done, "average_yield": round(sum(done) / len(done), 1) if done else None}
