"""How much database time a /metrics scrape and a retention run take on a year of a station's history.

    python bench/scrape_and_purge.py [--days 365] [--per-day 250]

Builds a database with the real schema (rows inserted directly, 2% of cards spoiled once), then times
on one connection, as the daemon's database thread would run them: the first scrape (folds the whole
history into the incremental caches), a steady scrape (after 20 more cards), the first retention run
on an upgraded station (a year of unpurged jobs) and a steady hourly run.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from printd.clock import StationClock
from printd.ops.retention import BATCH, Retention
from printd.queue.aggregates import Aggregates
from printd.queue.db import Database


def build(db: Database, clock: StationClock, days: int, per_day: int, now: float, seq: int = 0) -> int:
    rng = random.Random(seq)
    jobs, attempts, entries = [], [], []
    start = now - days * 86400
    entries.append((start, clock.day(start), "received", "ktp-el", days * per_day * 2, "external", "safe", None, None,
                    None, "bench", "system"))
    for d in range(days):
        day_t = start + d * 86400 + 8 * 3600
        day = clock.day(day_t)
        entries.extend((day_t, day, "loaded", "ktp-el", per_day, "safe", f"hopper:{printer}", printer, None,
                        None, None, "op") for printer in ("card1", "card2"))
        for k in range(per_day):
            seq += 1
            t = day_t + k * 100
            job_id = f"j_{seq:026d}"
            printer = "card1" if k % 2 else "card2"
            n = 1
            if rng.random() < 0.02:
                attempts.append((job_id, n, printer, "spoiled", "media-jam", t, t + 30))
                entries.append((t + 30, day, "spoiled", "ktp-el", 1, f"hopper:{printer}", "spoiled", printer, job_id,
                                n, "media-jam", "station"))
                n += 1
            attempts.append((job_id, n, printer, "printed", None, t + 30, t + 65))
            entries.append((t + 65, day, "consumed", "ktp-el", 1, f"hopper:{printer}", "printed", printer, job_id, n,
                            None, "station"))
            sha = hashlib.sha256(job_id.encode()).hexdigest()
            jobs.append((job_id, seq, "siak", f"SIAK-{seq}", sha, f"3274011203{seq % 999999:06d}",
                         "3274********0001", f"WARGA {seq}", "ktp-el", "new", "normal", "printed", None, printer, sha,
                         None, None, t, t + 65, t + 65, t + 65, day))
    with db.tx() as c:
        c.executemany("INSERT INTO jobs (id, seq, client, request_id, content_hash, nik, nik_masked, name, card_type,"
                      " reason, priority, state, state_reason, printer, front_sha, back_sha, callback_url, created_at,"
                      " updated_at, printed_at, final_at, day) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      jobs)
        c.executemany("INSERT INTO attempts (job_id, n, printer, outcome, reason, started_at, ended_at)"
                      " VALUES (?,?,?,?,?,?,?)", attempts)
        c.executemany("INSERT INTO ledger (at, day, kind, card_type, count, src, dst, printer, job_id, attempt_n,"
                      " reason, actor) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", entries)
    return seq


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--per-day", type=int, default=250)
    args = ap.parse_args()
    clock = StationClock()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        db = Database(state / "printd.sqlite3")
        n = build(db, clock, args.days, args.per_day, now)
        (state / "images").mkdir()
        print(f"{n} jobs, database {os.path.getsize(state / 'printd.sqlite3') / 1e6:.1f} MB")
        agg = Aggregates(db, clock)
        _, first = timed(agg.snapshot, 7 * 86400.0)
        retention = Retention(db, state, 7 * 86400.0)
        report, batch = timed(retention.run, limit=BATCH, checkpoint=False)
        total = batch
        while report.remaining:
            report, ms = timed(retention.run, limit=BATCH, checkpoint=False)
            total += ms
        _, ms = timed(retention.checkpoint)
        total += ms
        build(db, clock, 1, 20, now + 86400, seq=n)   # 20 more cards
        _, steady = timed(agg.snapshot, 7 * 86400.0)
        _, hourly = timed(retention.run)
        print(f"scrape (database time): first {first:.1f} ms (folds in the history, a year unpurged), "
              f"steady {steady:.1f} ms")
        print(f"retention, first run on a year unpurged: {batch:.0f} ms for the first {BATCH}-job batch, "
              f"{total / 1000:.1f} s for all; steady hourly run: {hourly:.1f} ms")
        db.close()


if __name__ == "__main__":
    main()
