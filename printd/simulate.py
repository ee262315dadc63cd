"""A whole simulated day on two simulated printers, in-process and at a time scale.

Used by `printd simulate` and `bench/day.py`. It runs the real Station (store, dispatcher, workers,
mock drivers) on a throw-away state folder; only HTTP is left out.
"""
from __future__ import annotations

import asyncio
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from printd.cards.art import sample_card
from printd.config import Settings, parse
from printd.queue.models import FINAL, JobState, Priority
from printd.queue.store import NewJob
from printd.station import Station

_FAULT_RE = re.compile(r"^(?P<printer>[a-z0-9_-]+):(?P<kind>[a-z-]+)@(?P<at>\d+(\.\d+)?)%"
                       r"(\+(?P<dur>\d+(\.\d+)?)(?P<durpct>%)?)?$")
ALIASES = {"jam": "media-jam", "ribbon": "marker-supply-empty", "cover": "cover-open", "down": "offline"}


@dataclass(frozen=True)
class PlannedFault:
    """A fault at a share of the ideal day, lasting seconds (simulated) or a share of the ideal day."""

    printer: str
    kind: str
    at_share: float
    duration: float | None
    duration_is_share: bool


#: the simulated station's printers
PRINTERS = ("card1", "card2")


def parse_fault(text: str) -> PlannedFault:
    """`card1:media-jam@30%`, `card1:offline@0%+25%` (a quarter of the day), `card2:hang@50%+120` (s)."""
    m = _FAULT_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r}: expected PRINTER:KIND@PCT%[+SECONDS|+PCT%], e.g. card1:media-jam@30%")
    kind = ALIASES.get(m["kind"], m["kind"])
    from printd.drivers.base import FAULT_KINDS

    if kind not in FAULT_KINDS:
        raise ValueError(f"{text!r}: unknown fault kind {m['kind']!r}; known: {', '.join(FAULT_KINDS)}")
    if m["printer"] not in PRINTERS:
        raise ValueError(f"{text!r}: unknown printer {m['printer']!r}; the simulated station has "
                         f"{', '.join(PRINTERS)}")
    dur = float(m["dur"]) if m["dur"] else None
    return PlannedFault(m["printer"], kind, float(m["at"]) / 100, dur / 100 if dur is not None and m["durpct"] else dur,
                        bool(m["durpct"]))


def _settings(time_scale: float, n_jobs: int, fault_rate: float, seed: int) -> Settings:
    hopper = n_jobs + 50
    printers = "".join(
        f'[printers.{n}]\ndriver = "mock"\ntime_scale = {time_scale}\nhopper_capacity = {hopper}\n'
        f"ribbon_capacity = {n_jobs * 3}\nfilm_capacity = {n_jobs * 6}\n"
        f"fault_rate = {fault_rate}\nfault_seed = {seed + i}\n\n"
        for i, n in enumerate(PRINTERS))
    text = (f'[station]\npoll_interval_s = 0.2\nmax_attempts = 5\n[stock]\nseed = {{ "ktp-el" = {2 * hopper} }}\n'
            + printers)
    return parse(text, "<simulate>")


async def _run(n_jobs: int, time_scale: float, dual_share: float, faults: list[PlannedFault], seed: int,
               fault_rate: float, state_dir: Path) -> dict[str, Any]:
    settings = _settings(time_scale, n_jobs, fault_rate, seed)
    station = Station(settings, state_dir)
    await station.start()
    try:
        fronts = [sample_card("SIMULATED", i) for i in range(min(n_jobs, 50))]
        back = sample_card("SIMULATED", 0, back=True)
        n_dual = round(n_jobs * dual_share)
        mech = 0.0
        for i in range(n_jobs):
            dual = i < n_dual
            mech += 50.0 if dual else 35.0
            front_sha = station.images.put(fronts[i % len(fronts)])
            back_sha = station.images.put(back) if dual else None
            await station.submit(NewJob(client="simulate", request_id=f"sim-{i}", nik=f"327401120390{i + 1:04d}",
                                        name=f"SIMULASI {i}", card_type="ktp-el", reason="new",
                                        priority=Priority.NORMAL, front_sha=front_sha, back_sha=back_sha,
                                        callback_url=None))
        ideal_s = mech / 2
        t0 = time.monotonic()
        pending = sorted(faults, key=lambda f: f.at_share)
        while True:
            elapsed_sim = (time.monotonic() - t0) * time_scale
            while pending and elapsed_sim >= pending[0].at_share * ideal_s:
                f = pending.pop(0)
                dur = f.duration * ideal_s if f.duration is not None and f.duration_is_share else f.duration
                await station.inject_fault(f.printer, f.kind, dur / time_scale if dur is not None else None,
                                           "simulate")
            counts = await station.db(station.store.counts_by_state)
            open_ = sum(v for k, v in counts.items() if JobState(k) not in FINAL and k != "in_doubt")
            if open_ == 0:
                break
            await asyncio.sleep(0.01)
        makespan_real = time.monotonic() - t0
        jobs = await station.db(station.store.list, limit=n_jobs + 10)
        per: dict[str, dict[str, Any]] = {n: {"printed": 0, "spoiled": 0, "busy_s": 0.0} for n in station.workers}
        for j in jobs:
            for a in j.attempts:
                p = per[a.printer]
                # mechanical time of the cards it handled: an attempt settled late (in doubt during an
                # outage) must not count the outage as work
                if a.outcome.value in ("printed", "spoiled"):
                    p["busy_s"] += 50.0 if j.dual else 35.0
                if a.outcome.value == "printed":
                    p["printed"] += 1
                elif a.outcome.value == "spoiled":
                    p["spoiled"] += 1
        makespan = makespan_real * time_scale
        for p in per.values():
            p["share"] = p["printed"] / n_jobs if n_jobs else 0.0
            p["utilisation"] = p["busy_s"] / makespan if makespan else 0.0
        states = await station.db(station.store.counts_by_state)
        latencies = sorted(station.dispatch_latencies)
        return {
            "jobs": n_jobs, "printed": states.get("printed", 0), "failed": states.get("failed", 0),
            "in_doubt": states.get("in_doubt", 0), "spoiled": sum(p["spoiled"] for p in per.values()),
            "makespan_s": makespan, "ideal_s": ideal_s, "ratio": makespan / ideal_s if ideal_s else 0.0,
            "time_scale": time_scale, "printers": per,
            "claim_ms_p50": latencies[len(latencies) // 2] * 1000 if latencies else None,
        }
    finally:
        await station.stop()


def run_day(*, n_jobs: int = 250, time_scale: float = 200.0, dual_share: float = 0.0,
            faults: list[PlannedFault] | None = None, seed: int = 1, fault_rate: float = 0.0,
            state_dir: Path | None = None) -> dict[str, Any]:
    """Run a simulated day and return its figures."""
    if state_dir is not None:
        return asyncio.run(_run(n_jobs, time_scale, dual_share, faults or [], seed, fault_rate, state_dir))
    with tempfile.TemporaryDirectory(prefix="printd-sim-") as tmp:
        return asyncio.run(_run(n_jobs, time_scale, dual_share, faults or [], seed, fault_rate, Path(tmp)))
