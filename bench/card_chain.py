"""One printer's cards/s through the station against the same simulated printer driven alone.

    .venv/bin/python bench/card_chain.py [--depth 1000] [--cards 200] [--rounds 3] [--json]

bench/backlog.py gives cards/s through the real daemon; this one says how much of a card's time is
the station's and how much the printer's own. In this process: `printd.station.Station` (real SQLite,
every card prepared first) with `card1` at 1000x and `card2` paused prints `--cards` cards from a
queue of `--depth`; the baseline is a `MockPrinter` with the same configuration, in its own
directory, printing the same cards back to back with nothing between them (its own feed, its 35 ms,
its fsync'd state and log) — the most any station could get out of this printer. The rounds alternate
baseline and station so the machine's load falls on both. Reported: each side's median of rounds,
the ratio, the nominal ideal (1000 / 35 s = 28.6 cards/s) and the station's time between two cards.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import describe_machine, fill_queue, machine, printd_config
from printd.cards.art import sample_card
from printd.config import MockPrinterConfig, parse
from printd.drivers.base import Card
from printd.drivers.mock import MockPrinter
from printd.station import Station

TIME_SCALE = 1000.0
NOMINAL_CARDS_S = TIME_SCALE / 35.0


def printer_alone(cards: int, front: bytes) -> float:
    """cards/s of the simulated printer driven back to back by nothing but a loop."""
    settings = parse(printd_config(enabled=True, time_scale=TIME_SCALE, hopper=cards + 10), "<bench>")
    cfg = settings.printers["card1"]
    assert isinstance(cfg, MockPrinterConfig)
    with tempfile.TemporaryDirectory(prefix="printd-bench-alone-") as tmp:
        printer = MockPrinter("card1", cfg, Path(tmp))
        printer.load_cards(cfg.card_type, cards + 5)
        t0 = time.perf_counter()
        for n in range(cards):
            printer.print_card(Card(job_id=f"b{n}", attempt=1, card_type=cfg.card_type, front_png=front,
                                    back_png=None, title="bench"))
        return cards / (time.perf_counter() - t0)


async def through_station(depth: int, cards: int) -> float:
    """cards/s of `card1` printing `cards` jobs from a queue of `depth`, all prepared first."""
    with tempfile.TemporaryDirectory(prefix="printd-bench-chain-") as tmp:
        settings = parse(printd_config(enabled=False, time_scale=TIME_SCALE, hopper=cards + 10,
                                       seed=depth + cards), "<bench>")
        fill_queue(settings, Path(tmp), depth)
        st = Station(settings, Path(tmp))
        await st.start()
        try:
            while len(st.cards.preparer.prepared_jobs()) < depth:  # noqa: ASYNC110 - no event for "all prepared"
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)
            w = st.workers["card1"]
            printed0 = w.cards_today
            t0 = time.perf_counter()
            await st.resume("card1", "bench")
            while w.cards_today - printed0 < cards:  # noqa: ASYNC110 - polling a counter is the measurement
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - t0
            await st.pause("card1", "now", "bench")
            return (w.cards_today - printed0) / elapsed
        finally:
            await st.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=1000)
    ap.add_argument("--cards", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    m = machine()
    front = sample_card("BENCH", 1)
    alone: list[float] = []
    station: list[float] = []
    for _ in range(args.rounds):
        alone.append(printer_alone(args.cards, front))
        station.append(asyncio.run(through_station(args.depth, args.cards)))
    a, s = statistics.median(alone), statistics.median(station)
    out = {"machine": m, "depth": args.depth, "cards": args.cards, "printer_alone_cards_s": alone,
           "station_cards_s": station, "ratio_to_printer": s / a, "ratio_to_nominal": s / NOMINAL_CARDS_S,
           "chain_ms": (1 / s - 1 / a) * 1000}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(describe_machine(m))
    print(f"printer alone:   {a:.1f} cards/s ({1000 / a:.1f} ms a card)   rounds {[round(x, 1) for x in alone]}")
    print(f"through station: {s:.1f} cards/s ({1000 / s:.1f} ms a card)   rounds {[round(x, 1) for x in station]}")
    print(f"station / printer alone: {s / a:.0%}; / nominal {NOMINAL_CARDS_S:.1f}: {s / NOMINAL_CARDS_S:.0%}; "
          f"the station's time between cards: {out['chain_ms']:.1f} ms")


if __name__ == "__main__":
    main()
