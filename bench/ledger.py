"""What the blangko figures cost on a long ledger: a year of a busy station, every query the stock
view, the alerts, the estimates and the daily report run.

    .venv/bin/python bench/ledger.py [--days 365] [--cards 250]

Builds a throw-away database (one delivery, one load, `--cards` printed, 5 spoiled, 2 old cards
surrendered and the day's destruction per day) and times each query (mean of 5). Compare the shape (which query grows with history), not the milliseconds.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from printd.blangko.alerts import custody_overdue
from printd.blangko.custody import custody_holdings, custody_lots
from printd.blangko.forecast import print_rates, used_on
from printd.blangko.monthly import build_monthly
from printd.blangko.reports import build_daily, flows_today
from printd.blangko.stock import BalanceCache
from printd.config import StationConfig
from printd.queue import ledger
from printd.queue.db import Database
from printd.queue.ledger import EntryKind


def fill(db: Database, days: int, cards: int) -> str:
    """Book `days` days of activity; returns the last day."""
    first = date(2026, 1, 1)
    day = first.isoformat()
    with db.tx() as c:
        for i in range(days):
            day = (first + timedelta(days=i)).isoformat()
            book = functools.partial(ledger.book, c, day=day, card_type="ktp-el", actor="bench")
            book(kind=EntryKind.RECEIVED, count=cards + 5, src="external", dst="safe")
            book(kind=EntryKind.LOADED, count=cards + 5, src="safe", dst="hopper:card1", printer="card1")
            for k in range(cards):
                book(kind=EntryKind.CONSUMED, count=1, src="hopper:card1", dst="printed", printer="card1",
                     job_id=f"j{i}-{k}")
            for _ in range(5):
                book(kind=EntryKind.SPOILED, count=1, src="hopper:card1", dst="rusak", printer="card1",
                     reason="media-jam", category="gagal_cetak")
            book(kind=EntryKind.SURRENDERED, count=2, src="external", dst="rusak", reason="bench")
            # the daily destruction, one entry per category taken (one card of each left for tomorrow)
            book(kind=EntryKind.DESTROYED, count=4, src="rusak", dst="destroyed", category="gagal_cetak")
            book(kind=EntryKind.DESTROYED, count=1, src="rusak", dst="destroyed", reason="surrendered")
    return day


def timed(fn: Callable[[], Any], reps: int = 5) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return round((time.perf_counter() - t0) / reps * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--cards", type=int, default=250)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.sqlite3")
        last = fill(db, args.days, args.cards)
        conn = db.conn
        cache = BalanceCache()
        out: dict[str, Any] = {"entries": conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]}
        out["ms"] = {
            "daily_report": timed(lambda: build_daily(conn, last, printers=["card1", "card2"], station="s",
                                                      office="o", final=True, day_end=2e9)),
            "full_balances": timed(lambda: ledger.balances(conn)),
            "balance_cache_first_fold": timed(lambda: cache.refresh(conn), reps=1),
            "balance_cache_next": timed(lambda: cache.refresh(conn)),
            "flows_today": timed(lambda: flows_today(conn, last)),
            "rate_7_working_days": timed(lambda: print_rates(conn, StationConfig(), date.fromisoformat(last))),
            "used_today": timed(lambda: used_on(conn, last)),
            "hopper_card_types (dispatch, core)": timed(lambda: ledger.hopper_card_types(conn, "card1")),
            "monthly_report": timed(lambda: build_monthly(conn, last[:7], today=last, printers=["card1", "card2"],
                                                          station="s", office="o")),
            "custody_holdings (stock view)": timed(lambda: custody_holdings(conn, "ktp-el")),
            "custody_lots (a destruction)": timed(lambda: custody_lots(conn, "ktp-el")),
            "custody_overdue (alerts, every event)": timed(lambda: custody_overdue(db, last)),
        }
        db.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
