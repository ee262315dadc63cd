"""How long a card really takes on each printer: a moving average of measured attempts per side count.

The configured `seconds_single` / `seconds_dual` (for the simulated printer and the Evolis emulator:
divided by their `time_scale`, so a demo at 10x estimates 3.5 s a card, not 35 s) stand until
`MIN_SAMPLES` cards of that side count printed on that printer; from then on the mean of the last
`WINDOW` measured cards (attempt start to end, as the store recorded them) is used. Measurements are read
back from the store at start-up, so a restart does not forget them.
"""
from __future__ import annotations

import collections
import sqlite3
from collections.abc import Mapping
from typing import Any

WINDOW = 20
MIN_SAMPLES = 3


class CardTimes:
    """Measured card seconds per (printer, dual)."""

    def __init__(self, configured: Mapping[str, tuple[float, float]]) -> None:
        self.configured = dict(configured)
        self.samples: dict[tuple[str, bool], collections.deque[float]] = {
            (p, dual): collections.deque(maxlen=WINDOW) for p in configured for dual in (False, True)}
        self._seen: collections.deque[tuple[str, int]] = collections.deque(maxlen=1000)

    def load(self, conn: sqlite3.Connection) -> None:
        """The last measured cards of each printer (oldest first, so the newest stay in the window)."""
        rows = conn.execute(
            "SELECT a.printer, j.back_sha IS NOT NULL, a.ended_at - a.started_at FROM attempts a"
            " JOIN jobs j ON j.id = a.job_id WHERE a.outcome = 'printed' AND a.ended_at IS NOT NULL"
            " ORDER BY a.ended_at DESC LIMIT ?", (WINDOW * 2 * max(1, len(self.configured)),)).fetchall()
        for printer, dual, seconds in reversed(rows):
            if (printer, bool(dual)) in self.samples and seconds is not None and seconds > 0:
                self.samples[(printer, bool(dual))].append(float(seconds))

    def add(self, printer: str, dual: bool, seconds: float, key: tuple[str, int] | None = None) -> bool:
        """One measured card; `key` (job id, attempt) makes a repeated report count once. True if taken."""
        if (printer, dual) not in self.samples or seconds <= 0 or (key is not None and key in self._seen):
            return False
        if key is not None:
            self._seen.append(key)
        self.samples[(printer, dual)].append(seconds)
        return True

    def seconds(self, printer: str, dual: bool) -> float:
        got = self.samples.get((printer, dual))
        if got is not None and len(got) >= MIN_SAMPLES:
            return sum(got) / len(got)
        single, double = self.configured[printer]
        return double if dual else single

    def view(self, printer: str) -> dict[str, dict[str, float | int]]:
        return {name: {"seconds": round(self.seconds(printer, dual), 3),
                       "measured": len(self.samples[(printer, dual)])}
                for name, dual in (("single", False), ("dual", True))}


def configured_seconds(cfg: Any) -> tuple[float, float]:
    """(single, dual) seconds from a printer's config; a simulated or emulated printer's scaled by its speed-up."""
    single = float(getattr(cfg, "seconds_single", 35.0))
    dual = float(getattr(cfg, "seconds_dual", 50.0))
    simulated = cfg.driver == "mock" or getattr(cfg, "transport", None) == "emulator"
    scale = float(getattr(cfg, "time_scale", 1.0)) if simulated else 1.0
    return single / scale, dual / scale
