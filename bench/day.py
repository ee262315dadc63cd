"""A simulated 250-card day: makespan against the ideal, and each printer's utilisation.

    .venv/bin/python bench/day.py [--jobs 250] [--time-scale 50]

Two runs in the same process: healthy, and `card1` offline for a quarter of the day (from 25 % to
50 % of the ideal day). The ideal is total mechanical time / 2; with a printer down for D seconds the
best possible is (total + D) / 2, reported as `ratio_vs_capacity`. Ratios, not seconds, are what to
compare between machines.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from printd.simulate import parse_fault, run_day


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=250)
    ap.add_argument("--time-scale", type=float, default=50.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    healthy = run_day(n_jobs=args.jobs, time_scale=args.time_scale)
    degraded = run_day(n_jobs=args.jobs, time_scale=args.time_scale, faults=[parse_fault("card1:offline@25%+25%")])
    down_s = 0.25 * degraded["ideal_s"]
    degraded["ratio_vs_capacity"] = degraded["makespan_s"] / ((degraded["ideal_s"] * 2 + down_s) / 2)
    healthy["ratio_vs_capacity"] = healthy["ratio"]
    result = {"machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
              "time_scale": args.time_scale, "healthy": healthy, "card1_down_quarter": degraded}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("| run | jobs | printed | makespan / ideal | vs capacity | card1 cards (util) | card2 cards (util) |")
    print("|---|---|---|---|---|---|---|")
    for label, r in (("healthy", healthy), ("card1 down 25 %", degraded)):
        p1, p2 = r["printers"]["card1"], r["printers"]["card2"]
        print(f"| {label} | {r['jobs']} | {r['printed']} | {r['ratio']:.4f} | {r['ratio_vs_capacity']:.4f} | "
              f"{p1['printed']} ({p1['utilisation']:.1%}) | {p2['printed']} ({p2['utilisation']:.1%}) |")


if __name__ == "__main__":
    main()
