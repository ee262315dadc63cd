"""CPU of one job state change at a given backlog, in-process: the station alone, no HTTP.

    .venv/bin/python bench/change_cpu.py [--depths 1000,20000] [--changes 20]

bench/backlog.py measures the same through the real daemon, where other processes on a shared
machine blur a few milliseconds; here the station (`printd.station.Station`, real SQLite, two paused
simulated printers) runs in this process after its queue is filled directly through the store, and
every card has been prepared before the clock starts. The figure is this process's CPU (all its
threads: event loop, database thread, printer polls) per hold or release of the job at the head.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import fill_queue, printd_config
from printd.config import parse
from printd.station import Station


async def measure(depth: int, changes: int) -> float:
    """ms of CPU per state change with `depth` jobs queued."""
    with tempfile.TemporaryDirectory(prefix="printd-bench-change-") as tmp:
        settings = parse(printd_config(enabled=False, time_scale=1000.0), "<bench>")
        fill_queue(settings, Path(tmp), depth)
        st = Station(settings, Path(tmp))
        await st.start()
        try:
            while len(st.cards.preparer.prepared_jobs()) < depth:  # noqa: ASYNC110 - no event for "all prepared"
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)
            head = st.queue.head(1)[0][0]
            t0 = time.process_time()
            for k in range(changes):
                await (st.hold(head, "bench") if k % 2 == 0 else st.release(head, "bench"))
                await asyncio.sleep(0.1)
            busy = time.process_time() - t0
            t1 = time.process_time()
            await asyncio.sleep(0.1 * changes)   # as long again without changes: the idle polls
            idle = time.process_time() - t1
        finally:
            await st.stop()
    return max(0.0, busy - idle) / changes * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", default="1000,20000")
    ap.add_argument("--changes", type=int, default=20)
    args = ap.parse_args(argv)
    results = {int(d): asyncio.run(measure(int(d), args.changes)) for d in args.depths.split(",")}
    for depth, ms in results.items():
        print(f"{depth:>6} queued: {ms:.2f} ms CPU per state change")
    first, last = results[min(results)], results[max(results)]
    print(f"ratio {max(results)} / {min(results)}: {last / first:.2f}" if first else "")


if __name__ == "__main__":
    main()
