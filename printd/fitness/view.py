"""The printer object's fitness fields: the last start-of-day check, why it is unfit, the duty cycle's
countdown and the cleaning reminder."""
from __future__ import annotations

from typing import Any


def fitness_view(station: Any, w: Any) -> dict[str, Any]:
    """`fitness`, `duty` and `cleaning` for the printer object of worker `w`."""
    cfg = station.settings.printers[w.name]
    checks = station.checks
    unfit = checks.unfit_reasons(w.name)
    window = checks.window(w.name)
    counters = w.status.counters if w.status else None
    reported = counters.since_cleaning if counters else None
    since = reported if reported is not None else checks.since_clean.get(w.name, 0)
    every = cfg.cleaning_every
    return {
        "fitness": {"fit": not unfit, "unfit_reasons": unfit,
                    "temperature_window_c": list(window) if window else None,
                    "last_check": checks.view(checks.latest.get(w.name))},
        "duty": _duty(station, w.name),
        "cleaning": {"since": since, "basis": "printer" if reported is not None else "ledger", "every": every,
                     "due": every is not None and since >= every},
    }


def _duty(station: Any, name: str) -> dict[str, Any]:
    now = station.clock.now()
    view = station.duty[name].view(now)
    left = view["seconds_left"]
    # an absolute end too: the page counts down from it whenever the printer object arrived
    view["until"] = station.clock.iso(now + left) if isinstance(left, float) else None
    return view
