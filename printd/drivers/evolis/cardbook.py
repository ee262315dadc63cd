"""printd's count of cards that left an Evolis printer printed, settled from the printer's counters.

The command set has a counter of cards inserted (`Rco;c`, our `Counters.fed`) and one of panels
printed (`Rco;p`), but none of cards printed. The book keeps that count per printer serial in
`evolis-driver.json` and records the card in flight (the counters read before it, the panels it
needs) *before* the first sequence command is sent. When the daemon dies or loses the printer
mid-card, the next status read settles it from the printer's own evidence:

- `Rco;c` did not move: the blank never left the feeder (not fed);
- it moved, no card is left inside and `Rco;p` moved by exactly the panels the card needed: printed;
- it moved, no card is inside, but the panel count moved otherwise (or cannot be read, or whether
  a card is inside cannot be told): in doubt. Public sources disagree whether `Rco;p` counts
  panels or cards on a given model, so a mismatch proves nothing; calling it spoiled would print a
  citizen's card twice. The book then records the card as `doubt` and the driver withholds the
  card counter until the next card, so the station leaves it to the operator;
- it moved, a card is still inside and the printer reports no error: still printing (unsettled);
- it moved, a card is still inside and the printer reports an error: spoiled.

Until then the printed count is reported as unknown, so nobody settles a card on a guess.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InFlight:
    """A card the driver started: what the printer's counters said just before it."""

    job_id: str
    attempt: int
    fed_before: int
    panels_before: int
    panels_expected: int


class CardBook:
    """The persisted printed-card count and card in flight of one printer (by serial number)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.serial: str | None = None
        self.printed = 0
        self.in_flight: InFlight | None = None
        self.cleanings_seen: int | None = None
        self.fed_at_cleaning: int | None = None
        #: the card last settled as "in doubt" (the operator decides), until the next card starts
        self.doubt: InFlight | None = None
        if path.exists():
            data = json.loads(path.read_text())
            self.serial = data.get("serial")
            self.printed = int(data.get("printed", 0))
            self.in_flight = InFlight(**data["in_flight"]) if data.get("in_flight") else None
            self.cleanings_seen = data.get("cleanings_seen")
            self.fed_at_cleaning = data.get("fed_at_cleaning")
            self.doubt = InFlight(**data["doubt"]) if data.get("doubt") else None

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(self.snapshot(), fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def snapshot(self) -> dict[str, Any]:
        """The book as stored."""
        return {"serial": self.serial, "printed": self.printed,
                "in_flight": asdict(self.in_flight) if self.in_flight else None,
                "cleanings_seen": self.cleanings_seen, "fed_at_cleaning": self.fed_at_cleaning,
                "doubt": asdict(self.doubt) if self.doubt else None}

    def bind(self, serial: str) -> None:
        """Attach the book to the printer that answered; another printer starts a fresh book."""
        if self.serial == serial:
            return
        self.serial, self.printed, self.in_flight, self.doubt = serial, 0, None, None
        self.cleanings_seen = self.fed_at_cleaning = None
        self._save()

    def begin(self, card: InFlight) -> None:
        """Record the card about to be fed (durably, before the printer can feed it)."""
        self.in_flight = card
        self.doubt = None
        self._save()

    def finish(self, printed: bool) -> None:
        """The card in flight is settled: it left the printer printed, or it did not."""
        if printed:
            self.printed += 1
        self.in_flight = None
        self._save()

    def settle(self, fed: int | None, panels: int | None, card_inside: bool | None,
               stopped: bool) -> str | None:
        """Settle the card in flight from the printer's counters; its outcome, or None if not yet known."""
        card = self.in_flight
        if card is None or fed is None:
            return None
        if fed <= card.fed_before:
            self.finish(printed=False)
            return "not_fed"
        if card_inside is True:
            if not stopped:
                return None   # the mechanism is still working on it
            self.finish(printed=False)
            return "spoiled"   # stopped on an error with the card inside: it cannot come out printed
        if card_inside is False and panels is not None and panels - card.panels_before == card.panels_expected:
            self.finish(printed=True)
            return "printed"
        self.doubt = card
        self.finish(printed=False)
        return "in_doubt"

    @property
    def printed_known(self) -> int | None:
        """The printed count, or None while a card in flight is unsettled."""
        return None if self.in_flight is not None else self.printed

    def note_cleanings(self, cleanings: int | None, fed: int | None) -> None:
        """Follow the printer's cleaning counter (`Rco;n`) to know the cards since the last cleaning."""
        if cleanings is None or fed is None or cleanings == self.cleanings_seen:
            return
        if self.cleanings_seen is not None:
            self.fed_at_cleaning = fed   # a cleaning happened since we last looked
        self.cleanings_seen = cleanings
        self._save()

    def cleaned(self, cleanings: int | None, fed: int) -> None:
        """printd just ran a cleaning cycle: count cards from here."""
        self.cleanings_seen = cleanings
        self.fed_at_cleaning = fed
        self._save()

    def since_cleaning(self, fed: int | None) -> int | None:
        """Cards fed since the last cleaning printd saw, None until it has seen one."""
        if fed is None or self.fed_at_cleaning is None:
            return None
        return max(0, fed - self.fed_at_cleaning)
