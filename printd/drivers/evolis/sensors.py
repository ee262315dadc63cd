"""What the Evolis status answers say about the card path, and faults held until the printer proves them gone.

Models answer the same query in different shapes (docs/drivers-evolis.md, "Answers"): `Rlr;p`
is `NO CARD` / `ERR CARD` in the 2003 guide and `OK` / `CARD` / `SMART CARD` on current
firmware; `Rse;o` and `Rse;f` are `OPEN` / `CLOSE` in one reading and a voltage (`5,00 Volts`)
on real printers. Which voltage means "open" or "empty" is not documented, so a voltage is
never read as a state by itself: only a change from the reading taken at the fault proves the
sensor saw something move.

A refused feed (`FEEDER EMPTY`), a jam (`CARD JAM`) or an open cover reported by an answer to a
card command is *held*: the printer's status keeps showing it until a later status or card
proves it cleared, since current firmware has no feeder sensor query (`Sk` is Quantum/Kiosk
only) and the answer itself is gone after `Scs`. A sensor that never moves must not stop a
printer all day, so a held fault no sensor still confirms is let go after `HELD_RETRY_S`: the
next card then tries again, and a printer that refuses it again costs no blank (the card counter
decides) and holds the fault anew.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from printd.drivers.base import Reason, StateReason

_VOLTS = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*V(?:olts?)?\s*$", re.IGNORECASE)
#: a voltage change at least this large means the sensor saw something move
VOLTS_CHANGE = 0.5
#: reasons an answer to a card command leaves held on the printer
HELD_REASONS = frozenset({Reason.MEDIA_EMPTY, Reason.MEDIA_JAM, Reason.COVER_OPEN})
#: seconds after which a held fault that no sensor confirms is let go, so the next card tries again
HELD_RETRY_S = 60.0
#: the sensor query that can prove each held reason cleared
HELD_SENSOR: dict[str, str] = {Reason.MEDIA_EMPTY: "Rse;f", Reason.COVER_OPEN: "Rse;o", Reason.MEDIA_JAM: "Rlr;p"}


def volts(text: str) -> float | None:
    """`5,00 Volts` -> 5.0; None when the answer is not a voltage."""
    match = _VOLTS.match(text)
    return float(match.group(1).replace(",", ".")) if match else None


def card_inside(text: str) -> bool | None:
    """`Rlr;p`: True for a card in the mechanism, False for none, None when the answer says neither.

    `ERR CARD` (the guide's shape) counts as a card inside; the guide also allows it to mean a card
    waiting in the feeder on old firmware, so `ambiguous_card` tells the caller not to stop on it alone.
    """
    upper = text.strip().upper()
    if upper in ("OK", "NO CARD"):
        return False
    if upper in ("CARD", "SMART CARD", "ERR CARD", "ERROR CARD") or upper.endswith(" CARD"):
        return not upper.startswith("NO ")
    return None


def ambiguous_card(text: str) -> bool:
    """True for the old firmware's `ERR CARD`, which may be a card in the feeder rather than inside."""
    return text.strip().upper() in ("ERR CARD", "ERROR CARD")


@dataclass
class Held:
    """One held reason and the sensor reading taken when it was reported."""

    reason: StateReason
    baseline: float | None
    since: float          # wall clock, for diagnostics
    since_mono: float     # for the retry delay


class HeldFaults:
    """Faults reported by answers, shown until the printer proves them cleared."""

    def __init__(self) -> None:
        self._held: dict[str, Held] = {}

    def hold(self, reason: StateReason, sensor_text: str | None) -> None:
        """Keep `reason` on the printer; `sensor_text` is its sensor's answer at the fault."""
        if reason.keyword not in HELD_REASONS:
            return
        baseline = volts(sensor_text) if sensor_text is not None else None
        self._held[reason.keyword] = Held(reason, baseline, time.time(), time.monotonic())

    def clear(self) -> None:
        """A card left the printer printed, or a technician cleared the status: nothing is held."""
        self._held.clear()

    def keywords(self) -> set[str]:
        return set(self._held)

    def review(self, answers: dict[str, str]) -> list[StateReason]:
        """Drop what the sensors' answers prove cleared; return what is still held.

        `answers` maps a sensor query (`Rse;f`, `Rse;o`, `Sk;f`, `Rlr;p`, `Rlr;r`) to its answer text.
        """
        for keyword in list(self._held):
            held = self._held[keyword]
            if _cleared(keyword, held, answers):
                del self._held[keyword]
        return [h.reason for h in self._held.values()]

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {k: {"vendor_code": h.reason.vendor_code, "baseline_volts": h.baseline, "since": h.since}
                for k, h in self._held.items()}


def _cleared(keyword: str, held: Held, answers: dict[str, str]) -> bool:
    expired = time.monotonic() - held.since_mono >= HELD_RETRY_S
    if keyword == Reason.MEDIA_JAM:
        inside = card_inside(answers["Rlr;p"]) if "Rlr;p" in answers else None
        last = answers.get("Rlr;r", "").upper()
        if inside is True:
            return False   # the card is still in the mechanism
        return (inside is False and "JAM" not in last and "MECA" not in last) or expired
    if keyword == Reason.MEDIA_EMPTY and answers.get("Sk;f", "").strip() == "0":
        return True   # the feeder sensor of a Quantum/Kiosk sees cards
    if keyword == Reason.COVER_OPEN and answers.get("Rse;o", "").strip().upper() == "CLOSE":
        return True
    feeder = answers.get("Sk;f", "").strip()
    if keyword == Reason.MEDIA_EMPTY and feeder.isdigit() and feeder != "0":
        return False   # the feeder sensor itself says empty
    text = answers.get(HELD_SENSOR[keyword])
    now = volts(text) if text is not None else None
    if now is not None and held.baseline is None:
        held.baseline = now   # first reading after the fault: changes from here prove it cleared
    elif now is not None and held.baseline is not None and abs(now - held.baseline) >= VOLTS_CHANGE:
        return True
    return expired
