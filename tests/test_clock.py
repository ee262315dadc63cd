"""The station clock: the station's day in its time zone, and the simulated clock tests use to run the
daemon across station days (it moves forward only, and only from code)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from printd.clock import SimulatedClock, StationClock

WIB = ZoneInfo("Asia/Jakarta")


def wib(day: str, hour: int) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=WIB).timestamp()


def test_the_station_day_is_the_station_s_not_the_machine_s() -> None:
    clock = StationClock("Asia/Jakarta")
    # 23:30 UTC on 6 December is 06:30 WIB on 7 December
    assert clock.day(datetime(2026, 12, 6, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp()) == "2026-12-07"
    start, end = clock.day_bounds("2026-12-07")
    assert (start, end) == (wib("2026-12-07", 0), wib("2026-12-08", 0))


def test_a_simulated_clock_starts_where_told_and_only_moves_forward() -> None:
    clock = SimulatedClock("Asia/Jakarta", start=wib("2026-12-07", 16))
    assert clock.day() == "2026-12-07"
    assert abs(clock.now() - wib("2026-12-07", 16)) < 5        # it runs at the wall clock's pace
    clock.jump_to(wib("2026-12-08", 8))
    assert clock.day() == "2026-12-08"
    assert clock.iso(clock.now()).startswith("2026-12-08T08:00")
    clock.advance(3600)
    assert clock.iso(clock.now()).startswith("2026-12-08T09:00")
    with pytest.raises(ValueError, match="never goes back"):
        clock.jump_to(wib("2026-12-07", 8))
    assert clock.day() == "2026-12-08"
