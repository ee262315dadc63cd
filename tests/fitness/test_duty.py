"""The duty cycle on explicit timestamps (no sleeping): a rest after a run, a natural rest, the hourly cap."""
from __future__ import annotations

from printd.fitness.duty import DutyCycle


def test_a_rest_after_a_run_starts_when_the_last_card_is_out() -> None:
    d = DutyCycle(None, cool_down_after=3, cool_down_s=600)
    for t in (0.0, 40.0, 80.0):
        assert d.blocked_until(t) is None
        d.record(t)
    assert d.blocked_until(90.0) == ("cooling", 690.0)      # owed while the third card is still in it
    d.idle(115.0)                                           # the card is out: the rest counts from here
    assert d.blocked_until(120.0) == ("cooling", 715.0)
    assert d.view(415.0)["seconds_left"] == 300.0
    assert d.blocked_until(715.0) is None
    d.record(715.0)
    assert d.run == 1


def test_a_natural_pause_counts_as_a_rest() -> None:
    d = DutyCycle(None, cool_down_after=3, cool_down_s=600)
    d.record(0.0)
    d.record(40.0)
    d.idle(75.0)
    d.record(700.0)                                         # 625 s idle: the run starts again
    assert (d.run, d.blocked_until(701.0)) == (1, None)


def test_at_most_max_cards_an_hour() -> None:
    d = DutyCycle(max_cards_per_hour=2, cool_down_after=None, cool_down_s=600)
    d.record(0.0)
    d.record(100.0)
    assert d.blocked_until(200.0) == ("hour_limit", 3600.0)
    assert d.blocked_until(3600.0) is None                  # the first card left the window
    assert d.view(3600.0)["cards_last_hour"] == 1
