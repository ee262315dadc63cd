"""The station's clock: "today" is the station's day in its time zone (WIB by default), not the machine's.

Everything that books, counts or reports by station day reads the time through the station's clock
(`Station.clock.now()`), never `time.time()` directly, so that a test can run the real daemon across
station days with a `SimulatedClock`. There is no config key, CLI option or API for it: it can only be
handed to `Station` / `build_app` in code (tests, `bench/`), so a production daemon always runs on the
wall clock.
"""
from __future__ import annotations

import time
from datetime import date, datetime
from zoneinfo import ZoneInfo


class StationClock:
    """Wall time in seconds, and the station day and ISO times in the station's time zone."""

    def __init__(self, timezone: str = "Asia/Jakarta") -> None:
        self.tz = ZoneInfo(timezone)

    def now(self) -> float:
        return time.time()

    def day(self, ts: float | None = None) -> str:
        """The station day (YYYY-MM-DD) of a timestamp (default: now)."""
        return datetime.fromtimestamp(self.now() if ts is None else ts, self.tz).date().isoformat()

    def today(self) -> date:
        return date.fromisoformat(self.day())

    def iso(self, ts: float | None) -> str | None:
        """An ISO 8601 time with the station's UTC offset, e.g. 2026-11-29T10:42:00+07:00."""
        if ts is None:
            return None
        return datetime.fromtimestamp(ts, self.tz).isoformat(timespec="seconds")

    def day_bounds(self, day: str) -> tuple[float, float]:
        """Start and end (exclusive) of a station day as timestamps."""
        d = date.fromisoformat(day)
        start = datetime(d.year, d.month, d.day, tzinfo=self.tz)
        end = datetime.fromordinal(d.toordinal() + 1).replace(tzinfo=self.tz)
        return start.timestamp(), end.timestamp()


class SimulatedClock(StationClock):
    """The wall clock moved by an offset that only code can change (tests running the daemon over days).

    Time still runs at the wall clock's pace between jumps (cards take their real seconds, rests their
    real `cool_down_s`); `jump_to` and `advance` move it forward, e.g. to the next morning's opening.
    It never goes back: a station's ledger and attempts are ordered by time.
    """

    def __init__(self, timezone: str = "Asia/Jakarta", start: float | None = None) -> None:
        super().__init__(timezone)
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a station clock never goes back")
        self._offset += seconds

    def jump_to(self, ts: float) -> None:
        """Move the clock forward to `ts` (epoch seconds)."""
        self.advance(ts - self.now())
