"""Forecasts: working hours, job estimates with the daily capacity, and days of blangko left."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest

from printd.blangko.forecast import WorkingHours, days_left, estimate_jobs, print_rates
from printd.config import StationConfig
from printd.queue.models import AttemptOutcome
from tests.stock_helpers import World, make_world, wib
from tests.support import config_text, daemon_thread, job_payload, wait_for

CFG = StationConfig(working_days=(1, 2, 3, 4, 5), opens=time(8, 0), closes=time(16, 0), daily_capacity=250)
HOURS = WorkingHours(CFG)
BOTH = frozenset({"ktp-el"})


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, CFG.tz)


def printers(now: float, busy_until: tuple[float, float] | None = None) -> list[tuple[str, frozenset[str], float,
                                                                                       float, float]]:
    free = busy_until or (now, now)
    return [("card1", BOTH, free[0], 35.0, 50.0), ("card2", BOTH, free[1], 35.0, 50.0)]


@pytest.mark.parametrize("moment, expected", [
    (wib(2026, 11, 30, 7, 0), wib(2026, 11, 30, 8, 0)),      # Monday before opening
    (wib(2026, 11, 30, 10, 15), wib(2026, 11, 30, 10, 15)),  # within hours
    (wib(2026, 11, 30, 16, 0), wib(2026, 12, 1, 8, 0)),      # closing time: next day
    (wib(2026, 12, 4, 17, 30), wib(2026, 12, 7, 8, 0)),      # Friday evening: Monday
    (wib(2026, 12, 5, 10, 0), wib(2026, 12, 7, 8, 0)),       # Saturday: Monday
])
def test_earliest_working_moment(moment: datetime, expected: datetime) -> None:
    assert HOURS.earliest(moment.timestamp()) == expected.timestamp()


def test_working_days_before_skips_weekends_and_stops_at_the_first_day() -> None:
    days = HOURS.working_days_before(wib(2026, 12, 1).date(), 7)
    assert [d.isoformat() for d in days] == ["2026-11-30", "2026-11-27", "2026-11-26", "2026-11-25", "2026-11-24",
                                             "2026-11-23", "2026-11-20"]
    assert len(HOURS.working_days_before(wib(2026, 12, 1).date(), 7, not_before=wib(2026, 11, 27).date())) == 2


def test_estimates_replay_dispatch_on_both_printers() -> None:
    now = wib(2026, 11, 30, 10, 0).timestamp()
    queue = [("j1", "ktp-el", False), ("j2", "ktp-el", False), ("j3", "ktp-el", False), ("j4", "ktp-el", True)]
    est = estimate_jobs(queue, printers(now), now, HOURS, capacity=250)
    assert {k: v - now for k, v in est.items()} == {"j1": 35, "j2": 35, "j3": 70, "j4": 85}


def test_a_printer_still_busy_starts_later_and_counts_against_today() -> None:
    now = wib(2026, 11, 30, 10, 0).timestamp()
    est = estimate_jobs([("j1", "ktp-el", False), ("j2", "ktp-el", False)], printers(now, (now + 20, now)), now,
                        HOURS, capacity=2)
    # card2 takes j1 now; card1's card in progress uses the second slot of today, so j2 waits for Tuesday
    assert est["j1"] - now == 35
    assert est["j2"] == wib(2026, 12, 1, 8, 0, 35).timestamp()


def test_queue_beyond_todays_capacity_moves_to_the_next_working_day() -> None:
    now = wib(2026, 12, 4, 9, 0).timestamp()   # a Friday
    queue = [(f"j{i}", "ktp-el", False) for i in range(6)]
    est = estimate_jobs(queue, printers(now), now, HOURS, capacity=5, used_today=2)
    today = [j for j, t in est.items() if at(t).date().isoformat() == "2026-12-04"]
    assert today == ["j0", "j1", "j2"]        # 2 used + 3 = capacity 5
    monday = wib(2026, 12, 7, 8, 0).timestamp()
    assert [est[j] - monday for j in ("j3", "j4", "j5")] == [35, 35, 70]


def test_a_card_started_before_closing_ends_after_it_and_the_next_one_waits_for_the_morning() -> None:
    """Issue 14: the dispatcher starts a card whenever a printer is able (it never looks at the clock)
    and never stops one half-way, so a card starting at 15:59:40 is done at 16:00:15, not tomorrow."""
    now = wib(2026, 11, 30, 15, 59, 40).timestamp()
    queue = [("j1", "ktp-el", False), ("j2", "ktp-el", False), ("j3", "ktp-el", False)]
    est = estimate_jobs(queue, printers(now), now, HOURS, capacity=250)
    assert est["j1"] == est["j2"] == wib(2026, 11, 30, 16, 0, 15).timestamp()
    assert est["j3"] == wib(2026, 12, 1, 8, 0, 35).timestamp()   # would start after closing


def test_outside_hours_able_printers_work_overtime_until_the_end_of_the_day() -> None:
    """The dispatcher does not look at the clock: printers left able on a Saturday night print now."""
    now = wib(2026, 12, 5, 22, 0).timestamp()   # Saturday night
    est = estimate_jobs([(f"j{i}", "ktp-el", False) for i in range(4)], printers(now), now, HOURS, capacity=250)
    assert est["j0"] == est["j1"] == now + 35
    assert est["j3"] == now + 70


def test_overtime_stops_at_midnight_and_the_rest_waits_for_the_next_opening() -> None:
    now = wib(2026, 12, 5, 23, 59, 0).timestamp()   # Saturday, a minute before midnight
    queue = [(f"j{i}", "ktp-el", False) for i in range(6)]
    est = estimate_jobs(queue, printers(now), now, HOURS, capacity=250)
    assert est["j0"] == est["j1"] == now + 35
    # started at 23:59:35, before midnight: they end at 00:00:10 as the printers will finish them (issue 14)
    assert est["j2"] == est["j3"] == now + 70
    assert est["j4"] == est["j5"] == wib(2026, 12, 7, 8, 0, 35).timestamp()   # Monday


def test_overtime_counts_against_the_days_capacity() -> None:
    now = wib(2026, 12, 4, 18, 0).timestamp()   # Friday evening, 249 cards already used today
    est = estimate_jobs([("j1", "ktp-el", False), ("j2", "ktp-el", False)], printers(now), now, HOURS,
                        capacity=250, used_today=249)
    assert est["j1"] == now + 35
    assert est["j2"] == wib(2026, 12, 7, 8, 0, 35).timestamp()


def test_before_opening_cards_start_at_once_then_working_hours_apply() -> None:
    now = wib(2026, 11, 30, 7, 59, 0).timestamp()   # Monday, a minute before the opening
    est = estimate_jobs([(f"j{i}", "ktp-el", False) for i in range(6)], printers(now), now, HOURS, capacity=250)
    assert est["j0"] == est["j1"] == now + 35
    assert est["j2"] == est["j3"] == now + 70            # started 07:59:35, the printers go straight on
    assert est["j4"] == est["j5"] == now + 105


def test_a_full_day_fits_and_the_rest_goes_to_tomorrow() -> None:
    now = wib(2026, 11, 30, 8, 0).timestamp()
    queue = [(f"j{i}", "ktp-el", False) for i in range(300)]
    est = estimate_jobs(queue, printers(now), now, HOURS, capacity=250)
    days = [at(est[f"j{i}"]).date().isoformat() for i in range(300)]
    assert days.count("2026-11-30") == 250 and days.count("2026-12-01") == 50
    assert est["j249"] - now == 125 * 35


def test_jobs_no_printer_can_print_get_no_estimate() -> None:
    now = wib(2026, 11, 30, 10, 0).timestamp()
    kia_only = [("card2", frozenset({"kia"}), now, 35.0, 50.0)]
    est = estimate_jobs([("k", "kia", False), ("e", "ktp-el", False)], kia_only, now, HOURS, capacity=250)
    assert set(est) == {"k"}


# ------------------------------------------------------------------ days left


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "printd.sqlite3", wib(2026, 11, 16, 9, 0))  # a Monday
    yield w
    w.db.close()


def _day_of_printing(w: World, cards: int, spoiled: int = 0) -> None:
    for _ in range(cards):
        assert w.print_card("card1") is not None
    for _ in range(spoiled):
        assert w.print_card("card1", outcome=AttemptOutcome.SPOILED, reason="media-jam") is not None
    w.clock.advance(24 * 3600)


def test_days_left_at_the_trailing_seven_working_day_rate(world: World) -> None:
    world.stock.receive("ktp-el", 500, "BAST", "t")
    world.stock.load("card1", "ktp-el", 300, "t")
    # Mon 16 .. Sun 29 Nov: working days use 10 + 2 spoiled, Saturday overtime 30 (not a working day)
    for _ in range(14):
        weekday = world.clock.today().isoweekday()
        if weekday <= 5:
            _day_of_printing(world, 10, spoiled=2)
        elif weekday == 6:
            _day_of_printing(world, 30)
        else:
            world.clock.advance(24 * 3600)
    assert world.clock.day() == "2026-11-30"
    total = world.stock.balances()["ktp-el"]["total"]
    assert total == 500 - 10 * 12 - 2 * 30
    left = days_left(world.store, CFG, {"ktp-el": total, "kia": 0})
    assert left["ktp-el"] == {"days_left": round(total / 12, 1), "rate_per_day": 12.0}
    assert left["kia"] == {"days_left": 0.0, "rate_per_day": 0.0}


def test_days_left_for_a_new_station_uses_only_the_days_it_existed(world: World) -> None:
    world.stock.receive("ktp-el", 100, "BAST", "t")
    world.stock.load("card1", "ktp-el", 50, "t")
    assert days_left(world.store, CFG, {"ktp-el": 100})["ktp-el"] == {"days_left": None, "rate_per_day": None}
    _day_of_printing(world, 8)     # Monday
    _day_of_printing(world, 4)     # Tuesday
    with world.db._lock:
        window, rates = print_rates(world.db.conn, CFG, world.clock.today())
    assert (window, rates) == (2, {"ktp-el": 6.0})
    assert days_left(world.store, CFG, {"ktp-el": 88})["ktp-el"] == {"days_left": round(88 / 6, 1),
                                                                     "rate_per_day": 6.0}


def test_days_left_is_unknown_when_nothing_was_used_lately(world: World) -> None:
    world.stock.receive("ktp-el", 100, "BAST", "t")
    world.clock.advance(3 * 24 * 3600)
    assert days_left(world.store, CFG, {"ktp-el": 100})["ktp-el"] == {"days_left": None, "rate_per_day": 0.0}


# ------------------------------------------------------------------ in the running station


def test_the_station_estimates_within_capacity(tmp_path: Path) -> None:
    """Slow simulated printers (3.5 s a card): 2 cards in flight + 1 more fill a capacity of 3, so the
    4th and later queued jobs are estimated on the next working day."""
    cfg = config_text(time_scale=10.0).replace(
        "[station]\n", "[station]\ndaily_capacity = 3\nworking_days = [1, 2, 3, 4, 5, 6, 7]\n"
                       "opens = 00:00:00\ncloses = 23:59:59\n")
    with daemon_thread(cfg, tmp_path / "state") as d, d.client(d.enrollment) as c:
        ids = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(6)]

        def settled() -> list[dict[str, Any]] | None:
            # the views are refreshed off the event loop a moment after each change
            items: list[dict[str, Any]] = c.get("/api/v1/jobs").json()["items"]
            return items if all(j["estimated_done_at"] for j in items) else None

        jobs = wait_for(settled, timeout=3, interval=0.05, what="estimates for every job")
        today = d.app.state.station.clock.day()
    assert [j["id"] for j in jobs] == ids
    printing = [j for j in jobs if j["state"] == "printing"]
    queued = [j for j in jobs if j["state"] == "queued"]
    assert len(printing) == 2 and len(queued) == 4
    assert [j["position"] for j in queued] == [1, 2, 3, 4]
    assert all(j["estimated_done_at"] for j in jobs)
    est_days = [j["estimated_done_at"][:10] for j in queued]
    assert est_days[0] == today or est_days[0] > today   # the 3rd card of the day (later only near midnight)
    assert all(day > today for day in est_days[1:]), est_days


# ------------------------------------------------------------------------------------------------ duty cycle
def _one_printer(now: float, free: float | None = None) -> list[tuple[str, frozenset[str], float, float, float]]:
    return [("card1", BOTH, now if free is None else free, 10.0, 10.0)]


def test_a_rest_not_yet_started_delays_the_cards_behind_it() -> None:
    from printd.fitness.duty import DutyCycle

    now = wib(2026, 11, 30, 9, 0).timestamp()
    cycle = DutyCycle(None, cool_down_after=3, cool_down_s=100.0)
    queue = [(f"j{i}", "ktp-el", False) for i in range(7)]
    est = estimate_jobs(queue, _one_printer(now), now, HOURS, capacity=250, duty={"card1": cycle.forecast()})
    # three cards, the rest after the third is out, three more, a rest, the seventh
    assert [est[f"j{i}"] - now for i in range(7)] == [10, 20, 30, 140, 150, 160, 270]
    assert (cycle.run, cycle.rest_owed, cycle.cooling_until) == (0, False, None)   # the real cycle untouched
    # without the duty cycle, the same queue is estimated back to back
    plain = estimate_jobs(queue, _one_printer(now), now, HOURS, capacity=250)
    assert plain["j6"] - now == 70


def test_a_run_already_under_way_rests_after_the_card_in_the_printer() -> None:
    from printd.fitness.duty import DutyCycle

    now = wib(2026, 11, 30, 9, 0).timestamp()
    cycle = DutyCycle(None, cool_down_after=3, cool_down_s=100.0)
    cycle.record(now - 25)
    cycle.idle(now - 15)
    cycle.record(now - 15)
    cycle.idle(now - 5)
    cycle.record(now - 5)           # the third card of the run, out at now + 5: the rest is owed
    queue = [("a", "ktp-el", False), ("b", "ktp-el", False)]
    est = estimate_jobs(queue, _one_printer(now, free=now + 5), now, HOURS, capacity=250,
                        duty={"card1": cycle.forecast()})
    assert (est["a"] - now, est["b"] - now) == (115, 125)


def test_the_hourly_cap_moves_a_card_to_the_next_hour_unless_another_printer_takes_it() -> None:
    from printd.fitness.duty import DutyCycle

    now = wib(2026, 11, 30, 9, 0).timestamp()
    capped = DutyCycle(max_cards_per_hour=2, cool_down_after=None, cool_down_s=0.0)
    queue = [(f"j{i}", "ktp-el", False) for i in range(3)]
    alone = estimate_jobs(queue, _one_printer(now), now, HOURS, capacity=250, duty={"card1": capped.forecast()})
    assert [alone[f"j{i}"] - now for i in range(3)] == [10, 20, 3610]     # the third waits for the window
    slow = [("card1", BOTH, now, 10.0, 10.0), ("card2", BOTH, now, 60.0, 60.0)]
    both = estimate_jobs(queue, slow, now, HOURS, capacity=250, duty={"card1": capped.forecast(), "card2": None})
    # j1 starts at once on the idle card2; j2 is card1's second card of the hour; none waits for the window
    assert [both[f"j{i}"] - now for i in range(3)] == [10, 60, 20]


def test_no_duty_cycle_no_copy() -> None:
    from printd.fitness.duty import DutyCycle

    assert DutyCycle(None, None, 600.0).forecast() is None
