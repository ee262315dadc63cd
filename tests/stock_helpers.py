"""Helpers for the blangko tests: a station clock the test moves, and a ledger world on a real store."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from printd.blangko.reports import DailyReport, build_daily
from printd.blangko.stock import Stock
from printd.clock import StationClock
from printd.drivers.base import Counters
from printd.queue.db import Database
from printd.queue.models import AttemptOutcome, Job, Priority
from printd.queue.store import NewJob, Store


class ManualClock(StationClock):
    """A StationClock whose `now()` the test sets and advances."""

    def __init__(self, start: datetime, timezone: str = "Asia/Jakarta") -> None:
        super().__init__(timezone)
        self.t = start.timestamp()

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A moment in WIB: wib(2026, 11, 30, 9, 0)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo("Asia/Jakarta"))


@dataclass
class World:
    """A real store and stock on a database, driven by a manual clock."""

    db: Database
    clock: ManualClock
    store: Store
    stock: Stock
    printers: Sequence[str]
    _seq: int = 0
    jobs: list[str] = field(default_factory=list)

    def job(self, card_type: str = "ktp-el") -> Job:
        self._seq += 1
        job, _ = self.store.submit(NewJob(client="siak", request_id=f"R{self._seq}",
                                          nik=f"327401120390{self._seq % 9999 + 1:04d}", name=f"N{self._seq}",
                                          card_type=card_type, reason="new", priority=Priority.NORMAL,
                                          front_sha="a" * 64, back_sha=None, callback_url=None))
        self.jobs.append(job.id)
        return job

    def claim(self, printer: str, card_type: str = "ktp-el") -> Job | None:
        """Queue a job of `card_type` and give it to `printer` (None if the hopper is empty by the ledger)."""
        self.job(card_type)
        return self.store.claim_next(printer, [card_type], Counters())

    def print_card(self, printer: str, card_type: str = "ktp-el", outcome: AttemptOutcome = AttemptOutcome.PRINTED,
                   reason: str | None = None) -> Job | None:
        job = self.claim(printer, card_type)
        if job is None:
            return None
        return self.store.finish_attempt(job.id, job.attempts[-1].n, outcome, reason=reason)

    def report(self, day: str | None = None) -> DailyReport:
        day = day or self.clock.day()
        _, end = self.clock.day_bounds(day)
        with self.db._lock:
            return build_daily(self.db.conn, day, printers=list(self.printers), station="test", office="Kantor Uji",
                               final=day < self.clock.day(), day_end=end)


def make_world(path: Path | str, start: datetime, printers: Sequence[str] = ("card1", "card2"),
               max_attempts: int = 3) -> World:
    db = Database(Path(path))
    clock = ManualClock(start)
    store = Store(db, clock, max_attempts=max_attempts)
    return World(db, clock, store, Stock(store, clock, list(printers)), printers)
