"""A printer's history from the database: time in each state, faults, and faults per 100 cards.

The worker writes a `printer_events` row each time a printer's state or reasons change, so the time
in a state is the gap to the next row. Cards come from the attempts table (blanks that were fed:
printed or spoiled) and from the ledger (test cards). Runs on the station's database thread.
"""
from __future__ import annotations

import bisect
import functools
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from printd.clock import StationClock
from printd.drivers.base import DEFAULT_SEVERITY, Severity
from printd.queue.db import Database

#: states that mean the printer could not print because of the printer (not the operator)
FAULT_STATES = frozenset({"stopped", "offline"})
#: stopping reasons that are consumption, not failure: they are counted apart from faults
SUPPLY_REASONS = frozenset({"media-empty", "marker-supply-empty", "film-empty"})
DAY_S = 86400.0


def error_reasons(reasons: list[str]) -> set[str]:
    """The reasons that stop printing (IPP severity `error`)."""
    return {r for r in reasons if DEFAULT_SEVERITY.get(r, Severity.ERROR) == Severity.ERROR}


@functools.lru_cache(maxsize=512)
def _errors_of(raw: str | None) -> frozenset[str]:
    """The stopping reasons of an event's `reasons` column; a station has few distinct values, so cached."""
    return frozenset(error_reasons(_reasons(raw)))


def _reasons(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(r) for r in value] if isinstance(value, list) else []


def _day_finder(clock: StationClock, start: float, end: float) -> Callable[[float], str]:
    """The station day of a time in [start, end], by bisecting day starts (30 days: ~31 zone lookups)."""
    days: list[str] = []
    starts: list[float] = []
    day = clock.day(start)
    while True:
        begin, finish = clock.day_bounds(day)
        days.append(day)
        starts.append(begin)
        if finish > end:
            break
        day = clock.day(finish)

    def find(ts: float) -> str:
        return days[max(0, bisect.bisect_right(starts, ts) - 1)]

    return find


def state_history(db: Database, printer: str, clock: StationClock, now: float,
                  days: int = 30) -> dict[str, Any]:
    """Time in each state, faults and cards of one printer over the last `days` days.

    A fault is an event at which a stopping reason appears that the previous event did not have
    (a jam that is cleared and comes back counts twice; a jam that lasts an hour counts once).
    Running out of blanks, ribbon or film stops a printer too, but is consumption: those are counted
    as `supply_stops`, not faults. Shares of time are over the recorded time; time before the first
    recorded event of the window is `unknown`.
    """
    start = now - days * DAY_S
    day_of = _day_finder(clock, start, now)
    before = db.query("SELECT state, reasons FROM printer_events WHERE printer = ? AND at < ?"
                      " ORDER BY at DESC, id DESC LIMIT 1", (printer, start))
    rows = db.query("SELECT at, state, reasons FROM printer_events WHERE printer = ? AND at >= ? AND at <= ?"
                    " ORDER BY at, id", (printer, start, now))
    seconds: defaultdict[str, float] = defaultdict(float)
    faults: Counter[str] = Counter()
    supply: Counter[str] = Counter()
    faults_by_day: Counter[str] = Counter()
    state = before[0]["state"] if before else "unknown"
    previous_errors = _errors_of(before[0]["reasons"]) if before else frozenset()
    since = start
    fault_events = 0
    for row in rows:
        seconds[state] += row["at"] - since
        state, since = row["state"], row["at"]
        errors = _errors_of(row["reasons"])
        new = errors - previous_errors
        for reason in new & SUPPLY_REASONS:
            supply[reason] += 1
        if new - SUPPLY_REASONS:
            fault_events += 1
            faults_by_day[day_of(row["at"])] += 1
            for reason in new - SUPPLY_REASONS:
                faults[reason] += 1
        previous_errors = errors
    seconds[state] += now - since

    outcomes: Counter[str] = Counter()
    per_day: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for row in db.query("SELECT outcome, started_at FROM attempts WHERE printer = ? AND started_at >= ?",
                        (printer, start)):
        outcomes[row["outcome"]] += 1
        per_day[day_of(row["started_at"])][row["outcome"]] += 1
    for row in db.query("SELECT day, SUM(count) AS n FROM ledger WHERE printer = ? AND kind = 'test'"
                        " AND at >= ? GROUP BY day", (printer, start)):
        outcomes["test"] += int(row["n"])
        per_day[row["day"]]["test"] += int(row["n"])
    cards = outcomes["printed"] + outcomes["spoiled"] + outcomes["test"]
    known = sum(v for k, v in seconds.items() if k != "unknown") or 1.0
    by_day = []
    for day in sorted(set(per_day) | set(faults_by_day)):
        c = per_day.get(day, Counter())
        by_day.append({"day": day, "printed": c["printed"], "spoiled": c["spoiled"], "test": c["test"],
                       "in_doubt": c["in_doubt"], "faults": faults_by_day[day]})
    return {
        "days": days, "from": clock.iso(start), "to": clock.iso(now),
        "seconds_in_state": {k: round(v, 1) for k, v in sorted(seconds.items()) if v > 0},
        "share_in_state": {k: round(v / known, 4) for k, v in sorted(seconds.items())
                           if v > 0 and k != "unknown"},
        "recorded_from": clock.iso(start if before else rows[0]["at"]) if before or rows else None,
        "events": len(rows),
        "faults": fault_events,
        "faults_by_reason": dict(faults.most_common()),
        "supply_stops": dict(supply.most_common()),
        "cards": cards, "printed": outcomes["printed"], "spoiled": outcomes["spoiled"],
        "test": outcomes["test"],
        "in_doubt": outcomes["in_doubt"], "not_fed": outcomes["not_fed"],
        "faults_per_100_cards": round(fault_events * 100.0 / cards, 2) if cards else None,
        "by_day": by_day,
    }


def fault_events(db: Database, printer: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest events at which the printer was stopped or offline (durable across restarts)."""
    rows = db.query("SELECT at, state, reasons, job_id FROM printer_events WHERE printer = ? AND state IN"
                    " ('stopped', 'offline') ORDER BY at DESC, id DESC LIMIT ?", (printer, limit))
    return [{"at": r["at"], "state": r["state"], "reasons": _reasons(r["reasons"]), "job_id": r["job_id"]}
            for r in rows]
