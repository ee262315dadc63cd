"""The station's clock: "today" is the station's day in its time zone (WIB by default), not the machine's."""
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
