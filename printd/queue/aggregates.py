"""Cheap aggregates of the queue and the ledger for metrics, kept incrementally.

A scrape must not scan a year of history on the database thread (the one writer). The two
history tables only grow, so their sums are cached and each call reads only what is new:

* `ledger` is append-only with an increasing id: balances are the cached sums up to the last id
  seen plus the entries after it.
* an `attempts` row never changes once its outcome is final, and rowids only grow (rows are never
  deleted). Everything up to just before the oldest open attempt (`printing`/`in_doubt`, found
  through the `attempts_open` index) is final for good and is folded into the cache; the few rows
  after it are counted afresh on every call.

Everything here runs on the station's database thread; one `Aggregates` per connection.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from printd.clock import StationClock
from printd.queue.db import Database
from printd.queue.models import FINAL

#: (printer, card_type, outcome, reason); reason is "" for printed cards
CardKey = tuple[str, str, str, str]
#: the trailing window of full station days behind the blangko use rate
USE_WINDOW_DAYS = 7
#: ledger kinds that take blanks out of the station for good (printed, wasted, test cards)
USE_KINDS = ("consumed", "spoiled", "test")

_FINAL_SQL = ",".join(f"'{s.value}'" for s in sorted(FINAL))


@dataclass
class Snapshot:
    """What one scrape needs from the database; no job ids, no personal data."""

    at: float
    jobs: dict[tuple[str, str], int]                      # (state, card_type) -> jobs
    oldest_queued_at: float | None
    cards_total: dict[CardKey, int]
    cards_today: dict[CardKey, int]
    balances: dict[tuple[str, str], int]                  # (location, card_type) -> blanks
    use_per_day: dict[str, float]                         # card_type -> blanks a day (trailing window)
    retention_overdue: int                                # final jobs past the window still holding personal data
    collect_s: float = 0.0


def days_left(total: int, per_day: float) -> float | None:
    """Days until `total` blanks run out at `per_day`; None when nothing is being used."""
    if per_day <= 0:
        return None
    return max(0.0, total) / per_day


class Aggregates:
    """Incremental counts over one database connection (call only from its thread)."""

    def __init__(self, db: Database, clock: StationClock) -> None:
        self.db = db
        self.clock = clock
        self._att_mark = 0            # attempts with rowid <= mark are final and folded in
        self._day: str | None = None  # the station day `_today` belongs to
        self._totals: Counter[CardKey] = Counter()
        self._today: Counter[CardKey] = Counter()
        self._ledger_mark = 0
        self._flows: Counter[tuple[str, str]] = Counter()   # (location, card_type) -> net blanks

    def snapshot(self, retention_s: float | None = None, now: float | None = None) -> Snapshot:
        """Read everything a scrape needs in a handful of indexed queries."""
        t0 = time.perf_counter()
        now = self.clock.now() if now is None else now
        today = self.clock.day(now)
        day_start, _ = self.clock.day_bounds(today)
        totals, today_counts = self._cards(today, day_start)
        q = self.db.query
        jobs = {(r[0], r[1]): int(r[2]) for r in q("SELECT state, card_type, COUNT(*) FROM jobs GROUP BY 1, 2")}
        oldest = q("SELECT MIN(created_at) FROM jobs WHERE state = 'queued'")[0][0]
        overdue = 0
        if retention_s is not None:
            overdue = int(q(f"SELECT COUNT(*) FROM jobs WHERE purged = 0 AND final_at IS NOT NULL AND final_at <= ?"
                            f" AND state IN ({_FINAL_SQL})", (now - retention_s,))[0][0])
        snap = Snapshot(at=now, jobs=jobs, oldest_queued_at=oldest, cards_total=totals, cards_today=today_counts,
                        balances=self._balances(), use_per_day=self._use_per_day(today),
                        retention_overdue=overdue)
        snap.collect_s = time.perf_counter() - t0
        return snap

    # ------------------------------------------------------------------ cards (attempts)

    _CARDS_SQL = ("SELECT a.printer, j.card_type, a.outcome, COALESCE(a.reason, ''), COUNT(*),"
                  " SUM(a.ended_at >= ?) FROM attempts a JOIN jobs j ON j.id = a.job_id"
                  " WHERE a.rowid > ? AND a.rowid <= ? AND a.outcome IN ('printed', 'spoiled') GROUP BY 1, 2, 3, 4")

    def _count(self, day_start: float, lo: int, hi: int) -> tuple[Counter[CardKey], Counter[CardKey]]:
        total: Counter[CardKey] = Counter()
        today: Counter[CardKey] = Counter()
        for printer, card_type, outcome, reason, n, n_today in self.db.query(self._CARDS_SQL, (day_start, lo, hi)):
            key = (printer, card_type, outcome, reason if outcome == "spoiled" else "")
            total[key] += n
            today[key] += n_today or 0
        return total, today

    def _cards(self, today: str, day_start: float) -> tuple[dict[CardKey, int], dict[CardKey, int]]:
        if today != self._day:
            # every row folded in so far ended before the previous call, i.e. before this day began
            self._day = today
            self._today = Counter()
        oldest_open, newest = self.db.query(
            "SELECT (SELECT MIN(rowid) FROM attempts WHERE outcome IN ('printing', 'in_doubt')),"
            " (SELECT MAX(rowid) FROM attempts)")[0]
        newest = newest or 0
        settled = (oldest_open - 1) if oldest_open is not None else newest
        if settled > self._att_mark:
            total, day = self._count(day_start, self._att_mark, settled)
            self._totals.update(total)
            self._today.update(day)
            self._att_mark = settled
        tail_total, tail_today = self._count(day_start, self._att_mark, max(newest, self._att_mark))
        return dict(self._totals + tail_total), dict(self._today + tail_today)

    # ------------------------------------------------------------------ blangko (ledger)

    def _balances(self) -> dict[tuple[str, str], int]:
        rows = self.db.query("SELECT src, dst, card_type, SUM(count), MAX(id) FROM ledger WHERE id > ?"
                             " GROUP BY 1, 2, 3", (self._ledger_mark,))
        for src, dst, card_type, n, last in rows:
            self._flows[(dst, card_type)] += n
            self._flows[(src, card_type)] -= n
            self._ledger_mark = max(self._ledger_mark, last)
        return {k: v for k, v in self._flows.items() if k[0] == "safe" or k[0].startswith("hopper:")}

    def _use_per_day(self, today: str) -> dict[str, float]:
        """Blanks used a day over the last full station days (at most USE_WINDOW_DAYS, fewer on a new station)."""
        first = self.db.query("SELECT MIN(day) FROM ledger")[0][0]
        if first is None or first >= today:
            return {}
        start = max(date.fromisoformat(first), date.fromisoformat(today) - timedelta(days=USE_WINDOW_DAYS))
        days = (date.fromisoformat(today) - start).days
        marks = ",".join("?" * len(USE_KINDS))
        rows = self.db.query(
            f"SELECT card_type, SUM(count) FROM ledger WHERE day >= ? AND day < ? AND kind IN ({marks})"
            " AND (src = 'safe' OR src LIKE 'hopper:%') GROUP BY card_type", (start.isoformat(), today, *USE_KINDS))
        return {r[0]: int(r[1]) / days for r in rows}
