"""`printd simulate --backlog N`: the office's planning questions, answered day by day.

How many working days to clear a backlog with these printers (any number, each with its technology and
card time), a daily quota, outages, and the ribbon, film and blanks in stock; and on which day ribbon,
film or blanks run out. A deterministic model, not a run of the real station (a 3,000-card backlog is
weeks of printing): each working day a printer prints `hours * 3600 / seconds` cards of the card types
its technology fits (printd/cards/technology.py), unless it is out that day, within the station's daily
quota; every card uses one ribbon print, a retransfer card one film print too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from printd.cards.technology import DEFAULT_NEEDS, Technology

MAX_DAYS = 366
_PRINTER = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]{0,31}):(?P<tech>retransfer|direct)(:(?P<secs>\d+(\.\d+)?))?$")
_OUTAGE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]{0,31}):(?P<first>\d+)(-(?P<last>\d+))?$")


@dataclass(frozen=True)
class PlanPrinter:
    name: str
    technology: str
    seconds: float = 35.0


@dataclass
class PlanInput:
    printers: list[PlanPrinter]
    backlog: dict[str, int]                      # card type -> cards waiting now
    arrivals: dict[str, int] = field(default_factory=dict)   # new requests a working day
    hours: float = 8.0
    quota: int | None = None                     # cards a working day, the whole station
    outages: dict[str, set[int]] = field(default_factory=dict)  # printer -> working days (1-based) it is out
    ribbon_rolls: int | None = None              # in the store, besides one fitted per printer; None: plenty
    ribbon_yield: int = 500
    film_rolls: int | None = None
    film_yield: int = 1500
    blanks: dict[str, int] | None = None         # usable blanks per card type; None: plenty


def parse_printer(text: str) -> PlanPrinter:
    """`NAME:retransfer|direct[:SECONDS]`, e.g. `card1:retransfer:35`."""
    m = _PRINTER.match(text)
    if not m:
        raise ValueError(f"{text!r}: use NAME:retransfer|direct[:SECONDS], e.g. card1:retransfer:35")
    return PlanPrinter(m["name"], m["tech"], float(m["secs"] or 35.0))


def parse_outage(text: str) -> tuple[str, set[int]]:
    """`NAME:DAY[-DAY]` in working days from 1, e.g. `card1:3-4`."""
    m = _OUTAGE.match(text)
    if not m or int(m["first"]) < 1 or int(m["last"] or m["first"]) < int(m["first"]):
        raise ValueError(f"{text!r}: use NAME:DAY or NAME:FIRST-LAST (working days from 1), e.g. card1:3-4")
    return m["name"], set(range(int(m["first"]), int(m["last"] or m["first"]) + 1))


def plan(p: PlanInput) -> dict[str, Any]:
    """Day by day until the backlog is printed, supplies stop it, or MAX_DAYS."""
    if p.hours <= 0 or not p.printers:
        raise ValueError("at least one printer and some working hours are needed")
    fits = {pr.name: {ct for ct, need in DEFAULT_NEEDS.items() if need == pr.technology} for pr in p.printers}
    waiting = {ct: int(n) for ct, n in p.backlog.items()}
    ribbon = None if p.ribbon_rolls is None else (p.ribbon_rolls + len(p.printers)) * p.ribbon_yield
    retransfer = [pr for pr in p.printers if pr.technology == Technology.RETRANSFER]
    film = None if p.film_rolls is None or not retransfer else (p.film_rolls + len(retransfer)) * p.film_yield
    blanks = None if p.blanks is None else dict(p.blanks)
    unprintable = sorted(ct for ct, n in waiting.items() if n > 0 and not any(ct in f for f in fits.values()))
    days: list[dict[str, Any]] = []
    out_of: dict[str, int] = {}
    stopped_by: str | None = None
    for day in range(1, MAX_DAYS + 1):
        if day > 1:
            for ct, n in p.arrivals.items():
                waiting[ct] = waiting.get(ct, 0) + n
        quota_left = p.quota if p.quota is not None else 10**9
        printed: dict[str, int] = {}
        for pr in p.printers:
            if day in p.outages.get(pr.name, set()):
                continue
            room = int(p.hours * 3600 // pr.seconds)
            for ct in sorted(fits[pr.name]):
                n = min(room, waiting.get(ct, 0), quota_left)
                if ribbon is not None:
                    n = min(n, ribbon)
                if film is not None and pr.technology == Technology.RETRANSFER:
                    n = min(n, film)
                if blanks is not None:
                    n = min(n, blanks.get(ct, 0))
                if n <= 0:
                    continue
                room -= n
                quota_left -= n
                waiting[ct] -= n
                printed[ct] = printed.get(ct, 0) + n
                if ribbon is not None:
                    ribbon -= n
                if film is not None and pr.technology == Technology.RETRANSFER:
                    film -= n
                if blanks is not None:
                    blanks[ct] = blanks.get(ct, 0) - n
        for what, left in (("ribbon", ribbon), ("film", film)):
            if left is not None and left <= 0 and what not in out_of:
                out_of[what] = day
        for ct, left in (blanks or {}).items():
            if left <= 0 and waiting.get(ct, 0) > 0 and f"blanks:{ct}" not in out_of:
                out_of[f"blanks:{ct}"] = day
        days.append({"day": day, "printed": printed, "waiting": dict(waiting),
                     "ribbon_prints_left": ribbon, "film_prints_left": film,
                     "blanks_left": dict(blanks) if blanks is not None else None})
        printable_left = sum(n for ct, n in waiting.items() if ct not in unprintable)
        if printable_left <= 0:
            break
        if not printed and day > max((max(d) for d in p.outages.values() if d), default=0):
            stopped_by = next(iter(sorted(out_of)), None) or "nothing printable"
            break
    cleared = all(n <= 0 for ct, n in waiting.items() if ct not in unprintable)
    return {"cleared": cleared, "working_days": days[-1]["day"] if cleared else None, "days": days,
            "runs_out": out_of, "stopped_by": None if cleared else stopped_by, "unprintable": unprintable,
            "printers": [{"name": pr.name, "technology": pr.technology, "seconds": pr.seconds,
                          "cards_a_day": int(p.hours * 3600 // pr.seconds)} for pr in p.printers]}
