"""Forecasts: days of blangko left, and when each queued job should be done.

Days left: the blanks of a card type at the station (safe + hoppers) divided by the average number
used per working day (printed, spoiled in a printer, test cards) over the last 7 working days before
today. Only days since the first ledger entry count, so a new station is not judged by the weeks it
did not exist; with no complete working day yet, days left is unknown (None).

Job estimates replay dispatch over the printers' speeds (as `queue.dispatch` does) inside the
station's working hours (`[station] working_days`, `opens`, `closes`) and its `daily_capacity`: a card
that would start after closing, or beyond the day's capacity, moves to the next working day's opening;
one that starts before closing (or before midnight on overtime) ends when it ends, as it will.
Cards already used today count against today's capacity. Outside working hours, printers that are able
work overtime (the dispatcher does not look at the clock): cards start at once until the next opening
or the end of the day.
"""
from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from printd.config import StationConfig
from printd.fitness.duty import DutyCycle
from printd.queue.store import Store

#: the rate behind days left: this many working days before today
RATE_WINDOW_DAYS = 7
#: how far ahead the working-day search looks (a station configured with no reachable day is a bug)
_MAX_DAYS_AHEAD = 3660

#: (name, card_types, free_at, seconds_single, seconds_dual), as Station._queue_view builds them
PrinterSpec = tuple[str, frozenset[str], float, float, float]
#: (job_id, card_type, dual) in print order
QueuedJob = tuple[str, str, bool]


@dataclass(frozen=True)
class QueueView:
    """What the job and printer views show of the queue at one moment, computed together.

    `estimates` (epoch seconds) by job id, for the queue's head (positions come from the live queue,
    printd/blangko/live_queue.py); `hoppers` maps each printer to the card types and counts its
    hopper holds by the ledger; `used_today` is the blanks used today.
    """

    estimates: Mapping[str, float] = field(default_factory=dict)
    hoppers: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    used_today: int = 0
    #: the replay behind `estimates`, how many queued jobs it covered, and the live queue's version then
    replay: Replay | None = None
    replayed: int = 0
    version: int = -1


class WorkingHours:
    """The station's working days and hours in its time zone."""

    def __init__(self, cfg: StationConfig) -> None:
        self.tz = cfg.tz
        self.days = frozenset(cfg.working_days)
        self.opens = cfg.opens
        self.closes = cfg.closes

    def is_working_day(self, d: date) -> bool:
        return d.isoweekday() in self.days

    def day_of(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self.tz).date()

    def bounds(self, d: date) -> tuple[float, float]:
        """Opening and closing time of day `d` as timestamps."""
        start = datetime.combine(d, self.opens, self.tz).timestamp()
        end = datetime.combine(d, self.closes, self.tz).timestamp()
        return start, max(start, end)

    def next_working_day(self, d: date) -> date:
        """The first working day after `d`."""
        for i in range(1, _MAX_DAYS_AHEAD):
            nd = d + timedelta(days=i)
            if self.is_working_day(nd):
                return nd
        raise ValueError("no working day configured")

    def earliest(self, ts: float) -> float:
        """The first moment at or after `ts` that lies within working hours."""
        d = self.day_of(ts)
        if self.is_working_day(d):
            start, end = self.bounds(d)
            if ts < start:
                return start
            if ts < end:
                return ts
        return self.bounds(self.next_working_day(d))[0]

    def overtime_end(self, ts: float) -> float:
        """Outside working hours: the end of the stretch starting at `ts` that printers on overtime
        fill (the next opening today, or the end of the day); within working hours, `ts` itself."""
        if self.earliest(ts) == ts:
            return ts
        d = self.day_of(ts)
        midnight = datetime.combine(d + timedelta(days=1), time(0), self.tz).timestamp()
        if self.is_working_day(d):
            start, _ = self.bounds(d)
            if ts < start:
                return start
        return midnight

    def working_days_before(self, today: date, n: int, not_before: date | None = None) -> list[date]:
        """Up to `n` working days before `today` (newest first), none earlier than `not_before`."""
        out: list[date] = []
        d = today
        for _ in range(_MAX_DAYS_AHEAD):
            if len(out) >= n:
                break
            d -= timedelta(days=1)
            if not_before is not None and d < not_before:
                break
            if self.is_working_day(d):
                out.append(d)
        return out


class Replay:
    """Dispatch replayed job by job over the printers' speeds, within working hours and capacity.

    Kept with the view it made, so a job appended to the queue extends it in O(1) instead of
    replaying the whole queue (Station.submit).
    """

    def __init__(self, printers: Sequence[PrinterSpec], now: float, hours: WorkingHours, capacity: int,
                 used_today: int = 0, duty: Mapping[str, DutyCycle | None] | None = None) -> None:
        self.printers = printers
        self.hours = hours
        self.capacity = capacity
        self.free = {p[0]: max(p[2], now) for p in printers}
        self.used: dict[date, int] = defaultdict(int)
        self.today = hours.day_of(now)
        self.used[self.today] = used_today + sum(1 for p in printers if p[2] > now)
        self.overtime_end = hours.overtime_end(now)
        # the calendar arithmetic (zoned datetimes) cost ~15 us a job; a replay asks about the same few
        # days over and over, so their bounds are kept: (midnight, next midnight, day) and per day
        self._day: tuple[float, float, date] = (0.0, 0.0, self.today)
        self._bounds: dict[date, tuple[float, float]] = {}
        self._next_day: dict[date, date] = {}
        #: each printer's duty cycle simulated forward (its own copy): rests the replay must leave
        self.sims = {name: sim for name, sim in (duty or {}).items() if sim is not None and name in self.free}
        for name, sim in self.sims.items():
            sim.idle(self.free[name])   # the card in the printer is out: a rest owed starts then

    def _day_of(self, ts: float) -> date:
        lo, hi, d = self._day
        if lo <= ts < hi:
            return d
        d = self.hours.day_of(ts)
        tz = self.hours.tz
        self._day = (datetime.combine(d, time(0), tz).timestamp(),
                     datetime.combine(d + timedelta(days=1), time(0), tz).timestamp(), d)
        return d

    def _bounds_of(self, d: date) -> tuple[float, float]:
        b = self._bounds.get(d)
        if b is None:
            b = self._bounds[d] = self.hours.bounds(d)
        return b

    def _next_working_day(self, d: date) -> date:
        n = self._next_day.get(d)
        if n is None:
            n = self._next_day[d] = self.hours.next_working_day(d)
        return n

    def _earliest(self, ts: float) -> float:
        """WorkingHours.earliest, with the cached calendar."""
        d = self._day_of(ts)
        if self.hours.is_working_day(d):
            start, end = self._bounds_of(d)
            if ts < start:
                return start
            if ts < end:
                return ts
        return self._bounds_of(self._next_working_day(d))[0]

    def _slot(self, t: float, seconds: float) -> float:
        """When a card of `seconds` can start at or after `t`.

        A card that starts before closing time (or before the end of overtime) runs past it: the
        dispatcher hands a printer its card whenever the printer is able, without looking at the
        clock, and a card is never stopped half-way. Estimating such a card for the next morning
        showed a card printing now as due tomorrow.
        """
        used = self.used
        if t < self.overtime_end and used[self.today] < self.capacity:
            return t
        t = self._earliest(t)
        for _ in range(_MAX_DAYS_AHEAD):
            d = self._day_of(t)
            start, end = self._bounds_of(d)
            if used[d] < self.capacity and t < max(end, start + 1e-9):
                return t
            t = self._bounds_of(self._next_working_day(d))[0]
        raise ValueError("no working day configured")

    def _start_on(self, name: str, t: float, seconds: float) -> float:
        """When the printer may start a card at or after `t`: working hours, capacity and its duty cycle."""
        sim = self.sims.get(name)
        for _ in range(_MAX_DAYS_AHEAD):
            t = self._slot(t, seconds)
            if sim is None:
                return t
            rested = sim.next_start(t)
            if rested == t:
                return t
            t = rested
        raise ValueError("no working day configured")

    def add(self, card_type: str, dual: bool) -> float | None:
        """The next job in the order: its predicted finish, or None when no printer can print it."""
        options = []
        for name, types, _, single, double in self.printers:
            if card_type in types:
                secs = double if dual else single
                options.append((self._start_on(name, self.free[name], secs), name, secs))
        if not options:
            return None
        start, name, secs = min(options)
        self.free[name] = start + secs
        self.used[self._day_of(start)] += 1
        sim = self.sims.get(name)
        if sim is not None:
            sim.record(start)
            sim.idle(start + secs)
        return start + secs


def estimate_jobs(queue: Sequence[QueuedJob], printers: Sequence[PrinterSpec], now: float, hours: WorkingHours,
                  capacity: int, used_today: int = 0, duty: Mapping[str, DutyCycle | None] | None = None,
                  replay: Replay | None = None) -> dict[str, float]:
    """Predicted finish time per queued job, within working hours and the daily capacity.

    Jobs no printer can print (no blanks, no able printer) get no estimate. A printer still busy
    (free_at > now) counts its card against today's capacity.

    `duty`: per printer, a `DutyCycle.forecast()` copy (changed here). The replay records each card on it
    as the dispatcher would, so a rest after `cool_down_after` cards and the `max_cards_per_hour` cap
    delay the cards behind them even when the rest has not started yet (the card in the printer, or one
    further down the queue, will start it). `free_at` is then when the card in the printer is out.

    Outside working hours the station still prints what able printers can take (the dispatcher does
    not look at the clock), so `printers` being able now means overtime: cards start at once, until
    the opening or the end of the station day, within today's capacity; the rest goes by the hours.
    `duty`: each printer's duty cycle, a copy the replay may advance (rests it must leave); `replay`,
    when given, is the replay to use (made with the same arguments; left ready to extend).
    """
    replay = replay or Replay(printers, now, hours, capacity, used_today, duty)
    out: dict[str, float] = {}
    for job_id, card_type, dual in queue:
        done = replay.add(card_type, dual)
        if done is not None:
            out[job_id] = done
    return out


def used_on(conn: sqlite3.Connection, day: str) -> int:
    """Blanks used at the station on `day` (printed, spoiled in a printer, test): its load on capacity."""
    row = conn.execute("SELECT COALESCE(SUM(count), 0) FROM ledger WHERE day = ? AND src LIKE 'hopper:%'"
                       " AND kind IN ('consumed', 'spoiled', 'test')", (day,)).fetchone()
    return int(row[0])


def used_today(store: Store) -> int:
    """Blanks used today at the station (call on the database thread)."""
    with store.db._lock:
        return used_on(store.db.conn, store.clock.day())


def print_rates(conn: sqlite3.Connection, cfg: StationConfig, today: date) -> tuple[int, dict[str, float]]:
    """(working days in the window, average blanks used per working day per card type).

    The window is the last RATE_WINDOW_DAYS working days before `today`, none before the first ledger
    entry; 0 days means no history yet.
    """
    first = conn.execute("SELECT MIN(day) FROM ledger").fetchone()[0]
    if first is None:
        return 0, {}
    days = WorkingHours(cfg).working_days_before(today, RATE_WINDOW_DAYS, date.fromisoformat(first))
    if not days:
        return 0, {}
    wanted = {d.isoformat() for d in days}
    totals: dict[str, int] = defaultdict(int)
    for day, card_type, n in conn.execute(
            "SELECT day, card_type, SUM(count) FROM ledger WHERE day BETWEEN ? AND ? AND src LIKE 'hopper:%'"
            " AND kind IN ('consumed', 'spoiled', 'test') GROUP BY day, card_type",
            (min(wanted), max(wanted))):
        if day in wanted:  # overtime on a non-working day inside the range does not count
            totals[card_type] += int(n)
    return len(days), {ct: n / len(days) for ct, n in totals.items()}


def days_left(store: Store, cfg: StationConfig, totals: Mapping[str, int]) -> dict[str, dict[str, float | None]]:
    """{card_type: {"days_left", "rate_per_day"}} for the stock view. Call on the database thread.

    days_left is in working days; None when there is no history yet, or when blanks are there but
    none were used in the window (no end in sight).
    """
    with store.db._lock:
        window, rates = print_rates(store.db.conn, cfg, store.clock.today())
    out: dict[str, dict[str, float | None]] = {}
    for ct, total in totals.items():
        rate = rates.get(ct, 0.0) if window else None
        left: float | None
        if rate is None:
            left = None
        elif rate <= 0:
            left = None if total > 0 else 0.0
        else:
            left = round(max(total, 0) / rate, 1)
        out[ct] = {"days_left": left, "rate_per_day": round(rate, 2) if rate is not None else None}
    return out
