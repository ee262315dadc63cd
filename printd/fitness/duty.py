"""The duty cycle of a printer: at most `max_cards_per_hour`, and a rest of `cool_down_s` after
`cool_down_after` cards in a row ("kalau mesinnya sudah panas, terpaksa kita berhentikan dulu", issue 18).

Pure bookkeeping on the station clock's seconds; the station asks `blocked_until` before giving the printer
a card and shows the countdown. A natural pause of `cool_down_s` between cards also counts as a rest. The
estimates replay the queue ahead on a `forecast()` copy, so a rest that has not started yet is in them.
"""
from __future__ import annotations

import collections

HOUR = 3600.0


class DutyCycle:
    """Card starts of one printer and the rest it is owed."""

    def __init__(self, max_cards_per_hour: int | None, cool_down_after: int | None, cool_down_s: float) -> None:
        self.max_per_hour = max_cards_per_hour
        self.cool_after = cool_down_after
        self.cool_s = cool_down_s
        # bounded: the cap needs only the last max_per_hour starts; the view counts the last hour's
        self.starts: collections.deque[float] = collections.deque(maxlen=max_cards_per_hour or 10_000)
        self.run = 0
        self.last_end: float | None = None
        self.cooling_until: float | None = None
        #: the run reached cool_down_after: the rest starts when the card in the printer is out
        self.rest_owed = False

    def record(self, started: float) -> None:
        """A card started at `started`."""
        if self.last_end is not None and started - self.last_end >= self.cool_s:
            self.run = 0   # it rested long enough on its own
        self.run += 1
        self.starts.append(started)
        if self.cool_after is not None and self.run >= self.cool_after:
            self.rest_owed = True

    def idle(self, now: float) -> None:
        """The printer has no card in it (called each dispatch round): a rest owed starts now."""
        if self.rest_owed:
            self.cooling_until = now + self.cool_s
            self.rest_owed = False
            self.run = 0
        if self.last_end is None or (self.starts and self.starts[-1] > self.last_end):
            self.last_end = now

    def blocked_until(self, now: float) -> tuple[str, float] | None:
        """("cooling" | "hour_limit", until) while the printer must not take a card, else None."""
        if self.rest_owed:
            return "cooling", now + self.cool_s
        if self.cooling_until is not None and now < self.cooling_until:
            return "cooling", self.cooling_until
        # read-only (the database thread reads it for estimates while the dispatcher records)
        starts = list(self.starts)
        if self.max_per_hour is not None and len(starts) >= self.max_per_hour and starts[0] > now - HOUR:
            return "hour_limit", starts[0] + HOUR
        return None

    def forecast(self) -> DutyCycle | None:
        """A copy to replay the queue ahead on (printd/blangko/forecast.py): the estimates then include the
        rests and hourly caps that have not started yet. None when the printer has no duty cycle."""
        if self.max_per_hour is None and self.cool_after is None:
            return None
        sim = DutyCycle(self.max_per_hour, self.cool_after, self.cool_s)
        # read-only copies (the dispatcher may record on the event loop while the database thread reads)
        sim.starts.extend(list(self.starts))
        sim.run, sim.last_end, sim.cooling_until, sim.rest_owed = (self.run, self.last_end, self.cooling_until,
                                                                   self.rest_owed)
        return sim

    def next_start(self, t: float) -> float:
        """The first moment at or after `t` when this printer may take a card."""
        for _ in range(1000):   # each step moves past one rest or one hour window: a few at most
            blocked = self.blocked_until(t)
            if blocked is None or blocked[1] <= t:
                return t
            t = blocked[1]
        return t

    def view(self, now: float) -> dict[str, object]:
        blocked = self.blocked_until(now)
        return {"state": blocked[0] if blocked else None,
                "seconds_left": round(blocked[1] - now, 1) if blocked else None,
                "cards_last_hour": sum(1 for t in list(self.starts) if t > now - HOUR), "cards_in_a_row": self.run,
                "max_cards_per_hour": self.max_per_hour, "cool_down_after": self.cool_after,
                "cool_down_s": self.cool_s}
